//! A nested-cv run's report, assembled from the finished outer folds of one or more run
//! directories, and written with its plots.

use super::spec::RunSpec;
use super::{RunDir, RunError};
use crate::error::Result;
use crate::eval::score_baselines;
use crate::plots;
use crate::report::{NestedReport, OuterResult, ReportInputs, write_json, write_text};
use crate::train::features::CacheStats;

/// The report from the finished outer folds found in `runs` (one run, possibly split into
/// jobs). Every outer fold must be present exactly once.
pub fn build_report(spec: &RunSpec, runs: &[RunDir]) -> Result<NestedReport, RunError> {
    let outer = spec.splits.len();
    let mut results: Vec<Option<OuterResult>> = vec![None; outer];
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
            let text = std::fs::read_to_string(&file).map_err(|source| RunError::Read {
                path: file.clone(),
                source,
            })?;
            let result: OuterResult =
                serde_json::from_str(&text).map_err(|source| RunError::Invalid {
                    path: file.clone(),
                    source,
                })?;
            if let Some(previous) = slot
                && *previous != result
            {
                return Err(RunError::Conflict { fold: k, file });
            }
            *slot = Some(result);
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

/// Writes the report (JSON and markdown) and the plots into `run`.
pub fn write_report(run: &RunDir, report: &NestedReport) -> Result<()> {
    write_json(&run.report_json(), report)?;
    write_text(&run.report_md(), &report.to_markdown())?;
    plots::write_all(&run.confusion_plot(), &run.folds_plot(), report)?;
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
