//! `host-train train`: choose a configuration by cross-validation over all the data, fit it on
//! all the data, and save the model in the Hugging Face layout with a `training.json`.
//!
//! The CV here only chooses; it is not an estimate of performance (every clip helped choose).
//! The honest estimate is `nested-cv`'s report, whose hash `--report` records.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cry_core::audio::LoadOptions;
use serde::Serialize;

use super::baselines::load_dataset;
use super::tune::{FineTune, session, starting_model};
use crate::cv::{InnerFold, stratified_group_kfold};
use crate::data::DataSource;
use crate::model::checkpoint::{Checkpoint, HubertModelKind};
use crate::report::{DataSummary, ModelInfo, random_init_warning, write_json};
use crate::train::fit::{EpochLog, FitSettings};
use crate::train::grid::{Grid, HyperParams};
use crate::train::session::Selection;
use crate::{progress, seed};

/// Everything `train` needs, validated.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Where the clips are.
    pub data: DataSource,
    /// How clips are decoded.
    pub load: LoadOptions,
    /// Folds of the selection CV.
    pub folds: usize,
    /// Run seed.
    pub seed: u64,
    /// Starting model, grid, fit settings, crops, cache.
    pub tune: FineTune,
    /// A `nested-cv` `report.json` evaluating this recipe, hashed into `training.json`.
    pub report: Option<PathBuf>,
    /// The model directory to write.
    pub out: PathBuf,
    /// Working files (units, cache, random-init model); resumable.
    pub work: PathBuf,
    /// The command line.
    pub command: String,
}

/// Identifies the `training.json` layout.
pub const TRAINING_SCHEMA: &str = "cry-training/1";

/// `training.json`, written beside the model.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingRecord {
    /// [`TRAINING_SCHEMA`].
    pub schema: &'static str,
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
}

/// Runs `train` and returns what it wrote into `training.json`.
pub fn run(
    config: &TrainConfig,
    device_choice: crate::backend::DeviceChoice,
) -> anyhow::Result<TrainingRecord> {
    let device = device_choice.device().autodiff();
    let report_hash = match &config.report {
        Some(path) => Some(
            std::fs::read(path)
                .map(|bytes| blake3::hash(&bytes).to_hex().to_string())
                .with_context(|| format!("cannot read the report {}", path.display()))?,
        ),
        None => None,
    };
    let dataset = load_dataset(&config.data, &config.load)?;
    std::fs::create_dir_all(&config.work)
        .with_context(|| format!("failed to create {}", config.work.display()))?;
    write_json(&config.work.join("skipped.json"), &dataset.skipped)?;
    let labels = dataset.label_indices();
    let groups = dataset.group_names();
    let split = stratified_group_kfold(
        &labels,
        &groups,
        dataset.labels.len(),
        config.folds,
        seed::derive(config.seed, &[seed::tag("selection")]),
    )?;
    let all: Vec<usize> = (0..labels.len()).collect();
    let folds: Vec<InnerFold> = (0..config.folds)
        .map(|f| InnerFold {
            train: all
                .iter()
                .copied()
                .filter(|&i| split.fold[i] != f)
                .collect(),
            test: split.members(f),
        })
        .collect();

    let start = starting_model(
        &config.tune,
        &config.work,
        config.seed,
        dataset.labels.names(),
        &device,
    )?;
    let session = session(
        &start,
        &dataset,
        &config.tune,
        &config.load,
        config.seed,
        &config.work,
        device,
    )?;
    let units = progress::bar("fits");
    units.set_length((config.tune.grid.points().len() * config.folds + 1) as u64);
    let epochs = progress::bar("epochs");
    let selection = session.select(
        &config.work.join("units").join("selection"),
        &folds,
        &[seed::tag("selection")],
        &units,
        &epochs,
    )?;
    let (hp, _) = selection.scores[selection.chosen];
    log::info!("chose {hp}; fitting on all {} clips", labels.len());
    let (outcome, _) = session.fit(&all, &hp, &[seed::tag("final")], &epochs);
    units.finish_and_clear();
    epochs.finish_and_clear();

    let checkpoint = Checkpoint {
        config: start.config.clone(),
        preprocessor: start.preprocessor.clone(),
        model: HubertModelKind::Classifier(outcome.model),
        weights_path: PathBuf::new(),
        masked_spec_embed: start.masked_spec_embed.clone(),
    };
    let record = TrainingRecord {
        schema: TRAINING_SCHEMA,
        warning: random_init_warning(&start.info),
        generated_by: format!("host-train {}", env!("CARGO_PKG_VERSION")),
        command: config.command.clone(),
        model: start.info,
        data: DataSummary::new(
            &dataset,
            config
                .data
                .manifest
                .as_ref()
                .map(|p| p.display().to_string()),
        ),
        seed: config.seed,
        grid: config.tune.grid.clone(),
        folds: config.folds,
        selection,
        configuration: hp,
        fit: config.tune.fit.clone(),
        crop_seconds: config.tune.crop_seconds,
        n_fit: outcome.n_fit,
        n_validation: outcome.n_validation,
        best_epoch: outcome.best_epoch,
        history: outcome.history,
        report_hash,
        report: config.report.as_ref().map(|p| p.display().to_string()),
    };
    save_atomically(&checkpoint, &record, &config.out)?;
    log::info!("wrote {}", config.out.display());
    Ok(record)
}

/// Saves the model and `training.json` into a sibling temporary directory, then swaps it into
/// place, so a killed run never leaves a half-written model where a complete one is expected.
fn save_atomically(
    checkpoint: &Checkpoint,
    record: &TrainingRecord,
    out: &Path,
) -> anyhow::Result<()> {
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    checkpoint.save(&tmp)?;
    write_json(&tmp.join("training.json"), record)?;
    if out.exists() {
        std::fs::remove_dir_all(out)
            .with_context(|| format!("failed to replace {}", out.display()))?;
    }
    std::fs::rename(&tmp, out).with_context(|| format!("failed to write {}", out.display()))
}
