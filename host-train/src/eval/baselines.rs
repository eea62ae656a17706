//! Baselines fitted on each outer training part and scored on its test part.
//!
//! They answer "better than what?": with `hungry` at 84 % of Donate-a-cry, always answering
//! `hungry` is already 84 % accurate, and only macro metrics and balanced accuracy show that it
//! knows nothing.

use rand::Rng;
use rand::distr::{Distribution, weighted::WeightedIndex};
use serde::Serialize;

use super::{MeanStd, Metrics, Scalars};
use crate::cv::OuterFold;
use crate::seed;

/// A classifier that ignores the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Uniformly random among the classes seen in training.
    Uniform,
    /// Random with the training class frequencies.
    Stratified,
    /// Always the most frequent training class (ties: the first in label order).
    Majority,
}

impl Baseline {
    /// Every baseline, in report order.
    pub const ALL: [Baseline; 3] = [Baseline::Uniform, Baseline::Stratified, Baseline::Majority];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::Uniform => "uniform",
            Baseline::Stratified => "stratified",
            Baseline::Majority => "majority",
        }
    }

    /// Whether predictions depend on a random seed.
    pub fn is_random(self) -> bool {
        !matches!(self, Baseline::Majority)
    }

    /// Predictions for `n_test` items after fitting on `train_labels`.
    pub fn predict(
        self,
        train_labels: &[usize],
        n_classes: usize,
        n_test: usize,
        rng: &mut impl Rng,
    ) -> Vec<usize> {
        let mut counts = vec![0usize; n_classes];
        for &l in train_labels {
            counts[l] += 1;
        }
        match self {
            Baseline::Majority => {
                let best = (0..n_classes)
                    .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
                    .expect("at least one class");
                vec![best; n_test]
            }
            Baseline::Uniform => {
                let seen: Vec<usize> = (0..n_classes).filter(|&c| counts[c] > 0).collect();
                (0..n_test)
                    .map(|_| seen[rng.random_range(0..seen.len())])
                    .collect()
            }
            Baseline::Stratified => {
                let dist = WeightedIndex::new(&counts).expect("training part is not empty");
                (0..n_test).map(|_| dist.sample(rng)).collect()
            }
        }
    }
}

/// One baseline on one outer fold.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineFold {
    /// Outer fold index.
    pub fold: usize,
    /// Training items.
    pub n_train: usize,
    /// Test items.
    pub n_test: usize,
    /// Metrics (the mean over seeds for a random baseline).
    pub metrics: Scalars,
    /// Spread over seeds (random baselines only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std_over_seeds: Option<Scalars>,
    /// F1 per class (mean over seeds for a random baseline).
    pub per_class_f1: Vec<f64>,
    /// `confusion[true][predicted]` (mean over seeds for a random baseline).
    pub confusion: Vec<Vec<f64>>,
}

/// One baseline on every outer fold.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineResult {
    /// Which baseline.
    pub baseline: Baseline,
    /// Seeds averaged per fold (1 for a deterministic baseline).
    pub seeds: usize,
    /// Per outer fold.
    pub folds: Vec<BaselineFold>,
    /// Mean ± sample standard deviation over outer folds of the per-fold metrics.
    pub summary: Scalars<MeanStd>,
    /// Confusion matrix summed over outer folds.
    pub confusion: Vec<Vec<f64>>,
}

/// Scores every baseline on the outer folds; random ones are averaged over `random_seeds`
/// seeds derived from `seed_value`.
pub fn score_baselines(
    labels: &[usize],
    n_classes: usize,
    outer: &[OuterFold],
    seed_value: u64,
    random_seeds: usize,
) -> Vec<BaselineResult> {
    Baseline::ALL
        .iter()
        .map(|&baseline| {
            let seeds = if baseline.is_random() {
                random_seeds.max(1)
            } else {
                1
            };
            let folds: Vec<BaselineFold> = outer
                .iter()
                .enumerate()
                .map(|(f, fold)| {
                    let train: Vec<usize> = fold.train.iter().map(|&i| labels[i]).collect();
                    let truth: Vec<usize> = fold.test.iter().map(|&i| labels[i]).collect();
                    let runs: Vec<Metrics> = (0..seeds)
                        .map(|s| {
                            let mut rng = seed::rng(
                                seed_value,
                                &[seed::tag(baseline.name()), f as u64, s as u64],
                            );
                            let pred = baseline.predict(&train, n_classes, truth.len(), &mut rng);
                            Metrics::compute(&truth, &pred, n_classes)
                        })
                        .collect();
                    fold_score(f, train.len(), &runs, baseline.is_random())
                })
                .collect();
            let per_fold: Vec<Scalars> = folds.iter().map(|f| f.metrics).collect();
            let mut confusion = vec![vec![0.0; n_classes]; n_classes];
            for fold in &folds {
                add_matrix(&mut confusion, &fold.confusion, 1.0);
            }
            BaselineResult {
                baseline,
                seeds,
                summary: Scalars::collect(&per_fold, |v| MeanStd::of(v)),
                folds,
                confusion,
            }
        })
        .collect()
}

