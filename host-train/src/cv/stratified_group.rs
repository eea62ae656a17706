//! Stratified group k-fold.
//!
//! Every group lands wholly in one fold; among the assignments that respect that, groups are
//! placed greedily so that each class is spread over the folds as evenly as its groups allow.
//! The greedy order and objective are those of scikit-learn's `StratifiedGroupKFold` (groups
//! shuffled by the seed, then taken by decreasing spread of their class counts; each goes to the
//! fold that minimises the mean over classes of the standard deviation, across folds, of the
//! class's share in each fold, ties to the smaller fold).

use std::collections::BTreeMap;

use rand::seq::SliceRandom;

use crate::seed;

/// Why items cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// `k` is below 2.
    #[error("a {k}-fold split is not possible; use 2 or more folds")]
    TooFewFolds {
        /// The requested fold count.
        k: usize,
    },
    /// Fewer groups than folds, so some fold would be empty.
    #[error("only {groups} leakage groups, fewer than the {k} folds requested")]
    TooFewGroups {
        /// Distinct groups.
        groups: usize,
        /// The requested fold count.
        k: usize,
    },
}

/// A fold for every item, and what could not be balanced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldAssignment {
    /// `fold[i]` is the fold (0-based) of item `i`.
    pub fold: Vec<usize>,
    /// Number of folds.
    pub k: usize,
    /// Classes with fewer groups than folds, with the folds that got none of them.
    pub missing: Vec<(usize, Vec<usize>)>,
}

impl FoldAssignment {
    /// Indices of the items in fold `f`, in item order.
    pub fn members(&self, f: usize) -> Vec<usize> {
        (0..self.fold.len())
            .filter(|&i| self.fold[i] == f)
            .collect()
    }
}

/// Splits items with class `labels[i]` (in `0..n_classes`) and leakage group `groups[i]` into
/// `k` folds. The result depends only on the inputs and `seed`.
pub fn stratified_group_kfold<G: Ord>(
    labels: &[usize],
    groups: &[G],
    n_classes: usize,
    k: usize,
    seed_value: u64,
) -> Result<FoldAssignment, SplitError> {
    assert_eq!(labels.len(), groups.len(), "one group per label");
    if k < 2 {
        return Err(SplitError::TooFewFolds { k });
    }
    let mut index_of_group: BTreeMap<&G, usize> = BTreeMap::new();
    let item_group: Vec<usize> = groups
        .iter()
        .map(|g| {
            let next = index_of_group.len();
            *index_of_group.entry(g).or_insert(next)
        })
        .collect();
    let n_groups = index_of_group.len();
    if n_groups < k {
        return Err(SplitError::TooFewGroups {
            groups: n_groups,
            k,
        });
    }

    let mut group_counts = vec![vec![0usize; n_classes]; n_groups];
    let mut class_totals = vec![0usize; n_classes];
    for (&label, &g) in labels.iter().zip(&item_group) {
        group_counts[g][label] += 1;
        class_totals[label] += 1;
    }

    // Groups are numbered by first appearance; renumber in sorted-name order so the result does
    // not depend on item order, then shuffle with the seed.
    let sorted_groups: Vec<usize> = index_of_group.values().copied().collect();
    let mut order = sorted_groups;
    order.shuffle(&mut seed::rng(
        seed_value,
        &[seed::tag("stratified-group-kfold")],
    ));
    let spread: Vec<f64> = group_counts
        .iter()
        .map(|c| std_dev(c.iter().map(|&x| x as f64)))
        .collect();
    order.sort_by(|&a, &b| spread[b].total_cmp(&spread[a]));

    let mut fold_counts = vec![vec![0usize; n_classes]; k];
    let mut fold_sizes = vec![0usize; k];
    let mut group_fold = vec![0usize; n_groups];
    for &g in &order {
        let mut best: Option<(f64, usize, usize)> = None;
        for f in 0..k {
            for (c, &n) in group_counts[g].iter().enumerate() {
                fold_counts[f][c] += n;
            }
            let score = imbalance(&fold_counts, &class_totals);
            for (c, &n) in group_counts[g].iter().enumerate() {
                fold_counts[f][c] -= n;
            }
            let better = match best {
                None => true,
                Some((s, size, _)) => {
                    score < s - 1e-12 || ((score - s).abs() <= 1e-12 && fold_sizes[f] < size)
                }
            };
            if better {
                best = Some((score, fold_sizes[f], f));
            }
        }
        let (_, _, f) = best.expect("k >= 2");
        for (c, &n) in group_counts[g].iter().enumerate() {
            fold_counts[f][c] += n;
        }
        fold_sizes[f] += group_counts[g].iter().sum::<usize>();
        group_fold[g] = f;
    }

    let missing = (0..n_classes)
        .filter(|&c| class_totals[c] > 0)
        .filter_map(|c| {
            let empty: Vec<usize> = (0..k).filter(|&f| fold_counts[f][c] == 0).collect();
            (!empty.is_empty()).then_some((c, empty))
        })
        .collect();
    Ok(FoldAssignment {
        fold: item_group.iter().map(|&g| group_fold[g]).collect(),
        k,
        missing,
    })
}

