//! Classification metrics with scikit-learn's conventions.
//!
//! - Precision, recall and F1 with a zero denominator count as 0 (`zero_division=0`).
//! - Macro and weighted averages run over the labels present in `y_true` or `y_pred`, as
//!   `precision_recall_fscore_support(average=...)` does without `labels=`.
//! - Balanced accuracy is the mean recall over the classes present in `y_true`.
//! - Per-class arrays and the confusion matrix cover every label `0..n_labels`.

use serde::{Deserialize, Serialize};

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// 2 TP / (2 TP + FP + FN).
    pub f1: f64,
    /// Number of true items of the class.
    pub support: usize,
}

/// Averaged precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1.
    pub f1: f64,
}

/// Every metric of one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Share of correct predictions.
    pub accuracy: f64,
    /// Mean recall over the classes present in the truth.
    pub balanced_accuracy: f64,
    /// Unweighted mean over present labels.
    pub macro_avg: Averages,
    /// Support-weighted mean over present labels.
    pub weighted_avg: Averages,
    /// One entry per label.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

/// The scalar metrics that are averaged over folds and seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scalars<T = f64> {
    /// Accuracy.
    pub accuracy: T,
    /// Balanced accuracy.
    pub balanced_accuracy: T,
    /// Macro-averaged precision.
    pub macro_precision: T,
    /// Macro-averaged recall.
    pub macro_recall: T,
    /// Macro-averaged F1.
    pub macro_f1: T,
    /// Support-weighted F1.
    pub weighted_f1: T,
}

