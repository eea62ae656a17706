//! `host-train nested-cv`: fine-tune and evaluate with nested, leakage-safe cross-validation.
//!
//! The output directory holds the run: `run.json` (everything that defines it), `units/`
//! (one JSON file per finished unit of work), `init-model/` (the random-init checkpoint when no
//! `--pretrained` is given), and at the end `report.json`, `report.md` and the plots.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cry_core::audio::LoadOptions;
use indicatif::MultiProgress;
use serde::{Deserialize, Serialize};

use super::baselines::{load_dataset, split_and_record};
use super::tune::{FineTune, features_file, session, starting_model};
use crate::cli::UsageError;
use crate::cv::OuterFold;
use crate::data::DataSource;
use crate::eval::score_baselines;
use crate::report::{
    CvSummary, DataSummary, FoldEntry, FoldsFile, ModelInfo, NestedReport, OuterResult,
    ReportInputs, write_json, write_text,
};
use crate::train::features::CacheStats;
use crate::train::fit::FitSettings;
use crate::train::grid::Grid;
use crate::{plots, progress, seed};

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
}

/// `DIR/units/outer-<k>/`.
fn outer_dir(out: &Path, fold: usize) -> PathBuf {
    out.join("units").join(format!("outer-{fold}"))
}

/// `DIR/units/outer-<k>/outer.json`.
fn outer_file(out: &Path, fold: usize) -> PathBuf {
    outer_dir(out, fold).join("outer.json")
}

/// Runs (or resumes) the job; writes the report when every outer fold is done and returns it.
pub fn run(
    config: &NestedCvConfig,
    device_choice: crate::backend::DeviceChoice,
) -> anyhow::Result<Option<NestedReport>> {
    let plain = device_choice.device();
    let device = plain.clone().autodiff();
    if let Some(k) = config.outer_fold
        && k >= config.outer
    {
        return Err(UsageError {
            arg: "--outer-fold",
            reason: format!("fold {k} does not exist with --outer {}", config.outer),
        }
        .into());
    }
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
    let splits = split_and_record(&dataset, config.outer, config.inner, config.seed, out)?;

    let start = starting_model(
        &config.tune,
        out,
        config.seed,
        dataset.labels.names(),
        &device,
    )?;

    let spec = RunSpec {
        schema: RUN_SCHEMA.into(),
        command: config.command.clone(),
        model: start.info.clone(),
        grid: config.tune.grid.clone(),
        fit: config.tune.fit.clone(),
        crop_seconds: config.tune.crop_seconds,
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
        let session = session(
            &start,
            &dataset,
            &config.tune,
            &config.load,
            config.seed,
            out,
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
            crop_seconds: spec.crop_seconds,
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
