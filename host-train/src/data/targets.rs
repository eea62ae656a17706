//! From a dataset's classes to what the two heads learn.
//!
//! A class named [`NOT_CRY`] (after the label map) holds no cry: its clips train and test the
//! cry head only, as negatives. A class named [`CRY`] holds cries of unknown reason: positives
//! of the cry head, nothing for the reason head. Every other class is a reason: its clips train
//! the reason head and, as positives, the cry head. A dataset without a `not_cry` class trains
//! the reason head alone, as before.

use cry_core::LabelSet;
use cry_core::labels::{CRY, NOT_CRY};
use serde::{Deserialize, Serialize};

/// What one clip teaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A cry with this reason (an index into [`Targets::reasons`]).
    Reason(usize),
    /// A cry of unknown reason.
    Cry,
    /// No cry.
    NotCry,
}

impl Target {
    /// The reason, for a cry that has one.
    pub fn reason(self) -> Option<usize> {
        match self {
            Target::Reason(r) => Some(r),
            Target::Cry | Target::NotCry => None,
        }
    }

    /// Whether the clip holds a cry.
    pub fn is_cry(self) -> bool {
        !matches!(self, Target::NotCry)
    }
}

/// The classes of a dataset that cannot train the heads they name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Every class is `cry` or `not_cry`.
    #[error(
        "no reason class: every class is `{CRY}` or `{NOT_CRY}`; add a dataset labelled with \
         cry reasons (--data may be given several times)"
    )]
    NoReason,
    /// Cries of unknown reason without any negatives.
    #[error(
        "clips labelled `{CRY}` (reason unknown) teach only the cry head, which needs `{NOT_CRY}` \
         clips to learn against: map the non-cry classes to `{NOT_CRY}` (for example \
         --label \"noise={NOT_CRY}\") or drop the `{CRY}` clips (--label \"{CRY}=\")"
    )]
    CryWithoutNegatives,
}

/// The two heads' classes, and which a dataset class feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    reasons: Vec<String>,
    by_class: Vec<Target>,
}

impl Targets {
    /// The targets of a dataset's classes (in [`LabelSet`] order).
    pub fn new(labels: &LabelSet) -> Result<Self, TargetError> {
        let reasons: Vec<String> = labels
            .names()
            .iter()
            .filter(|n| !cry_core::labels::is_detection_label(n))
            .cloned()
            .collect();
        if reasons.is_empty() {
            return Err(TargetError::NoReason);
        }
        let by_class: Vec<Target> = labels
            .names()
            .iter()
            .map(|n| match n.as_str() {
                CRY => Target::Cry,
                NOT_CRY => Target::NotCry,
                _ => Target::Reason(reasons.iter().position(|r| r == n).expect("listed")),
            })
            .collect();
        let has = |t: Target| by_class.contains(&t);
        if has(Target::Cry) && !has(Target::NotCry) {
            return Err(TargetError::CryWithoutNegatives);
        }
        Ok(Self { reasons, by_class })
    }

    /// Whether the model gets a cry head: the data has `not_cry` clips.
    pub fn detection(&self) -> bool {
        self.by_class.contains(&Target::NotCry)
    }

    /// The reason head's classes, in output order (the dataset's order without `cry` and
    /// `not_cry`).
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    /// What clips of dataset class `class` teach.
    pub fn of_class(&self, class: usize) -> Target {
        self.by_class[class]
    }

    /// The target of each clip, from its dataset class.
    pub fn of_clips(&self, classes: &[usize]) -> Vec<Target> {
        classes.iter().map(|&c| self.of_class(c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> LabelSet {
        LabelSet::from_names(names.iter().copied()).unwrap()
    }

    #[test]
    fn reasons_keep_the_dataset_order_without_the_detection_classes() {
        let labels = set(&["tired", "not_cry", "hungry", "cry"]);
        // Sorted: cry, hungry, not_cry, tired.
        let t = Targets::new(&labels).unwrap();
        assert!(t.detection());
        assert_eq!(t.reasons(), ["hungry", "tired"]);
        assert_eq!(
            t.of_clips(&[0, 1, 2, 3]),
            [
                Target::Cry,
                Target::Reason(0),
                Target::NotCry,
                Target::Reason(1)
            ]
        );
        assert!(Target::Cry.is_cry() && Target::Reason(1).is_cry());
        assert!(!Target::NotCry.is_cry());
        assert_eq!(Target::Reason(1).reason(), Some(1));
        assert_eq!(Target::Cry.reason(), None);
    }

    #[test]
    fn reason_only_data_has_no_cry_head_and_unusable_sets_are_refused() {
        let t = Targets::new(&set(&["hungry", "tired"])).unwrap();
        assert!(!t.detection());
        assert_eq!(t.reasons(), ["hungry", "tired"]);
        assert_eq!(
            Targets::new(&set(&["cry", "not_cry"])),
            Err(TargetError::NoReason)
        );
        assert_eq!(
            Targets::new(&set(&["cry", "hungry"])),
            Err(TargetError::CryWithoutNegatives)
        );
    }
}
