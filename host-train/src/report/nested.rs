//! The nested cross-validation report: model vs baselines on the same outer folds.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::detection::DetectionReport;
use super::markdown::{baselines_table, cell, data_section, split_section};
use super::{CvSummary, DataSummary};
use crate::eval::{BaselineResult, MeanStd, Metrics, PairedTest, Scalars, paired_tests};
use crate::train::fit::FitSettings;
use crate::train::grid::{Grid, HyperParams};
use crate::train::session::{Selection, UnitResult};

/// Identifies the `report.json` layout; bumped on any incompatible change.
pub const NESTED_SCHEMA: &str = "cry-nested-cv/1";

/// The model a run started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Where it came from: a checkpoint path or hub id, or the random-init architecture.
    pub source: String,
    /// BLAKE3 of its `config.json` and weights.
    pub checkpoint_hash: String,
    /// True when the weights are random (`host-train init`), not pretrained.
    pub random_init: bool,
    /// Transformer layers.
    pub layers: usize,
    /// Hidden width.
    pub hidden_size: usize,
}

/// The outcome of one outer fold: the inner choice and the refit scored on the test part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OuterResult {
    /// Outer fold index.
    pub fold: usize,
    /// The inner-CV scores and choice.
    pub selection: Selection,
    /// The chosen configuration refitted on the outer training part, scored on its test part.
    pub refit: UnitResult,
}

/// One outer fold in the report.
#[derive(Debug, Clone, Serialize)]
pub struct FoldReport {
    /// Outer fold index.
    pub fold: usize,
    /// Training clips (fit + early-stopping validation).
    pub n_train: usize,
    /// Test clips.
    pub n_test: usize,
    /// Configuration chosen by the inner CV.
    pub chosen: HyperParams,
    /// Its mean inner selection score: the macro-F1 (with a cry head, the mean of the reasons'
    /// and the cry head's macro-F1).
    pub inner_macro_f1: MeanStd,
    /// Epoch the refit stopped at.
    pub best_epoch: usize,
    /// Test metrics.
    pub metrics: Scalars,
    /// F1 per class, label order.
    pub per_class_f1: Vec<f64>,
    /// `[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

/// Compute seconds per stage, summed over units (and over jobs for a merged run).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageSeconds {
    /// Frozen features of every clip (decoding, forward pass below the boundaries, cache I/O).
    pub caching: f64,
    /// Fitting: inner units and refits.
    pub training: f64,
    /// Scoring held-out clips: inner units and refits.
    pub scoring: f64,
}

/// The model against the best baseline over the outer folds.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The baseline with the best mean macro-F1.
    pub baseline: String,
    /// Metric compared.
    pub metric: &'static str,
    /// Model minus baseline, per outer fold.
    pub differences: Vec<f64>,
    /// The tests.
    pub test: PairedTest,
}

/// `report.json` of `host-train nested-cv` (and `merge`).
#[derive(Debug, Clone, Serialize)]
pub struct NestedReport {
    /// [`NESTED_SCHEMA`].
    pub schema: &'static str,
    /// Present when the model is not pretrained; also the report's first line.
    pub warning: Option<String>,
    /// `host-train <version>`.
    pub generated_by: String,
    /// The command that started the run.
    pub command: String,
    /// The starting model.
    pub model: ModelInfo,
    /// The data.
    pub data: DataSummary,
    /// The split.
    pub cv: CvSummary,
    /// The grid searched in each outer fold.
    pub grid: Grid,
    /// Settings shared by every fit.
    pub fit: FitSettings,
    /// Training crop and crop-grid step, seconds.
    pub crop_seconds: (f64, f64),
    /// Per outer fold.
    pub folds: Vec<FoldReport>,
    /// Mean ± std over outer folds.
    pub summary: Scalars<MeanStd>,
    /// Mean ± std of each class's F1.
    pub per_class_f1: Vec<MeanStd>,
    /// Confusion matrix summed over outer folds.
    pub confusion: Vec<Vec<usize>>,
    /// Baselines on the same outer folds.
    pub baselines: Vec<BaselineResult>,
    /// Model vs the best baseline.
    pub comparison: Comparison,
    /// Compute seconds per stage.
    pub timings: StageSeconds,
    /// The reason head's classes (the dataset's classes without `cry` and `not_cry`): the
    /// metrics above are over the clips that have one.
    pub reasons: Vec<String>,
    /// With a cry head: the detection figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection: Option<DetectionReport>,
    /// Every fold's inner scores and refit, for audit.
    pub details: Vec<OuterResult>,
}

/// The first line of every report about a model that is not pretrained.
pub fn random_init_warning(model: &ModelInfo) -> Option<String> {
    model.random_init.then(|| {
        format!(
            "NOT FROM PRETRAINED WEIGHTS: this model started from random weights ({}); \
             its numbers say nothing about pretrained HuBERT.",
            model.source
        )
    })
}