/// Mean over classes of the standard deviation across folds of each class's share per fold.
fn imbalance(fold_counts: &[Vec<usize>], class_totals: &[usize]) -> f64 {
    let present: Vec<usize> = (0..class_totals.len())
        .filter(|&c| class_totals[c] > 0)
        .collect();
    let total: f64 = present
        .iter()
        .map(|&c| {
            std_dev(
                fold_counts
                    .iter()
                    .map(|f| f[c] as f64 / class_totals[c] as f64),
            )
        })
        .sum();
    total / present.len().max(1) as f64
}

/// Population standard deviation.
fn std_dev(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = values.clone().count() as f64;
    let mean = values.clone().sum::<f64>() / n;
    (values.map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 60 items in 20 groups of 1 to 5 items, three classes, imbalanced.
    fn toy() -> (Vec<usize>, Vec<String>) {
        let mut labels = Vec::new();
        let mut groups = Vec::new();
        for g in 0..20 {
            let class = match g % 10 {
                0..=5 => 0,
                6..=8 => 1,
                _ => 2,
            };
            for _ in 0..(g % 5 + 1) {
                labels.push(class);
                groups.push(format!("g{g:02}"));
            }
        }
        (labels, groups)
    }

    #[test]
    fn groups_stay_whole_and_every_fold_is_used() {
        let (labels, groups) = toy();
        for seed in 0..20 {
            let a = stratified_group_kfold(&labels, &groups, 3, 5, seed).unwrap();
            let mut fold_of_group = BTreeMap::new();
            for (g, &f) in groups.iter().zip(&a.fold) {
                assert_eq!(*fold_of_group.entry(g).or_insert(f), f, "group {g} split");
            }
            for f in 0..5 {
                assert!(!a.members(f).is_empty(), "fold {f} empty");
            }
        }
    }

    #[test]
    fn deterministic_per_seed_and_varies_across_seeds() {
        let (labels, groups) = toy();
        let a = stratified_group_kfold(&labels, &groups, 3, 4, 7).unwrap();
        let b = stratified_group_kfold(&labels, &groups, 3, 4, 7).unwrap();
        assert_eq!(a, b);
        let differing = (0..10)
            .filter(|&s| {
                stratified_group_kfold(&labels, &groups, 3, 4, s)
                    .unwrap()
                    .fold
                    != a.fold
            })
            .count();
        assert!(differing >= 5, "seed barely matters: {differing}/10 differ");
    }

    #[test]
    fn item_order_does_not_matter() {
        let (labels, groups) = toy();
        let a = stratified_group_kfold(&labels, &groups, 3, 4, 3).unwrap();
        let rev_labels: Vec<usize> = labels.iter().rev().copied().collect();
        let rev_groups: Vec<String> = groups.iter().rev().cloned().collect();
        let b = stratified_group_kfold(&rev_labels, &rev_groups, 3, 4, 3).unwrap();
        let b_fold: Vec<usize> = b.fold.iter().rev().copied().collect();
        assert_eq!(a.fold, b_fold);
    }

    #[test]
    fn classes_are_spread_as_evenly_as_groups_allow() {
        // 40 singleton groups: 20 of class 0, 10 of class 1, 10 of class 2, into 5 folds.
        // Perfect stratification is possible: 4 + 2 + 2 per fold.
        let labels: Vec<usize> = (0..40).map(|i| [0, 0, 1, 2][i % 4]).collect();
        let groups: Vec<usize> = (0..40).collect();
        let a = stratified_group_kfold(&labels, &groups, 3, 5, 11).unwrap();
        for f in 0..5 {
            let mut counts = [0; 3];
            for i in a.members(f) {
                counts[labels[i]] += 1;
            }
            assert_eq!(counts, [4, 2, 2], "fold {f}");
        }
        assert!(a.missing.is_empty());
    }

    #[test]
    fn rare_class_is_reported_with_the_folds_that_miss_it() {
        let (mut labels, mut groups) = toy();
        labels.extend([2, 2]);
        groups.extend(["rare".to_string(), "rare".to_string()]);
        labels.push(3);
        groups.push("only3".into());
        let a = stratified_group_kfold(&labels, &groups, 4, 5, 1).unwrap();
        let (class, empty) = a.missing.iter().find(|(c, _)| *c == 3).unwrap();
        assert_eq!(*class, 3);
        assert_eq!(
            empty.len(),
            4,
            "one group of class 3 fills one fold of five"
        );
        let holder = a.fold[labels.len() - 1];
        assert!(!empty.contains(&holder));
    }

    #[test]
    fn impossible_splits_are_errors() {
        let labels = [0, 1, 0];
        let groups = ["a", "a", "b"];
        assert_eq!(
            stratified_group_kfold(&labels, &groups, 2, 3, 0),
            Err(SplitError::TooFewGroups { groups: 2, k: 3 })
        );
        assert_eq!(
            stratified_group_kfold(&labels, &groups, 2, 1, 0),
            Err(SplitError::TooFewFolds { k: 1 })
        );
    }
}