impl<T> Scalars<T> {
    /// Metric names in display order, with their value.
    pub fn named(&self) -> [(&'static str, &T); 6] {
        [
            ("accuracy", &self.accuracy),
            ("balanced accuracy", &self.balanced_accuracy),
            ("macro precision", &self.macro_precision),
            ("macro recall", &self.macro_recall),
            ("macro F1", &self.macro_f1),
            ("weighted F1", &self.weighted_f1),
        ]
    }

    /// Builds each field from the field of every item in `items`.
    pub fn collect<U>(items: &[Scalars<U>], f: impl Fn(Vec<&U>) -> T) -> Self {
        let pick = |get: fn(&Scalars<U>) -> &U| f(items.iter().map(get).collect());
        Self {
            accuracy: pick(|s| &s.accuracy),
            balanced_accuracy: pick(|s| &s.balanced_accuracy),
            macro_precision: pick(|s| &s.macro_precision),
            macro_recall: pick(|s| &s.macro_recall),
            macro_f1: pick(|s| &s.macro_f1),
            weighted_f1: pick(|s| &s.weighted_f1),
        }
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl Metrics {
    /// Metrics of `y_pred` against `y_true`, labels in `0..n_labels`.
    pub fn compute(y_true: &[usize], y_pred: &[usize], n_labels: usize) -> Self {
        assert_eq!(y_true.len(), y_pred.len(), "one prediction per item");
        let mut confusion = vec![vec![0usize; n_labels]; n_labels];
        for (&t, &p) in y_true.iter().zip(y_pred) {
            confusion[t][p] += 1;
        }
        let per_class: Vec<ClassMetrics> = (0..n_labels)
            .map(|c| {
                let tp = confusion[c][c];
                let support: usize = confusion[c].iter().sum();
                let predicted: usize = confusion.iter().map(|row| row[c]).sum();
                ClassMetrics {
                    precision: ratio(tp, predicted),
                    recall: ratio(tp, support),
                    f1: ratio(2 * tp, support + predicted),
                    support,
                }
            })
            .collect();
        let present: Vec<usize> = (0..n_labels)
            .filter(|&c| per_class[c].support > 0 || confusion.iter().any(|row| row[c] > 0))
            .collect();
        let average = |weight: &dyn Fn(usize) -> f64| {
            let total: f64 = present.iter().map(|&c| weight(c)).sum();
            let mean = |get: fn(&ClassMetrics) -> f64| {
                if total == 0.0 {
                    0.0
                } else {
                    present
                        .iter()
                        .map(|&c| weight(c) * get(&per_class[c]))
                        .sum::<f64>()
                        / total
                }
            };
            Averages {
                precision: mean(|m| m.precision),
                recall: mean(|m| m.recall),
                f1: mean(|m| m.f1),
            }
        };
        let macro_avg = average(&|_| 1.0);
        let weighted_avg = average(&|c| per_class[c].support as f64);
        let supported: Vec<f64> = per_class
            .iter()
            .filter(|m| m.support > 0)
            .map(|m| m.recall)
            .collect();
        let correct: usize = (0..n_labels).map(|c| confusion[c][c]).sum();
        Self {
            accuracy: ratio(correct, y_true.len()),
            balanced_accuracy: if supported.is_empty() {
                0.0
            } else {
                supported.iter().sum::<f64>() / supported.len() as f64
            },
            macro_avg,
            weighted_avg,
            per_class,
            confusion,
        }
    }

    /// The scalar metrics.
    pub fn scalars(&self) -> Scalars {
        Scalars {
            accuracy: self.accuracy,
            balanced_accuracy: self.balanced_accuracy,
            macro_precision: self.macro_avg.precision,
            macro_recall: self.macro_avg.recall,
            macro_f1: self.macro_avg.f1,
            weighted_f1: self.weighted_avg.f1,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Fixture {
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct PerClass {
        precision: Vec<f64>,
        recall: Vec<f64>,
        f1: Vec<f64>,
        support: Vec<usize>,
    }

    #[derive(Deserialize)]
    struct Case {
        name: String,
        n_labels: usize,
        y_true: Vec<usize>,
        y_pred: Vec<usize>,
        accuracy: f64,
        balanced_accuracy: f64,
        precision_macro: f64,
        recall_macro: f64,
        f1_macro: f64,
        precision_weighted: f64,
        recall_weighted: f64,
        f1_weighted: f64,
        per_class: PerClass,
        confusion: Vec<Vec<usize>>,
    }

    fn close(name: &str, what: &str, got: f64, want: f64) {
        assert!(
            (got - want).abs() < 1e-12,
            "{name}: {what} = {got}, sklearn {want}"
        );
    }

    /// Numbers from `scripts/sklearn_metrics_reference.py` (scikit-learn 1.9.1).
    #[test]
    fn equal_to_scikit_learn() {
        let fixture: Fixture =
            serde_json::from_str(include_str!("../../tests/fixtures/sklearn_metrics.json"))
                .unwrap();
        assert!(fixture.cases.len() >= 8);
        for case in &fixture.cases {
            let m = Metrics::compute(&case.y_true, &case.y_pred, case.n_labels);
            let n = &case.name;
            close(n, "accuracy", m.accuracy, case.accuracy);
            close(
                n,
                "balanced accuracy",
                m.balanced_accuracy,
                case.balanced_accuracy,
            );
            close(
                n,
                "macro precision",
                m.macro_avg.precision,
                case.precision_macro,
            );
            close(n, "macro recall", m.macro_avg.recall, case.recall_macro);
            close(n, "macro F1", m.macro_avg.f1, case.f1_macro);
            close(
                n,
                "weighted precision",
                m.weighted_avg.precision,
                case.precision_weighted,
            );
            close(
                n,
                "weighted recall",
                m.weighted_avg.recall,
                case.recall_weighted,
            );
            close(n, "weighted F1", m.weighted_avg.f1, case.f1_weighted);
            for c in 0..case.n_labels {
                let pc = &m.per_class[c];
                close(n, "precision", pc.precision, case.per_class.precision[c]);
                close(n, "recall", pc.recall, case.per_class.recall[c]);
                close(n, "f1", pc.f1, case.per_class.f1[c]);
                assert_eq!(pc.support, case.per_class.support[c], "{n}: support {c}");
            }
            assert_eq!(m.confusion, case.confusion, "{n}: confusion");
        }
    }
}
