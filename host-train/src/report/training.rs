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
    /// The hop (samples) the windows were replayed at: the policy's debounce and calm count
    /// windows of it. Records written before it was stored chose at 1 s.
    #[serde(default = "legacy_hop")]
    pub hop_samples: usize,
}

fn legacy_hop() -> usize {
    cry_core::contract::LEGACY_HOP_SAMPLES
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_a_hop_chose_its_policy_at_one_second() {
        let json = r#"{"policy":{"threshold":0.9,"release":0.72,"debounce":2,"calm_windows":3,
            "smoothing":3},"max_false_alarms_per_hour":1.0,"chosen_on":"x","figures":{
            "false_alarms":0,"non_cry_hours":1.0,"false_alarms_per_hour":0.0,"cry_clips":1,
            "cry_clips_alerted":1,"share_alerted":1.0,"median_seconds_to_alert":4.0}}"#;
        let old: TrainedDetection = serde_json::from_str(json).unwrap();
        assert_eq!(old.hop_samples, cry_core::contract::LEGACY_HOP_SAMPLES);
        let mut new = old.clone();
        new.hop_samples = cry_core::contract::HOP_SAMPLES;
        let back: TrainedDetection =
            serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back.hop_samples, 32_000);
    }
}
