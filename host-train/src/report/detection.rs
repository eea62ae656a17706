//! The cry-detection part of a nested-cv report: the cry head against the energy gate and the
//! audio-blind baselines, on the same outer folds, with a threshold chosen without the test part
//! for a false-alarm budget, alerts replayed through the edge's own logic, and the figures per
//! source dataset.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cry_core::alerts::AlertPolicy;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::cv::OuterFold;
use crate::data::Target;
use crate::eval::MeanStd;
use crate::eval::detection::{
    AlertFigures, DetectionClip, DetectorFold, alert_figures_each, choose_threshold, roc_auc,
    roc_points, score_level,
};
use crate::seed;

/// What the report needs to know of each clip beyond its label: its length, the levels of its
/// stream windows (for the energy gate) and the dataset it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipFacts {
    /// Seconds at the model rate.
    pub seconds: f64,
    /// RMS level (dBFS) of each stream window.
    pub levels_dbfs: Vec<f64>,
    /// The source dataset (the `--data` folder it came from).
    pub source: String,
}

/// Every clip's [`ClipFacts`], in dataset order: computed once per run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionInputs {
    /// Per clip.
    pub clips: Vec<ClipFacts>,
}

/// One detector over the outer folds.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorResult {
    /// `cry head`, `energy gate`, `majority`, `stratified`.
    pub name: String,
    /// How its threshold was chosen.
    pub threshold_from: String,
    /// Per outer fold.
    pub folds: Vec<DetectorFold>,
    /// Mean ± std over the folds of the ranking and clip figures.
    pub summary: DetectorSummary,
    /// The alerts over every test clip of every fold (each under its fold's threshold).
    pub alerts: AlertFigures,
    /// The same per source dataset.
    pub by_source: Vec<SourceFigures>,
}

/// Mean ± std over folds.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorSummary {
    /// ROC AUC (folds with both classes).
    pub roc_auc: MeanStd,
    /// Average precision.
    pub average_precision: MeanStd,
    /// Precision of "cry" at the threshold.
    pub precision: MeanStd,
    /// Recall of "cry".
    pub recall: MeanStd,
    /// F1 of "cry".
    pub f1: MeanStd,
    /// Balanced accuracy of cry vs not cry.
    pub balanced_accuracy: MeanStd,
}

/// A detector's figures on one source dataset's test clips, pooled over folds.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFigures {
    /// The source.
    pub source: String,
    /// Cry clips and non-cry clips.
    pub clips: (usize, usize),
    /// ROC AUC of the pooled clip scores (`None` with one class).
    pub roc_auc: Option<f64>,
    /// Alerts.
    pub alerts: AlertFigures,
}

/// The cry-detection section of `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionReport {
    /// The false-alarm budget thresholds are chosen for.
    pub max_false_alarms_per_hour: f64,
    /// The alert policy (its threshold replaced per fold and detector).
    pub policy: AlertPolicy,
    /// The cry head first, then the baselines.
    pub detectors: Vec<DetectorResult>,
    /// The cry head's pooled ROC curve, `(false positive rate, true positive rate)`.
    pub roc: Vec<(f64, f64)>,
    /// The energy gate's.
    pub energy_roc: Vec<(f64, f64)>,
}

/// What [`DetectionReport::new`] works from.
pub struct DetectionInputsRef<'a> {
    /// Every clip's target, dataset order.
    pub targets: &'a [Target],
    /// Every clip's facts.
    pub facts: &'a [ClipFacts],
    /// The outer folds.
    pub splits: &'a [OuterFold],
    /// Per outer fold: the cry head's test clips (the refit, scored on the test part).
    pub test: Vec<Vec<DetectionClip>>,
    /// Per outer fold: the inner held-out clips of the configuration the inner CV chose (what
    /// the cry head's threshold is chosen on).
    pub inner: Vec<Vec<DetectionClip>>,
    /// The policy.
    pub policy: AlertPolicy,
    /// The budget.
    pub max_false_alarms_per_hour: f64,
    /// Run seed (the stratified baseline's draws).
    pub seed: u64,
}

