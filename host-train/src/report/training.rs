//! `training.json`: how a model saved by `train` was made. `export` reads it back to carry the
//! evaluating report's hash into the ONNX metadata.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{DataSummary, ModelInfo};
use crate::eval::detection::AlertFigures;
use crate::train::fit::{EpochLog, FitSettings};
use crate::train::grid::{Grid, HyperParams};
use crate::train::session::Selection;

/// Identifies the `training.json` layout.
pub const TRAINING_SCHEMA: &str = "cry-training/1";

/// Its file name, inside the model directory.
pub const TRAINING_FILE: &str = "training.json";

/// `training.json`, written beside the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// [`TRAINING_SCHEMA`].
    pub schema: String,
    /// Present when the model started from random weights.
    pub warning: Option<String>,
    /// `host-train <version>`.
    pub generated_by: String,
    /// The command line.
    pub command: String,
    /// The starting model.
    pub model: ModelInfo,
    /// The data it was trained on.
    pub data: DataSummary,
    /// Run seed.
    pub seed: u64,
    /// Grid searched.
    pub grid: Grid,
    /// Folds of the selection CV.
    pub folds: usize,
    /// Its scores and choice (not a performance estimate).
    pub selection: Selection,
    /// The configuration fitted.
    pub configuration: HyperParams,
    /// Fit settings.
    pub fit: FitSettings,
    /// Crop length and crop-grid step, seconds.
    pub crop_seconds: (f64, f64),
    /// Clips fitted on and held out for early stopping in the final fit.
    pub n_fit: usize,
    /// Clips held out for early stopping in the final fit.
    pub n_validation: usize,
    /// Epoch kept.
    pub best_epoch: usize,
    /// Every epoch of the final fit.
    pub history: Vec<EpochLog>,
    /// BLAKE3 of the `nested-cv` report given with `--report`.
    pub report_hash: Option<String>,
    /// That report's path as given.
    pub report: Option<String>,
    /// With a cry head: the alert policy chosen for it, stored with the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<TrainedDetection>,
}

/// How a two-head model's cry threshold was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedDetection {
    /// The policy `export` writes into the ONNX metadata.
    pub policy: cry_core::alerts::AlertPolicy,
    /// The false-alarm budget it was chosen for (`--max-false-alarms-per-hour`).
    pub max_false_alarms_per_hour: f64,
    /// What it was chosen on.
    pub chosen_on: String,
    /// The alerts at that threshold on the same clips (a fit to the budget, not an estimate).
    pub figures: AlertFigures,
}

impl TrainingRecord {
    /// The record in the model directory `model`, if it has a readable one.
    pub fn read(model: &Path) -> Option<Self> {
        let path = model.join(TRAINING_FILE);
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str(&text) {
            Ok(record) => Some(record),
            Err(e) => {
                log::warn!("ignoring {}: {e}", path.display());
                None
            }
        }
    }
}