/// Everything the report needs besides the outer results.
pub struct ReportInputs<'a> {
    /// Command that started the run.
    pub command: &'a str,
    /// Starting model.
    pub model: &'a ModelInfo,
    /// Data summary.
    pub data: &'a DataSummary,
    /// Split summary.
    pub cv: &'a CvSummary,
    /// Grid.
    pub grid: &'a Grid,
    /// Fit settings.
    pub fit: &'a FitSettings,
    /// Crop and crop step, seconds.
    pub crop_seconds: (f64, f64),
    /// The reason of every clip (`None` for `cry` and `not_cry` clips).
    pub reason_of: &'a [Option<usize>],
    /// The reason head's classes.
    pub reasons: &'a [String],
    /// With a cry head: the detection figures.
    pub detection: Option<DetectionReport>,
    /// Baselines on the same folds.
    pub baselines: Vec<BaselineResult>,
    /// Caching seconds.
    pub caching_seconds: f64,
}

impl NestedReport {
    /// Builds the report from every outer fold's result (in fold order).
    pub fn new(inputs: ReportInputs<'_>, results: Vec<OuterResult>) -> Self {
        let n_classes = inputs.reasons.len();
        let mut timings = StageSeconds {
            caching: inputs.caching_seconds,
            ..StageSeconds::default()
        };
        let mut confusion = vec![vec![0usize; n_classes]; n_classes];
        let folds: Vec<FoldReport> = results
            .iter()
            .map(|r| {
                let (truth, predicted): (Vec<usize>, Vec<usize>) = r
                    .refit
                    .scored
                    .iter()
                    .zip(&r.refit.predictions)
                    .filter_map(|(&i, &p)| inputs.reason_of[i].map(|t| (t, p)))
                    .unzip();
                let metrics = Metrics::compute(&truth, &predicted, n_classes);
                for (row, counts) in confusion.iter_mut().zip(&metrics.confusion) {
                    for (cell, n) in row.iter_mut().zip(counts) {
                        *cell += n;
                    }
                }
                timings.training += r.selection.train_seconds + r.refit.train_seconds;
                timings.scoring += r.selection.score_seconds + r.refit.score_seconds;
                let (chosen, inner_macro_f1) = r.selection.scores[r.selection.chosen];
                FoldReport {
                    fold: r.fold,
                    n_train: r.refit.n_fit + r.refit.n_validation,
                    n_test: truth.len(),
                    chosen,
                    inner_macro_f1,
                    best_epoch: r.refit.best_epoch,
                    metrics: metrics.scalars(),
                    per_class_f1: metrics.per_class.iter().map(|c| c.f1).collect(),
                    confusion: metrics.confusion,
                }
            })
            .collect();
        let scalars: Vec<Scalars> = folds.iter().map(|f| f.metrics).collect();
        let summary = Scalars::collect(&scalars, |v| MeanStd::of(v));
        let per_class_f1 = (0..n_classes)
            .map(|c| MeanStd::of(folds.iter().map(|f| &f.per_class_f1[c])))
            .collect();
        let best = inputs
            .baselines
            .iter()
            .max_by(|a, b| a.summary.macro_f1.mean.total_cmp(&b.summary.macro_f1.mean))
            .expect("at least one baseline");
        let model_f1: Vec<f64> = folds.iter().map(|f| f.metrics.macro_f1).collect();
        let baseline_f1: Vec<f64> = best.folds.iter().map(|f| f.metrics.macro_f1).collect();
        let comparison = Comparison {
            baseline: best.baseline.name().to_string(),
            metric: "macro F1",
            differences: model_f1
                .iter()
                .zip(&baseline_f1)
                .map(|(m, b)| m - b)
                .collect(),
            test: paired_tests(&model_f1, &baseline_f1),
        };
        Self {
            schema: NESTED_SCHEMA,
            warning: random_init_warning(inputs.model),
            generated_by: format!("host-train {}", env!("CARGO_PKG_VERSION")),
            command: inputs.command.to_string(),
            model: inputs.model.clone(),
            data: inputs.data.clone(),
            cv: inputs.cv.clone(),
            grid: inputs.grid.clone(),
            fit: inputs.fit.clone(),
            crop_seconds: inputs.crop_seconds,
            folds,
            summary,
            per_class_f1,
            confusion,
            baselines: inputs.baselines,
            comparison,
            timings,
            reasons: inputs.reasons.to_vec(),
            detection: inputs.detection,
            details: results,
        }
    }