impl DetectionReport {
    /// Scores every detector on every outer fold.
    pub fn new(inputs: DetectionInputsRef<'_>) -> Self {
        let policy = inputs.policy;
        let budget = inputs.max_false_alarms_per_hour;
        let gate_clip = |i: usize| {
            let f = &inputs.facts[i];
            DetectionClip::from_levels(inputs.targets[i].is_cry(), f.seconds, &f.levels_dbfs)
        };
        let sources: Vec<Vec<String>> = inputs
            .splits
            .iter()
            .map(|fold| {
                fold.test
                    .iter()
                    .map(|&i| inputs.facts[i].source.clone())
                    .collect()
            })
            .collect();
        let mut model = Vec::new();
        let mut energy = Vec::new();
        let mut majority = Vec::new();
        let mut stratified = Vec::new();
        for (k, fold) in inputs.splits.iter().enumerate() {
            let test = &inputs.test[k];
            let threshold = choose_threshold(&inputs.inner[k], policy, budget);
            model.push((
                DetectorFold::score(k, test, policy, threshold),
                test.clone(),
            ));

            let train: Vec<DetectionClip> = fold.train.iter().map(|&i| gate_clip(i)).collect();
            let gate_test: Vec<DetectionClip> = fold.test.iter().map(|&i| gate_clip(i)).collect();
            let threshold = choose_threshold(&train, policy, budget);
            energy.push((
                DetectorFold::score(k, &gate_test, policy, threshold),
                gate_test.clone(),
            ));

            let cry_share = fold
                .train
                .iter()
                .filter(|&&i| inputs.targets[i].is_cry())
                .count() as f64
                / fold.train.len().max(1) as f64;
            let constant = if cry_share >= 0.5 { 1.0 } else { 0.0 };
            let blind: Vec<DetectionClip> =
                gate_test.iter().map(|c| c.constant(constant)).collect();
            majority.push((DetectorFold::score(k, &blind, policy, 0.5), blind));
            let mut rng = seed::rng(inputs.seed, &[seed::tag("stratified-detector"), k as u64]);
            let drawn: Vec<DetectionClip> = gate_test
                .iter()
                .map(|c| c.constant(if rng.random_bool(cry_share) { 1.0 } else { 0.0 }))
                .collect();
            stratified.push((DetectorFold::score(k, &drawn, policy, 0.5), drawn));
        }
        let pooled_roc = |runs: &[(DetectorFold, Vec<DetectionClip>)]| {
            let clips: Vec<&DetectionClip> = runs.iter().flat_map(|(_, c)| c).collect();
            roc_points(
                &clips.iter().map(|c| c.score()).collect::<Vec<_>>(),
                &clips.iter().map(|c| c.is_cry).collect::<Vec<_>>(),
            )
        };
        let (roc, energy_roc) = (pooled_roc(&model), pooled_roc(&energy));
        let result = |name: &str, from: &str, runs: Vec<(DetectorFold, Vec<DetectionClip>)>| {
            detector_result(name, from, runs, &sources, policy)
        };
        Self {
            max_false_alarms_per_hour: budget,
            policy,
            detectors: vec![
                result(
                    "cry head",
                    "the inner CV's held-out clips (chosen configuration)",
                    model,
                ),
                result("energy gate", "the outer training part's clips", energy),
                result("majority", "none (constant)", majority),
                result("stratified", "none (one seeded draw per fold)", stratified),
            ],
            roc,
            energy_roc,
        }
    }

