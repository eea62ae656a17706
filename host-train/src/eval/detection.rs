//! Cry-detection figures: how well clip scores rank cries above everything else (ROC AUC,
//! average precision), and what a parent would have seen, by replaying each held-out clip's
//! window probabilities through the edge's own alert logic ([`cry_core::alerts`]): false alarms
//! per hour of non-cry audio, the share of cry clips alerted, and the time from a cry's start to
//! its alert.

use cry_core::alerts::{Alert, AlertPolicy, AlertState, WindowInput};
use cry_core::contract::{HOP_SAMPLES, WINDOW_SAMPLES};
use cry_core::scoring::sigmoid;
use cry_core::windows::{copy_window, on_stream_grid, rms_dbfs, window_end_seconds, window_starts};
use serde::{Deserialize, Serialize};

/// One held-out clip as the detector saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionClip {
    /// The truth: the clip holds a cry.
    pub is_cry: bool,
    /// Length of the clip, seconds.
    pub seconds: f64,
    /// Cry probability of each streamed window, in order.
    pub window_probs: Vec<f32>,
    /// Stream time at the end of each window (seconds from the clip's start).
    pub window_ends: Vec<f64>,
}

impl DetectionClip {
    /// A held-out clip from the cry logits of its scoring windows (which start at `starts`,
    /// in samples): the windows a stream of the clip yields (one every hop from its start; a
    /// clip shorter than a window is its one zero-padded window), each ending at its start plus
    /// a window.
    ///
    /// # Panics
    /// If `starts` and `cry_logits` differ in length.
    pub fn from_scoring_windows(
        is_cry: bool,
        seconds: f64,
        starts: &[usize],
        cry_logits: &[f32],
    ) -> Self {
        assert_eq!(starts.len(), cry_logits.len(), "one logit per window");
        let (window_probs, window_ends) = starts
            .iter()
            .zip(cry_logits)
            .filter(|(start, _)| on_hop_grid(**start))
            .map(|(&start, &z)| (sigmoid(z), window_end(start)))
            .unzip();
        Self {
            is_cry,
            seconds,
            window_probs,
            window_ends,
        }
    }

    /// The clip's score for ranking: the mean of its window probabilities (0 without windows).
    pub fn score(&self) -> f32 {
        if self.window_probs.is_empty() {
            return 0.0;
        }
        self.window_probs.iter().sum::<f32>() / self.window_probs.len() as f32
    }

    /// The alerts the edge would have raised on this clip alone, from a fresh state.
    pub fn alerts(&self, policy: AlertPolicy) -> Vec<Alert> {
        let mut state = AlertState::new(policy, 0);
        self.window_probs
            .iter()
            .zip(&self.window_ends)
            .filter_map(|(&cry_prob, &t)| {
                state.step(
                    t,
                    WindowInput::Scored {
                        cry_prob,
                        reasons: &[],
                    },
                )
            })
            .collect()
    }

    /// How many cry alerts the clip raises.
    pub fn cry_alerts(&self, policy: AlertPolicy) -> usize {
        self.alerts(policy)
            .iter()
            .filter(|a| matches!(a, Alert::Cry { .. }))
            .count()
    }

    /// When the first cry alert came (seconds from the clip's start).
    pub fn first_alert(&self, policy: AlertPolicy) -> Option<f64> {
        self.alerts(policy).into_iter().find_map(|a| match a {
            Alert::Cry { t, .. } => Some(t),
            Alert::Calm { .. } => None,
        })
    }
}

fn on_hop_grid(start: usize) -> bool {
    on_stream_grid(start, HOP_SAMPLES)
}

fn window_end(start: usize) -> f64 {
    window_end_seconds(start, WINDOW_SAMPLES)
}

/// The RMS level (dBFS) of each window a stream of model-rate `samples` yields (the windows
/// [`DetectionClip::from_scoring_windows`] keeps): what the edge's energy gate measures.
pub fn stream_window_levels(samples: &[f32]) -> Vec<f64> {
    let mut window = vec![0.0; WINDOW_SAMPLES];
    window_starts(samples.len(), WINDOW_SAMPLES, HOP_SAMPLES)
        .into_iter()
        .filter(|&s| on_hop_grid(s))
        .map(|s| {
            copy_window(samples, s, &mut window);
            rms_dbfs(&window)
        })
        .collect()
}

/// A level as a score in [0, 1] (−200 dBFS → 0, 0 dBFS → 1, linear), so the energy gate is
/// ranked, thresholded and replayed like a probability.
pub fn level_score(dbfs: f64) -> f32 {
    ((dbfs + 200.0) / 200.0).clamp(0.0, 1.0) as f32
}

/// The level (dBFS) of a [`level_score`].
pub fn score_level(score: f32) -> f64 {
    f64::from(score) * 200.0 - 200.0
}

