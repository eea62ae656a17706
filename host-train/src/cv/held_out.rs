//! Splits in which some items may only ever be trained on.
//!
//! An augmented copy of a recording is a training device, not evidence: scoring it would count
//! its source twice, and a copy whose source is tested must not be trained on either. So folds
//! are formed from the items that may be held out alone (copies change no test part), and each
//! train-only item follows its group: it trains wherever its group is not tested, and is in no
//! part at all where its group is.

use std::collections::BTreeMap;

use super::stratified_group::{SplitError, stratified_group_kfold};

/// A fold for every group, with the items that may be held out marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldOutSplit {
    /// `fold[i]`: the fold of item `i`'s group; `None` when no item of the group may be held out
    /// (the item then trains in every fold).
    pub fold: Vec<Option<usize>>,
    /// `eligible[i]`: item `i` may be in a test part.
    pub eligible: Vec<bool>,
    /// Number of folds.
    pub k: usize,
    /// Classes with fewer held-out groups than folds, with the folds that got none of them.
    pub missing: Vec<(usize, Vec<usize>)>,
}

impl HeldOutSplit {
    /// The items tested when fold `f` is held out, in item order.
    pub fn test(&self, f: usize) -> Vec<usize> {
        (0..self.fold.len())
            .filter(|&i| self.eligible[i] && self.fold[i] == Some(f))
            .collect()
    }

    /// The items trained on when fold `f` is held out (every item whose group is elsewhere),
    /// in item order.
    pub fn train(&self, f: usize) -> Vec<usize> {
        (0..self.fold.len())
            .filter(|&i| self.fold[i] != Some(f))
            .collect()
    }
}

/// Stratified group k-fold over the items with `eligible[i]`, the others placed with their
/// group. With every item eligible this is [`stratified_group_kfold`] exactly.
pub fn held_out_kfold<G: Ord>(
    labels: &[usize],
    groups: &[G],
    eligible: &[bool],
    n_classes: usize,
    k: usize,
    seed_value: u64,
) -> Result<HeldOutSplit, SplitError> {
    assert_eq!(labels.len(), groups.len(), "one group per label");
    assert_eq!(labels.len(), eligible.len(), "one eligibility per label");
    let held: Vec<usize> = (0..labels.len()).filter(|&i| eligible[i]).collect();
    let held_labels: Vec<usize> = held.iter().map(|&i| labels[i]).collect();
    let held_groups: Vec<&G> = held.iter().map(|&i| &groups[i]).collect();
    let assignment = stratified_group_kfold(&held_labels, &held_groups, n_classes, k, seed_value)?;
    let group_fold: BTreeMap<&G, usize> = held_groups
        .iter()
        .zip(&assignment.fold)
        .map(|(g, &f)| (*g, f))
        .collect();
    Ok(HeldOutSplit {
        fold: groups.iter().map(|g| group_fold.get(g).copied()).collect(),
        eligible: eligible.to_vec(),
        k,
        missing: assignment.missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 originals in 20 groups over two classes, and a copy of every third original.
    fn with_copies() -> (Vec<usize>, Vec<String>, Vec<bool>) {
        let (mut labels, mut groups, mut eligible) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..40 {
            labels.push(usize::from(i % 4 == 0));
            groups.push(format!("g{}", i / 2));
            eligible.push(true);
        }
        for i in (0..40).step_by(3) {
            labels.push(labels[i]);
            groups.push(groups[i].clone());
            eligible.push(false);
        }
        (labels, groups, eligible)
    }

    #[test]
    fn copies_never_test_and_never_train_beside_their_source() {
        let (labels, groups, eligible) = with_copies();
        let split = held_out_kfold(&labels, &groups, &eligible, 2, 5, 7).unwrap();
        let mut tested = vec![0; labels.len()];
        for f in 0..5 {
            let test = split.test(f);
            let train = split.train(f);
            assert!(test.iter().all(|&i| eligible[i]), "a copy in test fold {f}");
            for &i in &train {
                assert!(
                    test.iter().all(|&t| groups[t] != groups[i]),
                    "{} trains while its group is tested in fold {f}",
                    groups[i]
                );
            }
            for &i in &test {
                tested[i] += 1;
            }
            let copies_trained = train.iter().filter(|&&i| !eligible[i]).count();
            let copies_of_tested = (40..labels.len())
                .filter(|&c| test.iter().any(|&t| groups[t] == groups[c]))
                .count();
            assert_eq!(copies_trained + copies_of_tested, labels.len() - 40);
        }
        assert!(tested[..40].iter().all(|&n| n == 1));
        assert!(tested[40..].iter().all(|&n| n == 0));
    }

    #[test]
    fn copies_do_not_move_the_originals() {
        let (labels, groups, eligible) = with_copies();
        let with = held_out_kfold(&labels, &groups, &eligible, 2, 5, 7).unwrap();
        let without = stratified_group_kfold(&labels[..40], &groups[..40], 2, 5, 7).unwrap();
        let folds: Vec<Option<usize>> = without.fold.iter().map(|&f| Some(f)).collect();
        assert_eq!(with.fold[..40], folds[..]);
        assert_eq!(with.missing, without.missing);
    }

    #[test]
    fn a_copy_without_its_source_trains_everywhere() {
        let labels = [0, 1, 0, 1, 0, 1, 1];
        let groups = ["a", "b", "c", "d", "e", "f", "orphan"];
        let eligible = [true, true, true, true, true, true, false];
        let split = held_out_kfold(&labels, &groups, &eligible, 2, 3, 1).unwrap();
        assert_eq!(split.fold[6], None);
        assert!((0..3).all(|f| split.train(f).contains(&6)));
    }

    #[test]
    fn all_eligible_is_the_plain_split() {
        let labels = [0, 1, 0, 1, 0, 1, 1, 0];
        let groups = ["a", "b", "c", "d", "e", "f", "f", "a"];
        let split = held_out_kfold(&labels, &groups, &[true; 8], 2, 3, 4).unwrap();
        let plain = stratified_group_kfold(&labels, &groups, 2, 3, 4).unwrap();
        for f in 0..3 {
            assert_eq!(split.test(f), plain.members(f));
        }
    }
}
