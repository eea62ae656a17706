//! Two-level (nested) cross-validation splits.
//!
//! The outer folds give the honest estimate; inside each outer training part, the inner folds
//! are where hyperparameters are chosen, so the outer test part is never seen by a choice.

use super::held_out::held_out_kfold;
use super::stratified_group::SplitError;
use crate::seed;

/// One inner fold, as indices into the whole dataset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InnerFold {
    /// Items to fit on.
    pub train: Vec<usize>,
    /// Items to validate on.
    pub test: Vec<usize>,
}

/// One outer fold, as indices into the whole dataset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OuterFold {
    /// Items to fit on (the union of every inner fold).
    pub train: Vec<usize>,
    /// Items to score on.
    pub test: Vec<usize>,
    /// The inner split of `train`.
    pub inner: Vec<InnerFold>,
}

/// The whole nested split, and the warnings about classes too rare to reach every fold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedSplits {
    /// Outer folds.
    pub outer: Vec<OuterFold>,
    /// Human-readable warnings (a class absent from some test folds).
    pub warnings: Vec<String>,
}

impl NestedSplits {
    /// Splits `labels`/`groups` into `outer_k` stratified group folds and each outer training
    /// part into `inner_k`. Only items with `eligible[i]` are ever tested (in an outer or inner
    /// test part); the others only train, and never while their group is tested (see
    /// [`held_out_kfold`]). `class_names` is used only in warnings.
    pub fn new<G: Ord + Clone>(
        labels: &[usize],
        groups: &[G],
        eligible: &[bool],
        class_names: &[String],
        outer_k: usize,
        inner_k: usize,
        seed_value: u64,
    ) -> Result<Self, SplitError> {
        let n_classes = class_names.len();
        let outer = held_out_kfold(
            labels,
            groups,
            eligible,
            n_classes,
            outer_k,
            seed::derive(seed_value, &[seed::tag("outer")]),
        )?;
        let mut warnings = Vec::new();
        for (c, folds) in &outer.missing {
            warnings.push(format!(
                "class '{}' has fewer groups than the {outer_k} outer folds: outer test fold(s) {} have none of it",
                class_names[*c],
                list(folds)
            ));
        }

        let mut folds = Vec::with_capacity(outer_k);
        for o in 0..outer_k {
            let test = outer.test(o);
            let train = outer.train(o);
            let sub_labels: Vec<usize> = train.iter().map(|&i| labels[i]).collect();
            let sub_groups: Vec<G> = train.iter().map(|&i| groups[i].clone()).collect();
            let sub_eligible: Vec<bool> = train.iter().map(|&i| eligible[i]).collect();
            let inner_split = held_out_kfold(
                &sub_labels,
                &sub_groups,
                &sub_eligible,
                n_classes,
                inner_k,
                seed::derive(seed_value, &[seed::tag("inner"), o as u64]),
            )?;
            for (c, inner_folds) in &inner_split.missing {
                warnings.push(format!(
                    "class '{}' has fewer groups than the {inner_k} inner folds in outer fold {o}: inner test fold(s) {} have none of it",
                    class_names[*c],
                    list(inner_folds)
                ));
            }
            let inner = (0..inner_k)
                .map(|f| InnerFold {
                    train: inner_split.train(f).into_iter().map(|j| train[j]).collect(),
                    test: inner_split.test(f).into_iter().map(|j| train[j]).collect(),
                })
                .collect();
            folds.push(OuterFold { train, test, inner });
        }
        Ok(Self {
            outer: folds,
            warnings,
        })
    }
}

fn list(folds: &[usize]) -> String {
    folds
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn nested_folds_partition_without_group_leaks() {
        let labels: Vec<usize> = (0..90).map(|i| usize::from(i % 3 == 0)).collect();
        let groups: Vec<usize> = (0..90).map(|i| i / 2).collect();
        let names = vec!["a".to_string(), "b".to_string()];
        let s = NestedSplits::new(&labels, &groups, &[true; 90], &names, 5, 3, 42).unwrap();
        assert_eq!(s.outer.len(), 5);
        let mut all_tests = BTreeSet::new();
        for o in &s.outer {
            assert_eq!(o.train.len() + o.test.len(), 90);
            let test_groups: BTreeSet<usize> = o.test.iter().map(|&i| groups[i]).collect();
            assert!(o.train.iter().all(|i| !test_groups.contains(&groups[*i])));
            for &i in &o.test {
                assert!(all_tests.insert(i), "item {i} in two outer test folds");
            }
            assert_eq!(o.inner.len(), 3);
            let mut inner_tests = BTreeSet::new();
            for inner in &o.inner {
                let held: BTreeSet<usize> = inner.test.iter().map(|&i| groups[i]).collect();
                assert!(inner.train.iter().all(|i| !held.contains(&groups[*i])));
                assert!(
                    inner
                        .test
                        .iter()
                        .all(|i| !test_groups.contains(&groups[*i]))
                );
                inner_tests.extend(inner.test.iter().copied());
            }
            assert_eq!(inner_tests, o.train.iter().copied().collect());
        }
        assert_eq!(all_tests.len(), 90);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert_eq!(
            s,
            NestedSplits::new(&labels, &groups, &[true; 90], &names, 5, 3, 42).unwrap()
        );
    }

    #[test]
    fn rare_class_warns_instead_of_failing() {
        let mut labels: Vec<usize> = vec![0; 30];
        let mut groups: Vec<usize> = (0..30).collect();
        labels.extend([1, 1]);
        groups.extend([100, 101]);
        let names = vec!["hungry".to_string(), "burping".to_string()];
        let s = NestedSplits::new(&labels, &groups, &[true; 32], &names, 5, 3, 0).unwrap();
        assert!(
            s.warnings[0].starts_with("class 'burping' has fewer groups than the 5 outer folds"),
            "{:?}",
            s.warnings
        );
        let without: usize = s
            .outer
            .iter()
            .filter(|o| o.test.iter().all(|&i| labels[i] == 0))
            .count();
        assert_eq!(without, 3);
    }
}