impl DetectionClip {
    /// The energy gate's view of a clip: its stream windows' levels as scores.
    pub fn from_levels(is_cry: bool, seconds: f64, levels: &[f64]) -> Self {
        Self {
            is_cry,
            seconds,
            window_probs: levels.iter().map(|&l| level_score(l)).collect(),
            window_ends: (0..levels.len())
                .map(|i| window_end(i * HOP_SAMPLES))
                .collect(),
        }
    }

    /// The same clip with every window scored `p` (a detector that ignores the audio).
    pub fn constant(&self, p: f32) -> Self {
        Self {
            window_probs: vec![p; self.window_probs.len()],
            ..self.clone()
        }
    }
}

/// Clip-level figures of "cry" at a threshold on the clip score: cries are the positive class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClipFigures {
    /// Of the clips called cries, the share that are.
    pub precision: f64,
    /// Of the cries, the share called cries.
    pub recall: f64,
    /// Their harmonic mean.
    pub f1: f64,
    /// Mean of the recalls of cries and non-cries.
    pub balanced_accuracy: f64,
}

/// [`ClipFigures`] of `clips` called cries when their score reaches `threshold`.
pub fn clip_figures(clips: &[DetectionClip], threshold: f32) -> ClipFigures {
    let truth: Vec<usize> = clips.iter().map(|c| usize::from(c.is_cry)).collect();
    let predicted: Vec<usize> = clips
        .iter()
        .map(|c| usize::from(c.score() >= threshold))
        .collect();
    let m = super::Metrics::compute(&truth, &predicted, 2);
    ClipFigures {
        precision: m.per_class[1].precision,
        recall: m.per_class[1].recall,
        f1: m.per_class[1].f1,
        balanced_accuracy: m.balanced_accuracy,
    }
}

/// One detector on one outer fold's test part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorFold {
    /// Outer fold index.
    pub fold: usize,
    /// The threshold used, chosen without the test part.
    pub threshold: f32,
    /// ROC AUC of the clip scores (`None` with one class in the test part).
    pub roc_auc: Option<f64>,
    /// Average precision of the clip scores.
    pub average_precision: Option<f64>,
    /// Clip-level figures at the threshold.
    pub clips: ClipFigures,
    /// What a parent would have seen: the test clips replayed through the alert logic.
    pub alerts: AlertFigures,
}

impl DetectorFold {
    /// Scores `test` with `threshold` under `policy`.
    pub fn score(fold: usize, test: &[DetectionClip], policy: AlertPolicy, threshold: f32) -> Self {
        let scores: Vec<f32> = test.iter().map(DetectionClip::score).collect();
        let truth: Vec<bool> = test.iter().map(|c| c.is_cry).collect();
        Self {
            fold,
            threshold,
            roc_auc: roc_auc(&scores, &truth),
            average_precision: average_precision(&scores, &truth),
            clips: clip_figures(test, threshold),
            alerts: alert_figures(test, policy.with_threshold(threshold)),
        }
    }
}

/// Points `(false positive rate, true positive rate)` of the ROC curve of `scores`, from
/// (0, 0) to (1, 1), one per distinct score.
pub fn roc_points(scores: &[f32], positive: &[bool]) -> Vec<(f64, f64)> {
    let n_pos = positive.iter().filter(|&&p| p).count().max(1) as f64;
    let n_neg = positive.iter().filter(|&&p| !p).count().max(1) as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            if positive[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        points.push((fp as f64 / n_neg, tp as f64 / n_pos));
        i = j + 1;
    }
    points
}

/// Area under the ROC curve of `scores` against `positive` (ties count half), or `None` when
/// one side is empty.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len(), "one truth per score");
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mann-Whitney: the mean rank of the positives, ties given their average rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += rank * order[i..=j].iter().filter(|&&k| positive[k]).count() as f64;
        i = j + 1;
    }
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Average precision (scikit-learn's definition: the precision at each threshold weighted by
/// the recall it adds; tied scores form one threshold), or `None` without positives.
pub fn average_precision(scores: &[f32], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len(), "one truth per score");
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        tp += order[i..=j].iter().filter(|&&k| positive[k]).count();
        seen += j - i + 1;
        let recall = tp as f64 / n_pos as f64;
        ap += (recall - last_recall) * tp as f64 / seen as f64;
        last_recall = recall;
        i = j + 1;
    }
    Some(ap)
}

/// What the alerts would have been over a set of clips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertFigures {
    /// Cry alerts raised on non-cry clips.
    pub false_alarms: usize,
    /// Hours of non-cry audio.
    pub non_cry_hours: f64,
    /// `false_alarms / non_cry_hours` (`None` without non-cry audio).
    pub false_alarms_per_hour: Option<f64>,
    /// Cry clips.
    pub cry_clips: usize,
    /// Cry clips with at least one cry alert.
    pub cry_clips_alerted: usize,
    /// Their share (`None` without cry clips).
    pub share_alerted: Option<f64>,
    /// Median seconds from a cry clip's start to its first alert, over the alerted ones.
    pub median_seconds_to_alert: Option<f64>,
}