    /// `report.md`.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        if let Some(w) = &self.warning {
            let _ = writeln!(md, "> **{w}**\n");
        }
        let _ = writeln!(md, "# Nested cross-validation\n");
        let _ = writeln!(md, "Command: `{}`  ", self.command);
        let _ = writeln!(md, "Generated by {}.\n", self.generated_by);
        let m = &self.model;
        let _ = writeln!(
            md,
            "Model: {} ({} layers, width {}; checkpoint BLAKE3 `{}`). Each fit starts from it \
             with a newly initialised head.\n",
            m.source,
            m.layers,
            m.hidden_size,
            &m.checkpoint_hash[..16.min(m.checkpoint_hash.len())]
        );
        data_section(&mut md, &self.data);
        split_section(&mut md, &self.cv);
        let f = &self.fit;
        let _ = writeln!(
            md,
            "\n## Training\n\nGrid (inner CV, best mean macro-F1 wins): learning rate {:?} × \
             trainable depth [{}] × class weighting {:?}. AdamW (weight decay {}), linear warm-up \
             over {} % of the steps then linear decay, per-tensor gradient-norm clipping at {}, \
             batch {}, at most {} epochs, early stopping (patience {}) on {} % of the training \
             groups. Crops of {} s on a {} s grid; clips scored by averaging the logits of their \
             {} s windows every {} s (as `edge-infer`).\n",
            self.grid.learning_rate,
            self.grid
                .depth
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            self.grid.class_weighting,
            f.weight_decay,
            f.warmup_ratio * 100.0,
            f.clip_norm,
            f.batch_size,
            f.epochs,
            f.patience,
            f.validation_share * 100.0,
            self.crop_seconds.0,
            self.crop_seconds.1,
            cry_core::contract::WINDOW_SECONDS,
            cry_core::contract::HOP_SAMPLES as f64 / f64::from(cry_core::contract::SAMPLE_RATE_HZ),
        );

        let _ = writeln!(
            md,
            "## Results\n\nMean ± sample standard deviation over the {} outer test folds.\n",
            self.folds.len()
        );
        if self.detection.is_some() {
            let _ = writeln!(
                md,
                "Reasons ({}): scored on the test clips that have one; `cry` and `not_cry` \
                 clips are scored by the cry head (see Cry detection below).\n",
                self.reasons.join(", ")
            );
        }
        let _ = writeln!(
            md,
            "| | accuracy | balanced accuracy | macro precision | macro recall | macro F1 |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        let s = &self.summary;
        let _ = writeln!(
            md,
            "| **model** | {} | {} | {} | {} | {} |",
            cell(&s.accuracy),
            cell(&s.balanced_accuracy),
            cell(&s.macro_precision),
            cell(&s.macro_recall),
            cell(&s.macro_f1)
        );
        let _ = writeln!(md, "\nBaselines on the same folds:\n");
        baselines_table(&mut md, &self.baselines);

        let c = &self.comparison;
        let _ = writeln!(
            md,
            "\n### Model vs {} ({}, paired over outer folds)\n\nMean difference {:+.3}; \
             exact sign-flip permutation p = {:.4}; paired t-test p = {}. With {} folds the \
             permutation p cannot go below {:.4}.\n",
            c.baseline,
            c.metric,
            c.test.mean_difference,
            c.test.permutation_p,
            c.test
                .t_test_p
                .map_or("n/a (no spread)".to_string(), |p| format!("{p:.4}")),
            self.folds.len(),
            2.0 / f64::from(1u32 << self.folds.len().min(20))
        );

        let _ = writeln!(md, "### Per outer fold\n");
        let _ = writeln!(
            md,
            "| fold | train | test | chosen | {} | epoch | accuracy | balanced acc. | macro F1 | {} |",
            if self.detection.is_some() {
                "inner score (mean of reason and cry macro F1)"
            } else {
                "inner macro F1"
            },
            self.reasons
                .iter()
                .map(|l| format!("F1 {l}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(
            md,
            "|---:|---:|---:|---|---|---:|---:|---:|---:|{}",
            "---:|".repeat(self.reasons.len())
        );
        for fold in &self.folds {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {} |",
                fold.fold,
                fold.n_train,
                fold.n_test,
                fold.chosen,
                cell(&fold.inner_macro_f1),
                fold.best_epoch,
                fold.metrics.accuracy,
                fold.metrics.balanced_accuracy,
                fold.metrics.macro_f1,
                fold.per_class_f1
                    .iter()
                    .map(|v| format!("{v:.3}"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        let _ = writeln!(
            md,
            "| mean ± std | | | | | | {} | {} | {} | {} |",
            cell(&s.accuracy),
            cell(&s.balanced_accuracy),
            cell(&s.macro_f1),
            self.per_class_f1
                .iter()
                .map(cell)
                .collect::<Vec<_>>()
                .join(" | ")
        );

        let _ = writeln!(
            md,
            "\n### Confusion matrix, summed over outer folds (rows: true, columns: predicted)\n"
        );
        let _ = writeln!(md, "| | {} |", self.reasons.join(" | "));
        let _ = writeln!(md, "|---|{}", "---:|".repeat(self.reasons.len()));
        for (label, row) in self.reasons.iter().zip(&self.confusion) {
            let cells: Vec<String> = row.iter().map(usize::to_string).collect();
            let _ = writeln!(md, "| **{label}** | {} |", cells.join(" | "));
        }

        let t = &self.timings;
        let _ = writeln!(
            md,
            "\n### Compute time\n\n| stage | seconds |\n|---|---:|\n| caching (frozen features) | {:.1} |\n\
             | training | {:.1} |\n| scoring | {:.1} |\n| total | {:.1} |\n\n\
             Summed over units of work (and over jobs when merged); a resumed run counts each \
             unit once.",
            t.caching,
            t.training,
            t.scoring,
            t.caching + t.training + t.scoring
        );
        if let Some(detection) = &self.detection {
            let _ = writeln!(md);
            detection.to_markdown(&mut md);
        }
        md
    }
}
