//! What a report says about the data and its split (shared by every report and by the run
//! definition).

use std::collections::BTreeSet;

use cry_core::audio::{Bandwidth, LoadOptions};
use serde::{Deserialize, Serialize};

use crate::cv::NestedSplits;
use crate::data::{
    AugmentedPolicy, ClassSummary, DataSource, Dataset, Duplicate, LabelConflict, LabelMap,
    ReasonMismatch,
};

/// What data a report is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// `--data` as given.
    pub root: String,
    /// `--manifest` as given.
    pub manifest: Option<String>,
    /// Usable clips.
    pub clips: usize,
    /// Distinct leakage groups.
    pub groups: usize,
    /// Class names in label order.
    pub labels: Vec<String>,
    /// Counts per class.
    pub classes: Vec<ClassSummary>,
    /// Files not used (listed in the run directory).
    pub skipped: usize,
    /// Duplicates collapsed into an earlier file.
    pub duplicates: Vec<Duplicate>,
    /// The label rules and kept classes (`--label-map`, `--label`, `--classes`), when any.
    #[serde(default, skip_serializing_if = "LabelMap::is_identity")]
    pub label_map: LabelMap,
    /// `--group-regex`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_pattern: Option<String>,
    /// `--augmented`, when not the default (train only).
    #[serde(default, skip_serializing_if = "AugmentedPolicy::is_default")]
    pub augmented: AugmentedPolicy,
    /// Identical audio under different labels (all such files excluded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<LabelConflict>,
    /// Donate-a-cry names whose reason code disagrees with their label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_mismatches: Vec<ReasonMismatch>,
    /// `--bandwidth`: every clip was limited to this band (Hz) before anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_hz: Option<Bandwidth>,
}

impl DataSummary {
    /// Summary of `dataset`, read from `source` and loaded with `load`.
    pub fn new(dataset: &Dataset, source: &DataSource, load: &LoadOptions) -> Self {
        Self {
            root: source.describe(),
            manifest: source.manifest.as_ref().map(|p| p.display().to_string()),
            clips: dataset.clips.len(),
            groups: dataset
                .group_names()
                .into_iter()
                .collect::<BTreeSet<_>>()
                .len(),
            labels: dataset.labels.names().to_vec(),
            classes: dataset.class_summary(),
            skipped: dataset.skipped.len(),
            duplicates: dataset.duplicates.clone(),
            label_map: source.labels.clone(),
            group_pattern: source.group_pattern.clone(),
            augmented: dataset.augmented,
            conflicts: dataset.conflicts.clone(),
            reason_mismatches: dataset.reason_mismatches.clone(),
            bandwidth_hz: load.bandwidth,
        }
    }
}

/// How the data was split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvSummary {
    /// Outer folds.
    pub outer: usize,
    /// Inner folds per outer training part.
    pub inner: usize,
    /// Run seed.
    pub seed: u64,
    /// Test clips per outer fold.
    pub outer_test_sizes: Vec<usize>,
    /// Classes too rare to reach every fold.
    pub warnings: Vec<String>,
}

impl CvSummary {
    /// Summary of `splits`.
    pub fn new(splits: &NestedSplits, inner: usize, seed: u64) -> Self {
        Self {
            outer: splits.outer.len(),
            inner,
            seed,
            outer_test_sizes: splits.outer.iter().map(|o| o.test.len()).collect(),
            warnings: splits.warnings.clone(),
        }
    }
}