/// Replays every clip through `policy` and counts.
pub fn alert_figures(clips: &[DetectionClip], policy: AlertPolicy) -> AlertFigures {
    alert_figures_each(clips.iter().map(|c| (policy, c)))
}

/// Replays every clip through its own policy (clips pooled from folds with different
/// thresholds) and counts.
pub fn alert_figures_each<'a>(
    clips: impl IntoIterator<Item = (AlertPolicy, &'a DetectionClip)>,
) -> AlertFigures {
    let (mut false_alarms, mut non_cry_seconds) = (0, 0.0);
    let (mut cry_clips, mut delays) = (0, Vec::new());
    for (policy, clip) in clips {
        if clip.is_cry {
            cry_clips += 1;
            if let Some(t) = clip.first_alert(policy) {
                delays.push(t);
            }
        } else {
            non_cry_seconds += clip.seconds;
            false_alarms += clip.cry_alerts(policy);
        }
    }
    let non_cry_hours = non_cry_seconds / 3600.0;
    delays.sort_by(f64::total_cmp);
    AlertFigures {
        false_alarms,
        non_cry_hours,
        false_alarms_per_hour: (non_cry_hours > 0.0).then(|| false_alarms as f64 / non_cry_hours),
        cry_clips,
        cry_clips_alerted: delays.len(),
        share_alerted: (cry_clips > 0).then(|| delays.len() as f64 / cry_clips as f64),
        median_seconds_to_alert: median(&delays),
    }
}

