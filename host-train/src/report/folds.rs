//! `folds.json`: exactly which clips were in which test fold, for audit.

use serde::Serialize;

use crate::cv::NestedSplits;
use crate::data::{Dataset, Recogniser};

/// One clip in a fold listing.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FoldEntry {
    /// Path relative to the data root.
    pub path: String,
    /// Class name.
    pub label: String,
    /// Leakage group.
    pub group: String,
    /// What formed the group (`donateacry-uuid`, `esc50-clip`, `segment`, `regex`, ...).
    pub grouped_by: Recogniser,
    /// A transformed copy of another recording (its name carries an augmentation prefix).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub augmented: bool,
}

/// An inner fold's test part.
#[derive(Debug, Clone, Serialize)]
pub struct InnerFoldFile {
    /// Clips validated on in this inner fold.
    pub test: Vec<FoldEntry>,
}

/// An outer fold's test part and its inner folds.
#[derive(Debug, Clone, Serialize)]
pub struct OuterFoldFile {
    /// Clips scored in this outer fold.
    pub test: Vec<FoldEntry>,
    /// Augmented copies trained on in this fold (never scored; absent where the copy's source
    /// is in `test`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub augmented_in_training: Vec<FoldEntry>,
    /// The inner split of this fold's training part.
    pub inner: Vec<InnerFoldFile>,
}

/// The whole `folds.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FoldsFile {
    /// Outer folds.
    pub outer: Vec<OuterFoldFile>,
}

impl FoldsFile {
    /// The listing of the clips `items` of `dataset`.
    pub fn entries(dataset: &Dataset, items: &[usize]) -> Vec<FoldEntry> {
        items
            .iter()
            .map(|&i| {
                let clip = &dataset.clips[i];
                FoldEntry {
                    path: clip.rel.clone(),
                    label: dataset.labels.names()[clip.label].clone(),
                    group: clip.group.clone(),
                    grouped_by: clip.recogniser,
                    augmented: clip.augmented,
                }
            })
            .collect()
    }

    /// The listing of `splits` over `dataset`.
    pub fn new(dataset: &Dataset, splits: &NestedSplits) -> Self {
        let entries = |items: &[usize]| Self::entries(dataset, items);
        Self {
            outer: splits
                .outer
                .iter()
                .map(|o| OuterFoldFile {
                    test: entries(&o.test),
                    augmented_in_training: entries(
                        &o.train
                            .iter()
                            .copied()
                            .filter(|&i| dataset.clips[i].augmented)
                            .collect::<Vec<_>>(),
                    ),
                    inner: o
                        .inner
                        .iter()
                        .map(|i| InnerFoldFile {
                            test: entries(&i.test),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
