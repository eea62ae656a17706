//! `host-train nested-cv`: fine-tune and evaluate with nested, leakage-safe cross-validation.
//!
//! The output directory holds the run: `run.json` (everything that defines it), `units/`
//! (one JSON file per finished unit of work), `init-model/` (the random-init checkpoint when no
//! `--pretrained` is given), and at the end `report.json`, `report.md` and the plots.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::module::Module;
use burn::prelude::*;
use cry_core::audio::LoadOptions;
use cry_core::contract::SAMPLE_RATE_HZ;
use indicatif::MultiProgress;
use serde::{Deserialize, Serialize};

use super::baselines::load_dataset;
use super::init::ConfigSource;
use crate::cli::UsageError;
use crate::cv::{NestedSplits, OuterFold};
use crate::data::{DataSource, Dataset};
use crate::eval::score_baselines;
use crate::model::HubertForSequenceClassification;
use crate::model::boundary::Boundary;
use crate::model::checkpoint::{Checkpoint, HubertModelKind, weights_file};
use crate::report::{
    CvSummary, DataSummary, FoldEntry, FoldsFile, ModelInfo, NestedReport, OuterResult,
    ReportInputs, write_json, write_text,
};
use crate::train::cache::{FeatureCache, checkpoint_hash};
use crate::train::features::{CacheStats, FeatureSource, WindowPlan};
use crate::train::fit::FitSettings;
use crate::train::grid::Grid;
use crate::train::session::Session;
use crate::{plots, progress, seed};

/// Where the starting model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A checkpoint directory (resolved from a path or hub id).
    Pretrained {
        /// The directory.
        dir: PathBuf,
        /// As given on the command line.
        given: String,
    },
    /// Random weights for an architecture (written to `init-model/`).
    Random(ConfigSource),
}

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
    /// Starting model.
    pub model: ModelSource,
    /// Hyperparameter grid.
    pub grid: Grid,
    /// Settings shared by every fit.
    pub fit: FitSettings,
    /// Crop length and crop-grid step, seconds.
    pub crop_seconds: (f64, f64),
    /// Run only this outer fold.
    pub outer_fold: Option<usize>,
    /// Continue a run in `out`.
    pub resume: bool,
    /// Output directory.
    pub out: PathBuf,
    /// Feature cache directory.
    pub cache: PathBuf,
    /// Seeds per fold for the random baselines.
    pub random_seeds: usize,
    /// The command line.
    pub command: String,
}

/// `run.json`: what defines a run. Resuming and merging require it to match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Layout version.
    pub schema: String,
    /// The command that started it.
    pub command: String,
    /// Starting model.
    pub model: ModelInfo,
    /// Grid.
    pub grid: Grid,
    /// Fit settings.
    pub fit: FitSettings,
    /// Crop length and crop-grid step, seconds.
    pub crop_seconds: (f64, f64),
    /// Run seed.
    pub seed: u64,
    /// Seeds per fold for the random baselines.
    pub random_seeds: usize,
    /// Data summary.
    pub data: DataSummary,
    /// Split summary.
    pub cv: CvSummary,
    /// Every clip, in index order.
    pub clips: Vec<FoldEntry>,
    /// Class of every clip.
    pub labels: Vec<usize>,
    /// The nested split (indices into `clips`).
    pub splits: Vec<OuterFold>,
    /// The one outer fold this job runs, if not all.
    pub outer_fold: Option<usize>,
}

/// Identifies the `run.json` layout.
pub const RUN_SCHEMA: &str = "cry-nested-cv-run/1";