fn add_matrix(into: &mut [Vec<f64>], m: &[Vec<f64>], scale: f64) {
    for (row, add) in into.iter_mut().zip(m) {
        for (x, y) in row.iter_mut().zip(add) {
            *x += y * scale;
        }
    }
}

fn fold_score(fold: usize, n_train: usize, runs: &[Metrics], random: bool) -> BaselineFold {
    let scalars: Vec<Scalars> = runs.iter().map(Metrics::scalars).collect();
    let stats = Scalars::collect(&scalars, |v| MeanStd::of(v));
    let n_classes = runs[0].per_class.len();
    let scale = 1.0 / runs.len() as f64;
    let mut confusion = vec![vec![0.0; n_classes]; n_classes];
    for run in runs {
        let counts: Vec<Vec<f64>> = run
            .confusion
            .iter()
            .map(|row| row.iter().map(|&c| c as f64).collect())
            .collect();
        add_matrix(&mut confusion, &counts, scale);
    }
    BaselineFold {
        fold,
        n_train,
        n_test: runs[0].confusion.iter().flatten().sum(),
        metrics: Scalars::collect(std::slice::from_ref(&stats), |v| v[0].mean),
        std_over_seeds: random
            .then(|| Scalars::collect(std::slice::from_ref(&stats), |v| v[0].std)),
        per_class_f1: (0..n_classes)
            .map(|c| runs.iter().map(|r| r.per_class[c].f1).sum::<f64>() * scale)
            .collect(),
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cv::NestedSplits;

    fn toy() -> (Vec<usize>, Vec<usize>, Vec<String>) {
        // 4 classes, imbalanced, 2 items per group.
        let labels: Vec<usize> = (0..120)
            .map(|i| [0, 0, 0, 0, 0, 1, 1, 2, 3, 0][(i / 2) % 10])
            .collect();
        let groups: Vec<usize> = (0..120).map(|i| i / 2).collect();
        let names = ["a", "b", "c", "d"].map(String::from).to_vec();
        (labels, groups, names)
    }

    #[test]
    fn majority_accuracy_is_the_test_share_of_the_training_majority() {
        let (labels, groups, names) = toy();
        let splits = NestedSplits::new(&labels, &groups, &[true; 120], &names, 5, 3, 9).unwrap();
        let results = score_baselines(&labels, 4, &splits.outer, 9, 10);
        let majority = results
            .iter()
            .find(|r| r.baseline == Baseline::Majority)
            .unwrap();
        assert_eq!(majority.seeds, 1);
        for (fold, outer) in majority.folds.iter().zip(&splits.outer) {
            let share = outer.test.iter().filter(|&&i| labels[i] == 0).count() as f64
                / outer.test.len() as f64;
            assert!((fold.metrics.accuracy - share).abs() < 1e-12);
            // Recall 1 on the majority class and 0 elsewhere: balanced accuracy is 1/present.
            let present = (0..4)
                .filter(|c| outer.test.iter().any(|&i| labels[i] == *c))
                .count();
            assert!((fold.metrics.balanced_accuracy - 1.0 / present as f64).abs() < 1e-12);
            assert!(fold.std_over_seeds.is_none());
        }
    }

    #[test]
    fn random_baselines_are_near_their_expectation_and_reproducible() {
        let (labels, groups, names) = toy();
        let splits = NestedSplits::new(&labels, &groups, &[true; 120], &names, 5, 3, 1).unwrap();
        let a = score_baselines(&labels, 4, &splits.outer, 1, 100);
        let b = score_baselines(&labels, 4, &splits.outer, 1, 100);
        let uniform = &a[0];
        assert_eq!(uniform.baseline, Baseline::Uniform);
        assert_eq!(uniform.seeds, 100);
        // Uniform guessing over 4 classes: balanced accuracy 1/4 in expectation.
        assert!((uniform.summary.balanced_accuracy.mean - 0.25).abs() < 0.03);
        // Stratified: accuracy = sum of p_train * p_test ≈ 0.6² + 0.2² + 0.1² + 0.1² = 0.42.
        let strat = &a[1];
        assert!(
            (strat.summary.accuracy.mean - 0.42).abs() < 0.03,
            "{}",
            strat.summary.accuracy.mean
        );
        assert!(strat.folds[0].std_over_seeds.unwrap().accuracy > 0.0);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.summary, y.summary);
        }
        let c = score_baselines(&labels, 4, &splits.outer, 2, 100);
        assert_ne!(a[0].summary, c[0].summary);
    }

    #[test]
    fn predictions_use_only_training_classes() {
        let mut rng = seed::rng(0, &[]);
        let train = [2, 2, 2, 1];
        for b in Baseline::ALL {
            let pred = b.predict(&train, 4, 500, &mut rng);
            assert!(pred.iter().all(|&p| p == 1 || p == 2), "{b:?}");
        }
        assert!(Baseline::Majority.predict(&train, 4, 3, &mut rng) == [2, 2, 2]);
        assert_eq!(
            Baseline::Majority.predict(&[3, 1], 4, 1, &mut rng),
            [1],
            "tie: first label"
        );
    }
}
