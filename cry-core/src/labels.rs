//! The label set: class names and the order of a model's outputs.

use serde::{Deserialize, Serialize};

/// The class of clips that hold no infant cry (speech, household noise, silence, laughter):
/// they train and test the cry head only. A label map sends a dataset's own names here.
pub const NOT_CRY: &str = "not_cry";

/// The class of cries whose reason is unknown: positives of the cry head, no reason target.
pub const CRY: &str = "cry";

/// Whether `name` is one of the detection classes ([`CRY`], [`NOT_CRY`]) rather than a reason.
pub fn is_detection_label(name: &str) -> bool {
    name == CRY || name == NOT_CRY
}

/// Errors building a [`LabelSet`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelError {
    /// No label was given.
    #[error("the label set is empty")]
    Empty,
    /// A label name was empty or only whitespace.
    #[error("a label name is empty")]
    BlankName,
}

/// Class names in output order. Index `i` of a model's logits is `names()[i]`.
///
/// Built from a dataset, the order is sorted by name, so the same data always gives the same
/// order whatever the file system lists first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LabelSet {
    names: Vec<String>,
}

impl LabelSet {
    /// A label set in exactly the given order (as stored in a model's metadata).
    pub fn in_order(names: Vec<String>) -> Result<Self, LabelError> {
        if names.is_empty() {
            return Err(LabelError::Empty);
        }
        if names.iter().any(|n| n.trim().is_empty()) {
            return Err(LabelError::BlankName);
        }
        Ok(Self { names })
    }

    /// A label set from names in any order and with repeats: sorted and deduplicated.
    pub fn from_names<I, S>(names: I) -> Result<Self, LabelError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
        names.sort();
        names.dedup();
        Self::in_order(names)
    }

    /// Class names in output order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: a label set has at least one class.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Output index of a class name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Class name of an output index.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.names.get(index).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_names_sorts_and_dedups() {
        let set = LabelSet::from_names(["tired", "hungry", "tired", "belly_pain"]).unwrap();
        assert_eq!(set.names(), ["belly_pain", "hungry", "tired"]);
        assert_eq!(set.index_of("hungry"), Some(1));
        assert_eq!(set.name(2), Some("tired"));
        assert_eq!(set.index_of("burping"), None);
    }

    #[test]
    fn in_order_keeps_order_and_rejects_bad_sets() {
        let set = LabelSet::in_order(vec!["b".into(), "a".into()]).unwrap();
        assert_eq!(set.names(), ["b", "a"]);
        assert_eq!(LabelSet::in_order(vec![]), Err(LabelError::Empty));
        assert_eq!(
            LabelSet::in_order(vec!["a".into(), " ".into()]),
            Err(LabelError::BlankName)
        );
    }
}