/// The lowest threshold (the most cries caught) at which the non-cry clips of `clips` raise at
/// most `max_per_hour` false alarms per hour, among the window probabilities seen (and 1.0).
/// Lower thresholds never raise fewer alarms, so the search is over sorted candidates.
pub fn choose_threshold(clips: &[DetectionClip], policy: AlertPolicy, max_per_hour: f64) -> f32 {
    let negatives: Vec<DetectionClip> = clips.iter().filter(|c| !c.is_cry).cloned().collect();
    let hours: f64 = negatives.iter().map(|c| c.seconds).sum::<f64>() / 3600.0;
    let allowed = (max_per_hour * hours).floor() as usize;
    let mut candidates: Vec<f32> = negatives
        .iter()
        .flat_map(|c| c.window_probs.iter().copied())
        .filter(|p| p.is_finite() && *p > 0.0 && *p < 1.0)
        .map(|p| next_up(p).min(1.0))
        .chain([1.0])
        .collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let alarms = |threshold: f32| {
        let policy = policy.with_threshold(threshold);
        negatives
            .iter()
            .map(|c| c.cry_alerts(policy))
            .sum::<usize>()
    };
    // Alarms fall as the threshold rises (hysteresis keeps the release at a fixed fraction of
    // it, so this holds for the policies used here); binary search for the first that fits.
    let (mut lo, mut hi) = (0, candidates.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if alarms(candidates[mid]) <= allowed {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    candidates[lo]
}

/// The smallest `f32` above `x` (for `x` finite and positive).
fn next_up(x: f32) -> f32 {
    f32::from_bits(x.to_bits() + 1)
}

fn median(sorted: &[f64]) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threshold 0.5 without hysteresis, two windows to alert, one to calm.
    fn no_hysteresis() -> AlertPolicy {
        AlertPolicy {
            threshold: 0.5,
            release: 0.5,
            debounce: 2,
            calm_windows: 1,
            smoothing: 1,
        }
    }

    fn clip(is_cry: bool, probs: &[f32]) -> DetectionClip {
        DetectionClip {
            is_cry,
            seconds: 2.0 + probs.len() as f64,
            window_probs: probs.to_vec(),
            window_ends: (0..probs.len()).map(|i| 3.0 + i as f64).collect(),
        }
    }

    #[test]
    fn auc_and_average_precision_by_hand() {
        // AUC: of the 9 (cry, non-cry) pairs, 7 rank the cry higher. AP: precision 1 at recall
        // 1/3 and 2/3, then 3/5 at recall 1 (the tied 0.4s form one threshold).
        let truth = [false, false, true, true, false, true];
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9];
        assert!((roc_auc(&scores, &truth).unwrap() - 7.0 / 9.0).abs() < 1e-12);
        let ap = average_precision(&scores, &truth).unwrap();
        assert!(
            (ap - (1.0 / 3.0 + 1.0 / 3.0 + 1.0 / 3.0 * 3.0 / 5.0)).abs() < 1e-12,
            "{ap}"
        );
        assert_eq!(roc_auc(&[0.5, 0.6], &[true, true]), None);
        assert_eq!(average_precision(&[0.5], &[false]), None);
        assert_eq!(roc_auc(&[0.2, 0.9], &[false, true]), Some(1.0));
    }

    #[test]
    fn alerts_are_counted_per_hour_of_non_cry_audio_and_per_cry_clip() {
        let policy = no_hysteresis();
        let clips = [
            clip(true, &[0.2, 0.9, 0.9, 0.9]),
            clip(true, &[0.9, 0.1, 0.9]),
            clip(false, &[0.9, 0.9, 0.1, 0.9, 0.9]),
            clip(false, &[0.1, 0.1]),
        ];
        let f = alert_figures(&clips, policy);
        assert_eq!((f.cry_clips, f.cry_clips_alerted), (2, 1));
        assert_eq!(f.share_alerted, Some(0.5));
        assert_eq!(f.median_seconds_to_alert, Some(5.0));
        assert_eq!(f.false_alarms, 2);
        let hours = (7.0 + 4.0) / 3600.0;
        assert!((f.false_alarms_per_hour.unwrap() - 2.0 / hours).abs() < 1e-9);
    }

    #[test]
    fn the_threshold_is_the_lowest_that_keeps_the_alarm_budget() {
        let policy = no_hysteresis();
        // 1 hour of non-cry audio whose worst run of two windows peaks at 0.7 then 0.6.
        let mut negative = clip(false, &[0.7, 0.6, 0.3, 0.55, 0.55]);
        negative.seconds = 3600.0;
        let clips = [negative, clip(true, &[0.9, 0.9])];
        let zero = choose_threshold(&clips, policy, 0.5);
        assert!(zero > 0.6 && zero <= 0.7, "{zero}");
        let one = choose_threshold(&clips, policy, 1.0);
        assert!(one > 0.55 && one <= 0.6, "{one}");
        let many = choose_threshold(&clips, policy, 10.0);
        assert!(many <= 0.3 + 1e-6, "{many}");
    }

    #[test]
    fn a_clip_replays_the_windows_a_stream_would_see() {
        // A 6.5 s clip: scoring windows at 0, 2 and 3.5 s (the tail); a stream sees 0 and 2 s.
        let starts = cry_core::windows::window_starts(104_000, WINDOW_SAMPLES, HOP_SAMPLES);
        assert_eq!(starts, [0, 32_000, 56_000]);
        let clip = DetectionClip::from_scoring_windows(true, 6.5, &starts, &[0.0, 2.0, 9.0]);
        assert_eq!(clip.window_ends, [3.0, 5.0]);
        assert_eq!(clip.window_probs[0], 0.5);
        assert!((clip.window_probs[1] - sigmoid(2.0)).abs() < 1e-7);
        // A clip shorter than a window is its one padded window.
        let short = DetectionClip::from_scoring_windows(false, 2.0, &[0], &[-1.0]);
        assert_eq!(short.window_ends, [3.0]);
    }

    #[test]
    fn levels_thresholds_and_constant_detectors_behave() {
        // 7 s: silence then a loud second; stream windows end at 3, 5 and 7 s.
        let mut samples = vec![0.0f32; 6 * 16_000];
        samples.extend(vec![0.5f32; 16_000]);
        let levels = stream_window_levels(&samples);
        assert_eq!(levels.len(), 3);
        assert_eq!(levels[0], -200.0);
        assert!(levels[2] > -20.0, "{levels:?}");
        assert!((score_level(level_score(-37.5)) + 37.5).abs() < 1e-3);
        let gate = DetectionClip::from_levels(true, 7.0, &levels);
        assert_eq!(gate.window_ends, [3.0, 5.0, 7.0]);
        assert_eq!(gate.constant(1.0).window_probs, [1.0; 3]);

        let clips = [
            clip(true, &[0.9, 0.9]),
            clip(true, &[0.2, 0.3]),
            clip(false, &[0.1, 0.1]),
            clip(false, &[0.8, 0.7]),
        ];
        let f = clip_figures(&clips, 0.5);
        assert_eq!((f.precision, f.recall, f.f1), (0.5, 0.5, 0.5));
        assert_eq!(f.balanced_accuracy, 0.5);
        let scored = DetectorFold::score(2, &clips, no_hysteresis(), 0.5);
        assert_eq!(scored.roc_auc, Some(0.75));
        assert_eq!(scored.alerts.false_alarms, 1);
        let roc = roc_points(
            &clips.iter().map(DetectionClip::score).collect::<Vec<_>>(),
            &clips.iter().map(|c| c.is_cry).collect::<Vec<_>>(),
        );
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert_eq!(roc[1], (0.0, 0.5));
    }
}