    /// The markdown section.
    pub fn to_markdown(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "\n## Cry detection\n\nEach held-out clip is streamed as the edge would ({} s windows every \
             {} s) and its windows' cry probabilities replayed through the edge's alert logic \
             (`cry_core::alerts`: threshold with hysteresis at {:.0} % of it, {} windows to alert, \
             {} to calm). Thresholds are chosen without the test part for at most {} false \
             alarm(s) per hour of non-cry audio. A clip counts as a detected cry when its mean \
             window probability reaches the threshold; false alarms are cry alerts on non-cry \
             clips.\n",
            cry_core::contract::WINDOW_SECONDS,
            cry_core::contract::HOP_SAMPLES as f64 / f64::from(cry_core::contract::SAMPLE_RATE_HZ),
            100.0 * self.policy.release / self.policy.threshold,
            self.policy.debounce,
            self.policy.calm_windows,
            self.max_false_alarms_per_hour
        );
        let _ = writeln!(
            md,
            "| detector | threshold from | ROC AUC | AP | precision | recall | F1 | balanced acc. | \
             false alarms / h | cry clips alerted | median s to alert |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---:|---:|---:|");
        for d in &self.detectors {
            let s = &d.summary;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                if d.name == "cry head" {
                    format!("**{}**", d.name)
                } else {
                    d.name.clone()
                },
                d.threshold_from,
                super::markdown::cell(&s.roc_auc),
                super::markdown::cell(&s.average_precision),
                super::markdown::cell(&s.precision),
                super::markdown::cell(&s.recall),
                super::markdown::cell(&s.f1),
                super::markdown::cell(&s.balanced_accuracy),
                rate(&d.alerts),
                alerted(&d.alerts),
                d.alerts
                    .median_seconds_to_alert
                    .map_or("–".into(), |t| format!("{t:.1}"))
            );
        }
        let _ = writeln!(
            md,
            "\nROC AUC, AP and the clip figures: mean ± std over the outer folds. Alerts: pooled \
             over every test clip of every fold.\n\n### Per source dataset\n\nIf a detector \
             tells the datasets apart rather than cries from the rest, it shows here: compare the \
             rates within each source.\n"
        );
        let _ = writeln!(
            md,
            "| detector | source | cry / non-cry clips | ROC AUC | false alarms / h | cry clips alerted |"
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
        for d in self.detectors.iter().take(2) {
            for s in &d.by_source {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} / {} | {} | {} | {} |",
                    d.name,
                    s.source,
                    s.clips.0,
                    s.clips.1,
                    s.roc_auc.map_or("–".into(), |a| format!("{a:.3}")),
                    rate(&s.alerts),
                    alerted(&s.alerts)
                );
            }
        }
        let _ = writeln!(md, "\n### Thresholds per outer fold\n");
        let _ = writeln!(md, "| fold | cry head (probability) | energy gate (dBFS) |");
        let _ = writeln!(md, "|---:|---:|---:|");
        for (m, e) in self.detectors[0].folds.iter().zip(&self.detectors[1].folds) {
            let _ = writeln!(
                md,
                "| {} | {:.4} | {:.1} |",
                m.fold,
                m.threshold,
                score_level(e.threshold)
            );
        }
    }
}

fn rate(a: &AlertFigures) -> String {
    match a.false_alarms_per_hour {
        Some(r) => format!("{r:.1} ({} in {:.2} h)", a.false_alarms, a.non_cry_hours),
        None => "–".into(),
    }
}

fn alerted(a: &AlertFigures) -> String {
    match a.share_alerted {
        Some(s) => format!(
            "{:.1} % ({}/{})",
            100.0 * s,
            a.cry_clips_alerted,
            a.cry_clips
        ),
        None => "–".into(),
    }
}

fn detector_result(
    name: &str,
    threshold_from: &str,
    runs: Vec<(DetectorFold, Vec<DetectionClip>)>,
    sources: &[Vec<String>],
    policy: AlertPolicy,
) -> DetectorResult {
    let folds: Vec<DetectorFold> = runs.iter().map(|(f, _)| f.clone()).collect();
    let mean = |get: &dyn Fn(&DetectorFold) -> Option<f64>| {
        MeanStd::of(folds.iter().filter_map(get).collect::<Vec<_>>().iter())
    };
    let summary = DetectorSummary {
        roc_auc: mean(&|f| f.roc_auc),
        average_precision: mean(&|f| f.average_precision),
        precision: mean(&|f| Some(f.clips.precision)),
        recall: mean(&|f| Some(f.clips.recall)),
        f1: mean(&|f| Some(f.clips.f1)),
        balanced_accuracy: mean(&|f| Some(f.clips.balanced_accuracy)),
    };
    let mut all: Vec<(AlertPolicy, &DetectionClip)> = Vec::new();
    let mut by_source: BTreeMap<&str, Vec<(AlertPolicy, &DetectionClip)>> = BTreeMap::new();
    for ((fold, clips), names) in runs.iter().zip(sources) {
        let fold_policy = policy.with_threshold(fold.threshold);
        for (clip, source) in clips.iter().zip(names) {
            all.push((fold_policy, clip));
            by_source
                .entry(source.as_str())
                .or_default()
                .push((fold_policy, clip));
        }
    }
    let by_source = by_source
        .into_iter()
        .map(|(source, runs)| {
            let scores: Vec<f32> = runs.iter().map(|(_, c)| c.score()).collect();
            let truth: Vec<bool> = runs.iter().map(|(_, c)| c.is_cry).collect();
            let cries = truth.iter().filter(|&&t| t).count();
            SourceFigures {
                source: source.to_string(),
                clips: (cries, truth.len() - cries),
                roc_auc: roc_auc(&scores, &truth),
                alerts: alert_figures_each(runs.iter().copied()),
            }
        })
        .collect();
    DetectorResult {
        name: name.into(),
        threshold_from: threshold_from.into(),
        folds,
        summary,
        alerts: alert_figures_each(all.iter().copied()),
        by_source,
    }
}
