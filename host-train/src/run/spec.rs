//! [`RunSpec`]: what defines a nested-cv run. Resuming and merging require it to match.

use serde::{Deserialize, Serialize};

use super::{RunDir, RunError};
use crate::cv::OuterFold;
use crate::report::{CvSummary, DataSummary, FoldEntry, ModelInfo};
use crate::train::fit::FitSettings;
use crate::train::grid::Grid;

/// The run definition, stored in [`RunDir::spec`].
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
    /// With a cry head (`not_cry` clips): the false-alarm budget its thresholds are chosen for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_false_alarms_per_hour: Option<f64>,
}

/// Identifies the run definition's layout.
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

    /// Reads the definition of the run in `run`.
    pub fn read(run: &RunDir) -> Result<Self, RunError> {
        let path = run.spec();
        let text = std::fs::read_to_string(&path).map_err(|source| RunError::NotARun {
            dir: run.root().to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| RunError::Invalid { path, source })
    }
}
