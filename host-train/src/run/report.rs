//! A nested-cv run's report, assembled from the finished outer folds of one or more run
//! directories, and written with its plots.

use std::path::Path;

use cry_core::LabelSet;
use cry_core::alerts::AlertPolicy;

use super::spec::RunSpec;
use super::{RunDir, RunError};
use crate::cv::OuterFold;
use crate::data::{Target, Targets};
use crate::error::Result;
use crate::eval::score_baselines;
use crate::plots;
use crate::report::detection::{DetectionInputs, DetectionInputsRef, DetectionReport};
use crate::report::{NestedReport, OuterResult, ReportInputs, write_json, write_text};
use crate::train::features::CacheStats;
use crate::train::session::UnitResult;

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RunError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| RunError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// The report from the finished outer folds found in `runs` (one run, possibly split into
/// jobs). Every outer fold must be present exactly once.
pub fn build_report(spec: &RunSpec, runs: &[RunDir]) -> Result<NestedReport, RunError> {
    let outer = spec.splits.len();
    let mut results: Vec<Option<OuterResult>> = vec![None; outer];
    let mut holders: Vec<Option<&RunDir>> = vec![None; outer];
    let mut caching = 0.0;
    for run in runs {
        if let Ok(text) = std::fs::read_to_string(run.features())
            && let Ok(stats) = serde_json::from_str::<CacheStats>(&text)
        {
            caching += stats.seconds;
        }
        for (k, slot) in results.iter_mut().enumerate() {
            let file = run.outer(k).result();
            if !file.is_file() {
                continue;
            }
            let result: OuterResult = read(&file)?;
            if let Some(previous) = slot
                && *previous != result
            {
                return Err(RunError::Conflict { fold: k, file });
            }
            *slot = Some(result);
            holders[k] = Some(run);
        }
    }
    let missing: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_none())
        .map(|(k, _)| k)
        .collect();
    if !missing.is_empty() {
        return Err(RunError::Unfinished {
            folds: missing,
            dirs: runs.iter().map(|r| r.root().to_path_buf()).collect(),
        });
    }
    let results: Vec<OuterResult> = results.into_iter().map(|r| r.expect("checked")).collect();
    let classes = LabelSet::in_order(spec.data.labels.clone()).expect("a run's labels");
    let targets = Targets::new(&classes).expect("checked when the run started");
    let target_of: Vec<Target> = targets.of_clips(&spec.labels);
    let reason_of: Vec<Option<usize>> = target_of.iter().map(|t| t.reason()).collect();
    // The reason baselines see the clips that have a reason (all of them without a cry head).
    let reason_splits: Vec<OuterFold> = spec
        .splits
        .iter()
        .map(|fold| OuterFold {
            train: keep_reasons(&fold.train, &reason_of),
            test: keep_reasons(&fold.test, &reason_of),
            inner: fold.inner.clone(),
        })
        .collect();
    let reason_labels: Vec<usize> = reason_of.iter().map(|r| r.unwrap_or(0)).collect();
    let baselines = score_baselines(
        &reason_labels,
        targets.reasons().len(),
        &reason_splits,
        spec.seed,
        spec.random_seeds,
    );
    let detection = match spec.max_false_alarms_per_hour {
        Some(budget) => {
            let holder = holders[0].expect("checked");
            let facts: DetectionInputs = read(&holder.detection_inputs())?;
            let seconds = |i: usize| facts.clips[i].seconds;
            let is_cry = |i: usize| target_of[i].is_cry();
            let mut test = Vec::with_capacity(outer);
            let mut inner = Vec::with_capacity(outer);
            for (k, result) in results.iter().enumerate() {
                let unit = holders[k].expect("checked").outer(k);
                test.push(cry_clips(&result.refit, &unit.refit(), &is_cry, &seconds)?);
                let mut held_out = Vec::new();
                for i in 0..spec.splits[k].inner.len() {
                    let file = unit.inner_unit(i, result.selection.chosen);
                    let inner_unit: UnitResult = read(&file)?;
                    held_out.extend(cry_clips(&inner_unit, &file, &is_cry, &seconds)?);
                }
                inner.push(held_out);
            }
            Some(DetectionReport::new(DetectionInputsRef {
                targets: &target_of,
                facts: &facts.clips,
                splits: &spec.splits,
                test,
                inner,
                policy: AlertPolicy::default(),
                max_false_alarms_per_hour: budget,
                seed: spec.seed,
            }))
        }
        None => None,
    };
    Ok(NestedReport::new(
        ReportInputs {
            command: &spec.command,
            model: &spec.model,
            data: &spec.data,
            cv: &spec.cv,
            grid: &spec.grid,
            fit: &spec.fit,
            crop_seconds: spec.crop_seconds,
            reason_of: &reason_of,
            reasons: targets.reasons(),
            detection,
            baselines,
            caching_seconds: caching,
        },
        results,
    ))
}

fn keep_reasons(clips: &[usize], reason_of: &[Option<usize>]) -> Vec<usize> {
    clips
        .iter()
        .copied()
        .filter(|&i| reason_of[i].is_some())
        .collect()
}

/// A unit's scored clips as the edge's stream would have seen them.
fn cry_clips(
    unit: &UnitResult,
    file: &Path,
    is_cry: &dyn Fn(usize) -> bool,
    seconds: &dyn Fn(usize) -> f64,
) -> Result<Vec<crate::eval::detection::DetectionClip>, RunError> {
    unit.detection_clips(is_cry, seconds)
        .ok_or_else(|| RunError::NoCryScores {
            path: file.to_path_buf(),
        })
}

/// Writes the report (JSON and markdown) and the plots into `run`.
pub fn write_report(run: &RunDir, report: &NestedReport) -> Result<()> {
    write_json(&run.report_json(), report)?;
    write_text(&run.report_md(), &report.to_markdown())?;
    plots::write_all(
        &run.confusion_plot(),
        &run.folds_plot(),
        (&run.roc_plot(), &run.alerts_plot()),
        report,
    )?;
    log::info!(
        "macro F1 {:.3} ± {:.3} (best baseline {}: {:+.3}); wrote {}",
        report.summary.macro_f1.mean,
        report.summary.macro_f1.std,
        report.comparison.baseline,
        report.comparison.test.mean_difference,
        run.root().display()
    );
    Ok(())
}
