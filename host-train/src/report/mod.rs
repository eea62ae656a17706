//! What a run writes: `report.json`, `report.md`, `folds.json`, `skipped.json`.

mod baselines;
mod folds;
mod nested;

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

pub use baselines::{BaselinesReport, CvSummary, DataSummary};
pub use folds::{FoldEntry, FoldsFile};
pub use nested::{
    Comparison, FoldReport, ModelInfo, NestedReport, OuterResult, ReportInputs, StageSeconds,
    random_init_warning,
};

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("failed to serialise JSON")?;
    write_text(path, &(text + "\n"))
}

/// Writes `text` to `path` atomically (a temporary file renamed into place), so a killed run
/// never leaves half a report.
pub fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text).with_context(|| format!("failed to write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("failed to write {}", path.display()))
}
