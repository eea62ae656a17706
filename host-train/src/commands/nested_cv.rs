//! `host-train nested-cv`: fine-tune and evaluate with nested, leakage-safe cross-validation.
//!
//! The output directory holds the run (see [`RunDir`]): its definition, one JSON file per
//! finished unit of work, the random-init checkpoint when no pretrained one is given, and at
//! the end the report and the plots.

use std::path::PathBuf;

use cry_core::audio::LoadOptions;
use indicatif::MultiProgress;

use crate::backend::DeviceChoice;
use crate::data::{DataSource, Dataset, Targets};
use crate::error::Result;
use crate::eval::detection::stream_window_levels;
use crate::fsx;
use crate::report::detection::{ClipFacts, DetectionInputs};
use crate::report::{CvSummary, DataSummary, FoldsFile, NestedReport, OuterResult, write_json};
use crate::run::dataset::{load_dataset, split_and_record};
use crate::run::report::{build_report, write_report};
use crate::run::spec::{RUN_SCHEMA, RunSpec};
use crate::run::tune::{FineTune, session, starting_model};
use crate::run::{RunDir, RunError};
use crate::{progress, seed};

/// Everything `nested-cv` needs, validated.
#[derive(Debug, Clone)]
pub struct NestedCvConfig {
    /// Where the clips are.
    pub data: DataSource,
    /// How clips are decoded.
    pub load: LoadOptions,
    /// Outer folds.
    pub outer: usize,
    /// Inner folds.
    pub inner: usize,
    /// Run seed.
    pub seed: u64,
    /// Starting model, grid, fit settings, crops, cache.
    pub tune: FineTune,
    /// Run only this outer fold.
    pub outer_fold: Option<usize>,
    /// Continue a run in `out`.
    pub resume: bool,
    /// Output directory.
    pub out: PathBuf,
    /// Seeds per fold for the random baselines.
    pub random_seeds: usize,
    /// With a cry head: the false-alarm budget per hour its thresholds are chosen for.
    pub max_false_alarms_per_hour: f64,
    /// The command line.
    pub command: String,
}

/// Runs (or resumes) the job; writes the report when every outer fold is done and returns it.
pub fn run(config: &NestedCvConfig, device_choice: DeviceChoice) -> Result<Option<NestedReport>> {
    let plain = device_choice.device();
    let device = plain.clone().autodiff();
    if let Some(k) = config.outer_fold
        && k >= config.outer
    {
        return Err(RunError::NoSuchFold {
            fold: k,
            outer: config.outer,
        }
        .into());
    }
    let dataset = load_dataset(&config.data, &config.load)?;
    let targets = Targets::new(&dataset.labels)?;
    let run = RunDir::new(&config.out);
    let existing = run.holds_run();
    if existing && !config.resume {
        return Err(RunError::Exists {
            dir: config.out.clone(),
        }
        .into());
    }
    fsx::create_dir_all(run.root())?;
    let splits = split_and_record(&dataset, config.outer, config.inner, config.seed, &run)?;

    let start = starting_model(&config.tune, &run, config.seed, &targets, &device)?;

    let spec = RunSpec {
        schema: RUN_SCHEMA.into(),
        command: config.command.clone(),
        model: start.info.clone(),
        grid: config.tune.grid.clone(),
        fit: config.tune.fit.clone(),
        crop_seconds: config.tune.crop_seconds,
        seed: config.seed,
        random_seeds: config.random_seeds,
        data: DataSummary::new(&dataset, &config.data, &config.load),
        cv: CvSummary::new(&splits, config.inner, config.seed),
        clips: FoldsFile::entries(&dataset, &(0..dataset.clips.len()).collect::<Vec<_>>()),
        labels: dataset.label_indices(),
        splits: splits.outer.clone(),
        outer_fold: config.outer_fold,
        max_false_alarms_per_hour: targets
            .detection()
            .then_some(config.max_false_alarms_per_hour),
    };
    let spec = if existing {
        let previous = RunSpec::read(&run)?;
        let changed = previous.differences(&spec);
        if !changed.is_empty() {
            return Err(RunError::Changed {
                dir: config.out.clone(),
                fields: changed,
            }
            .into());
        }
        RunSpec {
            command: previous.command,
            ..spec
        }
    } else {
        write_json(&run.spec(), &spec)?;
        spec
    };

    if targets.detection() && !run.detection_inputs().is_file() {
        write_json(
            &run.detection_inputs(),
            &detection_inputs(&dataset, &config.data, &config.load)?,
        )?;
    }

    let folds: Vec<usize> = match config.outer_fold {
        Some(k) => vec![k],
        None => (0..config.outer).collect(),
    };
    let pending: Vec<usize> = folds
        .iter()
        .copied()
        .filter(|&k| !run.outer(k).result().is_file())
        .collect();
    if !pending.is_empty() {
        let session = session(
            &start,
            &dataset,
            &config.tune,
            &config.load,
            config.seed,
            &run,
            device,
        )?;
        let multi = MultiProgress::new();
        let fold_bar = multi.add(progress::bar("outer folds"));
        fold_bar.set_length(pending.len() as u64);
        let unit_bar = multi.add(progress::bar("fits"));
        let points = config.tune.grid.points().len();
        unit_bar.set_length((pending.len() * (points * config.inner + 1)) as u64);
        let epoch_bar = multi.add(progress::bar("epochs"));
        for &k in &pending {
            let fold = &splits.outer[k];
            let units = run.outer(k);
            let selection = session.select(
                |i, c| units.inner_unit(i, c),
                &fold.inner,
                &[seed::tag("outer"), k as u64],
                &unit_bar,
                &epoch_bar,
            )?;
            let (hp, _) = selection.scores[selection.chosen];
            unit_bar.set_message(format!("refit {hp}"));
            log::info!("outer fold {k}: chose {hp}");
            let (refit, _) = session.unit(
                &units.refit(),
                &fold.train,
                &fold.test,
                &hp,
                &[seed::tag("refit"), k as u64],
                &epoch_bar,
            )?;
            unit_bar.inc(1);
            write_json(
                &units.result(),
                &OuterResult {
                    fold: k,
                    selection,
                    refit,
                },
            )?;
            fold_bar.inc(1);
        }
        multi.clear().ok();
    }

    if config.outer_fold.is_some() {
        log::info!(
            "outer fold done; combine the folds with `host-train merge --out DIR {}...`",
            config.out.display()
        );
        return Ok(None);
    }
    let report = build_report(&spec, std::slice::from_ref(&run))?;
    write_report(&run, &report)?;
    Ok(Some(report))
}

/// Every clip's length, stream-window levels (what the energy gate measures, after the same
/// decoding, resampling and `--bandwidth` as the model's input) and source dataset.
fn detection_inputs(
    dataset: &Dataset,
    source: &DataSource,
    load: &LoadOptions,
) -> Result<DetectionInputs> {
    let several = !source.also.is_empty();
    let only = source
        .root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| source.root.display().to_string());
    let bar = progress::bar("levels");
    bar.set_length(dataset.clips.len() as u64);
    let mut clips = Vec::with_capacity(dataset.clips.len());
    for clip in &dataset.clips {
        let audio = cry_core::load_clip(&clip.path, load)?;
        clips.push(ClipFacts {
            seconds: audio.samples.len() as f64 / f64::from(cry_core::contract::SAMPLE_RATE_HZ),
            levels_dbfs: stream_window_levels(&audio.samples),
            source: if several {
                clip.rel.split('/').next().unwrap_or_default().to_string()
            } else {
                only.clone()
            },
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(DetectionInputs { clips })
}
