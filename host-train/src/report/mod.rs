//! What runs write: the reports (`baselines`, `nested`), the data and split summaries they share
//! (`summary`), their markdown pieces (`markdown`), the split audit file (`folds`) and a trained
//! model's record (`training`); with a cry head, the detection section (`detection`). Where these files go is [`crate::run::RunDir`]'s business.

mod baselines;
pub mod detection;
mod folds;
pub mod markdown;
mod nested;
mod summary;
mod training;

use std::path::Path;

use serde::Serialize;

use crate::fsx::{self, WriteError};

pub use baselines::BaselinesReport;
pub use folds::{FoldEntry, FoldsFile};
pub use nested::{
    Comparison, FoldReport, ModelInfo, NestedReport, OuterResult, ReportInputs, StageSeconds,
    random_init_warning,
};
pub use summary::{CvSummary, DataSummary};
pub use training::{TRAINING_FILE, TRAINING_SCHEMA, TrainedDetection, TrainingRecord};

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), WriteError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| WriteError::new(path, e.into()))?;
    write_text(path, &(text + "\n"))
}

/// Writes `text` to `path`, atomically.
pub fn write_text(path: &Path, text: &str) -> Result<(), WriteError> {
    fsx::write(path, text)
}