impl RunSpec {
    /// The fields in which two specs differ, apart from the command line and which outer fold
    /// a job runs (compared as JSON, as they are stored).
    pub fn differences(&self, other: &RunSpec) -> Vec<String> {
        let json = |s: &RunSpec| {
            serde_json::to_value(RunSpec {
                command: String::new(),
                outer_fold: None,
                ..s.clone()
            })
            .expect("serialisable")
        };
        let (a, b) = (json(self), json(other));
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            unreachable!("a struct serialises to an object")
        };
        a.iter()
            .filter(|(k, v)| b.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Reads `DIR/run.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("run.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{} is not a nested-cv run (no run.json)", dir.display()))?;
        serde_json::from_str(&text).with_context(|| format!("invalid {}", path.display()))
    }

    fn seconds_pair(&self) -> (f64, f64) {
        self.crop_seconds
    }
}

/// `DIR/units/outer-<k>/`.
fn outer_dir(out: &Path, fold: usize) -> PathBuf {
    out.join("units").join(format!("outer-{fold}"))
}

/// `DIR/units/outer-<k>/outer.json`.
fn outer_file(out: &Path, fold: usize) -> PathBuf {
    outer_dir(out, fold).join("outer.json")
}

/// `DIR/units/features.json`: how long caching took in this directory's first run.
fn features_file(out: &Path) -> PathBuf {
    out.join("units").join("features.json")
}

/// The checkpoint directory to start from, creating the random-init one when needed.
fn model_dir(config: &NestedCvConfig, device: &Device) -> anyhow::Result<(PathBuf, String)> {
    match &config.model {
        ModelSource::Pretrained { dir, given } => Ok((dir.clone(), given.clone())),
        ModelSource::Random(source) => {
            let dir = config.out.join("init-model");
            let name = format!(
                "random-init {} (host-train init, seed {})",
                source.name(),
                config.seed
            );
            if !dir.join("config.json").is_file() {
                let (hubert, preprocessor) = source.load()?;
                let checkpoint = Checkpoint::random(
                    hubert,
                    preprocessor,
                    None,
                    seed::derive(config.seed, &[seed::tag("init")]),
                    device,
                )?;
                let tmp = config.out.join("init-model.partial");
                let _ = std::fs::remove_dir_all(&tmp);
                checkpoint.save(&tmp)?;
                std::fs::rename(&tmp, &dir)
                    .with_context(|| format!("failed to write {}", dir.display()))?;
            }
            Ok((dir, name))
        }
    }
}

/// The checkpoint as a classifier for `labels`.
fn classifier(checkpoint: Checkpoint, labels: &[String], device: &Device) -> Session0 {
    let mut config = checkpoint.config;
    config.set_labels(labels);
    let model = match checkpoint.model {
        HubertModelKind::Classifier(mut m) => {
            // The head is re-initialised per fit anyway; size it for these labels.
            let fresh = HubertForSequenceClassification::new(&config, device);
            m.classifier = fresh.classifier;
            m
        }
        HubertModelKind::Base(hubert) => {
            let mut m = HubertForSequenceClassification::new(&config, device);
            m.hubert = hubert;
            m
        }
    };
    Session0 {
        config,
        normalize: checkpoint.preprocessor.do_normalize,
        model,
    }
}

struct Session0 {
    config: crate::model::HubertConfig,
    normalize: bool,
    model: HubertForSequenceClassification,
}

/// Runs (or resumes) the job; writes the report when every outer fold is done and returns it.
pub fn run(
    config: &NestedCvConfig,
    device_choice: crate::backend::DeviceChoice,
) -> anyhow::Result<Option<NestedReport>> {
    let plain = device_choice.device();
    let device = plain.clone().autodiff();
    let dataset = load_dataset(&config.data, &config.load)?;
    let out = &config.out;
    let existing = out.join("run.json").is_file();
    if existing && !config.resume {
        return Err(UsageError {
            arg: "--out",
            reason: format!(
                "{} already holds a run; add --resume to continue it, or choose another directory",
                out.display()
            ),
        }
        .into());
    }
    std::fs::create_dir_all(out).with_context(|| format!("failed to create {}", out.display()))?;
    write_json(&out.join("skipped.json"), &dataset.skipped)?;

    let splits = NestedSplits::new(
        &dataset.label_indices(),
        &dataset.group_names(),
        dataset.labels.names(),
        config.outer,
        config.inner,
        config.seed,
    )?;
    for warning in &splits.warnings {
        log::warn!("{warning}");
    }
    if let Some(k) = config.outer_fold
        && k >= config.outer
    {
        return Err(UsageError {
            arg: "--outer-fold",
            reason: format!("fold {k} does not exist with --outer {}", config.outer),
        }
        .into());
    }
    write_json(&out.join("folds.json"), &FoldsFile::new(&dataset, &splits))?;

    let (dir, source) = model_dir(config, &plain)?;
    let hash = checkpoint_hash(&dir.join("config.json"), &weights_file(&dir)?)
        .with_context(|| format!("failed to hash {}", dir.display()))?;
    let checkpoint = Checkpoint::load(&dir, &device)?;
    let random_init = checkpoint.is_random_init();
    if random_init {
        log::warn!("{source}: not pretrained; the report will say so in its first line");
    }
    let Session0 {
        config: model_config,
        normalize,
        model: base,
    } = classifier(checkpoint, dataset.labels.names(), &device);
    let boundaries = grid_boundaries(&config.grid, &model_config)?;

    let spec = RunSpec {
        schema: RUN_SCHEMA.into(),
        command: config.command.clone(),
        model: ModelInfo {
            source,
            checkpoint_hash: hash.clone(),
            random_init,
            layers: model_config.num_hidden_layers,
            hidden_size: model_config.hidden_size,
        },
        grid: config.grid.clone(),
        fit: config.fit.clone(),
        crop_seconds: config.crop_seconds,
        seed: config.seed,
        random_seeds: config.random_seeds,
        data: DataSummary::new(
            &dataset,
            config
                .data
                .manifest
                .as_ref()
                .map(|p| p.display().to_string()),
        ),
        cv: CvSummary::new(&splits, config.inner, config.seed),
        clips: FoldsFile::entries(&dataset, &(0..dataset.clips.len()).collect::<Vec<_>>()),
        labels: dataset.label_indices(),
        splits: splits.outer.clone(),
        outer_fold: config.outer_fold,
    };
    let spec = if existing {
        let previous = RunSpec::read(out)?;
        let changed = previous.differences(&spec);
        anyhow::ensure!(
            changed.is_empty(),
            "{} holds a different run ({} changed); --resume needs the same data, model and \
             arguments",
            out.display(),
            changed.join(", ")
        );
        RunSpec {
            command: previous.command,
            ..spec
        }
    } else {
        write_json(&out.join("run.json"), &spec)?;
        spec
    };

    let folds: Vec<usize> = match config.outer_fold {
        Some(k) => vec![k],
        None => (0..config.outer).collect(),
    };
    let pending: Vec<usize> = folds
        .iter()
        .copied()
        .filter(|&k| !outer_file(out, k).is_file())
        .collect();
    if !pending.is_empty() {
        let plan = WindowPlan {
            crop: (config.crop_seconds.0 * f64::from(SAMPLE_RATE_HZ)).round() as usize,
            crop_stride: (config.crop_seconds.1 * f64::from(SAMPLE_RATE_HZ)).round() as usize,
        };
        let session = prepare_session(
            &dataset,
            &model_config,
            normalize,
            base,
            &hash,
            plan,
            &boundaries,
            config,
            device,
        )?;
        let multi = MultiProgress::new();
        let fold_bar = multi.add(progress::bar("outer folds"));
        fold_bar.set_length(pending.len() as u64);
        let unit_bar = multi.add(progress::bar("fits"));
        let points = config.grid.points().len();
        unit_bar.set_length((pending.len() * (points * config.inner + 1)) as u64);
        let epoch_bar = multi.add(progress::bar("epochs"));
        for &k in &pending {
            let fold = &splits.outer[k];
            let dir = outer_dir(out, k);
            let selection = session.select(
                &dir,
                &fold.inner,
                &[seed::tag("outer"), k as u64],
                &unit_bar,
                &epoch_bar,
            )?;
            let (hp, _) = selection.scores[selection.chosen];
            unit_bar.set_message(format!("refit {hp}"));
            log::info!("outer fold {k}: chose {hp}");
            let (refit, _) = session.unit(
                &dir.join("refit.json"),
                &fold.train,
                &fold.test,
                &hp,
                &[seed::tag("refit"), k as u64],
                &epoch_bar,
            )?;
            unit_bar.inc(1);
            write_json(
                &outer_file(out, k),
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
            out.display()
        );
        return Ok(None);
    }
    let report = build_report(&spec, std::slice::from_ref(out))?;
    write_report(out, &report)?;
    Ok(Some(report))
}

/// Every boundary the grid needs, checked against the model.
fn grid_boundaries(
    grid: &Grid,
    config: &crate::model::HubertConfig,
) -> anyhow::Result<Vec<Boundary>> {
    let mut out = Vec::new();
    for depth in &grid.depth {
        let boundary = depth
            .boundary(config.num_hidden_layers)
            .map_err(|reason| UsageError {
                arg: "--grid",
                reason,
            })?;
        if config.use_weighted_layer_sum && boundary != Boundary::Conv {
            return Err(UsageError {
                arg: "--grid",
                reason: format!(
                    "depth {depth} with use_weighted_layer_sum: the layer weights read every \
                     hidden state; use depth \"all\""
                ),
            }
            .into());
        }
        if !out.contains(&boundary) {
            out.push(boundary);
        }
    }
    out.sort();
    Ok(out)
}

/// Computes (or reads from the cache) the frozen features and returns the session.
#[allow(clippy::too_many_arguments)]
fn prepare_session(
    dataset: &Dataset,
    model_config: &crate::model::HubertConfig,
    normalize: bool,
    base: HubertForSequenceClassification,
    hash: &str,
    plan: WindowPlan,
    boundaries: &[Boundary],
    config: &NestedCvConfig,
    device: Device,
) -> anyhow::Result<Session> {
    let plain = device.clone().inner();
    let frozen = base.valid();
    let source = FeatureSource {
        model: &frozen,
        config: model_config,
        normalize,
        checkpoint_hash: hash,
        load: &config.load,
        plan,
    };
    let bar = progress::bar("caching");
    bar.set_length(dataset.clips.len() as u64);
    let names: Vec<String> = boundaries.iter().map(|b| b.name()).collect();
    log::info!(
        "frozen features for {} clips at {} (cache {})",
        dataset.clips.len(),
        names.join(", "),
        config.cache.display()
    );
    let (features, stats) = source.compute(
        &dataset.clips,
        boundaries,
        &FeatureCache::new(&config.cache),
        &plain,
        |done| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    log::info!(
        "features: {} computed, {} from the cache, {:.1} s",
        stats.computed,
        stats.hits,
        stats.seconds
    );
    // The first run's figure is the one that measured the work; a resume mostly reads.
    let file = features_file(&config.out);
    if !file.is_file() {
        std::fs::create_dir_all(file.parent().expect("units dir"))?;
        write_json(&file, &stats)?;
    }
    Ok(Session {
        config: model_config.clone(),
        base,
        features,
        labels: dataset.label_indices(),
        groups: dataset.clips.iter().map(|c| c.group.clone()).collect(),
        n_classes: dataset.labels.len(),
        grid: config.grid.clone(),
        settings: config.fit.clone(),
        seed: config.seed,
        device,
    })
}

/// The report from the finished outer folds found in `dirs` (one run, possibly split into
/// jobs). Every outer fold must be present exactly once.
pub fn build_report(spec: &RunSpec, dirs: &[PathBuf]) -> anyhow::Result<NestedReport> {
    let outer = spec.splits.len();
    let mut results: Vec<Option<OuterResult>> = vec![None; outer];
    let mut caching = 0.0;
    for dir in dirs {
        if let Ok(text) = std::fs::read_to_string(features_file(dir))
            && let Ok(stats) = serde_json::from_str::<CacheStats>(&text)
        {
            caching += stats.seconds;
        }
        for (k, slot) in results.iter_mut().enumerate() {
            let file = outer_file(dir, k);
            if !file.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&file)?;
            let result: OuterResult = serde_json::from_str(&text)
                .with_context(|| format!("invalid {}", file.display()))?;
            if let Some(previous) = slot {
                anyhow::ensure!(
                    *previous == result,
                    "outer fold {k} appears twice with different results ({})",
                    file.display()
                );
            }
            *slot = Some(result);
        }
    }
    let missing: Vec<String> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_none())
        .map(|(k, _)| k.to_string())
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "outer fold(s) {} not finished in {}",
        missing.join(", "),
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let baselines = score_baselines(
        &spec.labels,
        spec.data.labels.len(),
        &spec.splits,
        spec.seed,
        spec.random_seeds,
    );
    Ok(NestedReport::new(
        ReportInputs {
            command: &spec.command,
            model: &spec.model,
            data: &spec.data,
            cv: &spec.cv,
            grid: &spec.grid,
            fit: &spec.fit,
            crop_seconds: spec.seconds_pair(),
            labels: &spec.labels,
            baselines,
            caching_seconds: caching,
        },
        results.into_iter().map(|r| r.expect("checked")).collect(),
    ))
}

/// Writes `report.json`, `report.md` and the plots into `out`.
pub fn write_report(out: &Path, report: &NestedReport) -> anyhow::Result<()> {
    write_json(&out.join("report.json"), report)?;
    write_text(&out.join("report.md"), &report.to_markdown())?;
    plots::write_all(out, report)?;
    log::info!(
        "macro F1 {:.3} ± {:.3} (best baseline {}: {:+.3}); wrote {}",
        report.summary.macro_f1.mean,
        report.summary.macro_f1.std,
        report.comparison.baseline,
        report.comparison.test.mean_difference,
        out.display()
    );
    Ok(())
}
