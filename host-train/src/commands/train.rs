//! `host-train train`: choose a configuration by cross-validation over all the data, fit it on
//! all the data, and save the model in the Hugging Face layout with a `training.json`.
//!
//! The CV here only chooses; it is not an estimate of performance (every clip helped choose).
//! The honest estimate is `nested-cv`'s report, whose hash `--report` records.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cry_core::audio::LoadOptions;

use crate::backend::DeviceChoice;
use crate::cv::{InnerFold, held_out_kfold};
use crate::data::{DataSource, Targets};
use crate::error::Result;
use crate::eval::detection::{alert_figures, choose_threshold};
use crate::fsx;
use crate::model::checkpoint::{Checkpoint, HubertModelKind};
use crate::report::{
    DataSummary, TRAINING_FILE, TRAINING_SCHEMA, TrainedDetection, TrainingRecord,
    random_init_warning, write_json,
};
use crate::run::RunDir;
use crate::run::dataset::load_dataset;
use crate::run::tune::{FineTune, session, starting_model};
use crate::{progress, seed};
use cry_core::alerts::AlertPolicy;

/// Everything `train` needs, validated.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Where the clips are.
    pub data: DataSource,
    /// How clips are decoded.
    pub load: LoadOptions,
    /// The false-alarm budget the cry threshold is chosen for (per hour of non-cry audio).
    pub max_false_alarms_per_hour: f64,
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
    pub work: RunDir,
    /// The command line.
    pub command: String,
}

/// Runs `train` and returns what it wrote into `training.json`.
pub fn run(config: &TrainConfig, device_choice: DeviceChoice) -> Result<TrainingRecord> {
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
    let targets = Targets::new(&dataset.labels)?;
    if targets.detection() {
        log::info!(
            "not_cry clips present: training a cry head next to the reason head ({} reasons)",
            targets.reasons().len()
        );
    }
    let work = &config.work;
    fsx::create_dir_all(work.root())?;
    write_json(&work.skipped(), &dataset.skipped)?;
    let labels = dataset.label_indices();
    let groups = dataset.group_names();
    let split = held_out_kfold(
        &labels,
        &groups,
        &dataset.eligible(),
        dataset.labels.len(),
        config.folds,
        seed::derive(config.seed, &[seed::tag("selection")]),
    )?;
    let all: Vec<usize> = (0..labels.len()).collect();
    let folds: Vec<InnerFold> = (0..config.folds)
        .map(|f| InnerFold {
            train: split.train(f),
            test: split.test(f),
        })
        .collect();

    let start = starting_model(&config.tune, work, config.seed, &targets, &device)?;
    let session = session(
        &start,
        &dataset,
        &config.tune,
        &config.load,
        config.seed,
        work,
        device,
    )?;
    let units = progress::bar("fits");
    units.set_length((config.tune.grid.points().len() * config.folds + 1) as u64);
    let epochs = progress::bar("epochs");
    let units_dir = work.selection();
    let selection = session.select(
        |i, c| units_dir.inner_unit(i, c),
        &folds,
        &[seed::tag("selection")],
        &units,
        &epochs,
    )?;
    let (hp, _) = selection.scores[selection.chosen];
    let detection = if targets.detection() {
        // Every clip was held out once in the selection CV: its windows' cry probabilities
        // under the chosen configuration are the inner data the threshold is chosen on.
        let mut clips = Vec::with_capacity(labels.len());
        for (i, unit) in selection.chosen_units.iter().enumerate() {
            let held_out = unit
                .detection_clips(
                    |c| session.targets[c].is_cry(),
                    |c| dataset.clips[c].seconds,
                )
                .with_context(|| {
                    let file = units_dir.inner_unit(i, selection.chosen);
                    format!("{} has no cry logits", file.display())
                })?;
            clips.extend(held_out);
        }
        let base = AlertPolicy::default();
        let policy = base.with_threshold(choose_threshold(
            &clips,
            base,
            config.max_false_alarms_per_hour,
        ));
        let figures = alert_figures(&clips, policy);
        log::info!(
            "cry threshold {:.3} for at most {} false alarms per hour: on the held-out parts, \
             {} false alarms in {:.2} h of non-cry audio, {}/{} cry clips alerted",
            policy.threshold,
            config.max_false_alarms_per_hour,
            figures.false_alarms,
            figures.non_cry_hours,
            figures.cry_clips_alerted,
            figures.cry_clips
        );
        Some(TrainedDetection {
            policy,
            max_false_alarms_per_hour: config.max_false_alarms_per_hour,
            chosen_on: format!(
                "the held-out parts of the {}-fold selection CV ({} clips), configuration {hp}",
                config.folds,
                clips.len()
            ),
            figures,
            hop_samples: cry_core::contract::HOP_SAMPLES,
        })
    } else {
        None
    };
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
        schema: TRAINING_SCHEMA.into(),
        warning: random_init_warning(&start.info),
        generated_by: format!("host-train {}", env!("CARGO_PKG_VERSION")),
        command: config.command.clone(),
        model: start.info,
        data: DataSummary::new(&dataset, &config.data, &config.load),
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
        detection,
    };
    save_atomically(&checkpoint, &record, &config.out)?;
    log::info!("wrote {}", config.out.display());
    Ok(record)
}

/// Saves the model and its record into a temporary directory swapped into place, so a killed
/// run never leaves a half-written model where a complete one is expected.
fn save_atomically(checkpoint: &Checkpoint, record: &TrainingRecord, out: &Path) -> Result<()> {
    fsx::write_dir(out, |tmp| -> Result<()> {
        checkpoint.save(tmp)?;
        Ok(write_json(&tmp.join(TRAINING_FILE), record)?)
    })
}
