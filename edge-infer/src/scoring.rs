//! A whole clip scored the way the host evaluates: the logits of its overlapping windows
//! (`cry-core`'s window starts at the model's hop) averaged, then a softmax; with a cry head,
//! the mean of the windows' cry probabilities, and the alerts a stream of the clip raises.

use cry_core::alerts::{Alert, AlertPolicy, AlertState, WindowInput};
use cry_core::scoring::{argmax, mean_sigmoid, sigmoid, softmax};
use cry_core::windows::{copy_window, on_stream_grid, window_end_seconds, window_starts};

use crate::engine::{Classifier, EngineError};

/// The score of one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipScore {
    /// Index of the most probable class.
    pub label: usize,
    /// Softmax of the mean logits, in label order.
    pub probabilities: Vec<f32>,
    /// Windows averaged.
    pub windows: usize,
    /// Two-head models: the mean cry probability of the windows.
    pub cry_prob: Option<f32>,
    /// Two-head models: each window's start (samples) and cry probability, in order.
    pub cry_windows: Vec<(usize, f32)>,
}

impl ClipScore {
    /// Two-head models: the cry alerts a stream of this clip alone raises under `policy`,
    /// from a fresh state, as the host's evaluation replays them: the windows on the hop grid
    /// (the end-aligned tail window is not one a stream sees), stamped at their ends.
    pub fn cry_alerts(&self, policy: AlertPolicy, hop: usize, window: usize) -> usize {
        let mut state = AlertState::new(policy, 0);
        self.cry_windows
            .iter()
            .filter(|(start, _)| on_stream_grid(*start, hop))
            .filter_map(|&(start, cry_prob)| {
                state.step(
                    window_end_seconds(start, window),
                    WindowInput::Scored {
                        cry_prob,
                        reasons: &[],
                    },
                )
            })
            .filter(|a| matches!(a, Alert::Cry { .. }))
            .count()
    }
}

/// Scores model-rate `samples` with the host's evaluation windows, one every `hop` samples.
pub fn score_clip(
    classifier: &mut impl Classifier,
    samples: &[f32],
    hop: usize,
) -> Result<ClipScore, EngineError> {
    let window = classifier.window_samples();
    let classes = classifier.classes();
    let starts = window_starts(samples.len(), window, hop);
    let mut buffer = vec![0.0; window];
    let mut logits = vec![0.0; classes];
    let mut sum = vec![0.0f64; classes];
    let mut cry_logits: Vec<f32> = Vec::new();
    let mut cry_windows = Vec::new();
    for &start in &starts {
        copy_window(samples, start, &mut buffer);
        if let Some(z) = classifier.logits(&buffer, &mut logits)? {
            cry_logits.push(z);
            cry_windows.push((start, sigmoid(z)));
        }
        for (s, l) in sum.iter_mut().zip(&logits) {
            *s += f64::from(*l);
        }
    }
    let mean: Vec<f32> = sum
        .iter()
        .map(|s| (s / starts.len() as f64) as f32)
        .collect();
    let mut probabilities = vec![0.0; classes];
    softmax(&mean, &mut probabilities);
    Ok(ClipScore {
        label: argmax(&probabilities),
        probabilities,
        windows: starts.len(),
        cry_prob: (!cry_logits.is_empty()).then(|| mean_sigmoid(&cry_logits)),
        cry_windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cry_core::contract::{HOP_SAMPLES, LEGACY_HOP_SAMPLES};

    /// Logits = [mean of the window, -mean]: a stand-in whose answer depends on the windows.
    struct MeanSign {
        window: usize,
        seen: Vec<f32>,
    }

    impl Classifier for MeanSign {
        fn window_samples(&self) -> usize {
            self.window
        }
        fn classes(&self) -> usize {
            2
        }
        fn logits(&mut self, window: &[f32], out: &mut [f32]) -> Result<Option<f32>, EngineError> {
            let mean = window.iter().sum::<f32>() / window.len() as f32;
            self.seen.push(mean);
            out[0] = mean;
            out[1] = -mean;
            Ok(Some(10.0 * mean))
        }
    }

    #[test]
    fn averages_logits_over_the_contract_windows() {
        let window = cry_core::contract::WINDOW_SAMPLES;
        // 5 s at the 1 s hop: windows start at 0 s, 1 s, 2 s; the first second is +1, the
        // rest -0.5.
        let mut samples = vec![-0.5; 5 * 16_000];
        samples[..16_000].fill(1.0);
        let mut model = MeanSign {
            window,
            seen: vec![],
        };
        let score = score_clip(&mut model, &samples, LEGACY_HOP_SAMPLES).unwrap();
        assert_eq!(score.windows, 3);
        let expected_means = [0.0, -0.5, -0.5];
        for (got, want) in model.seen.iter().zip(expected_means) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        let mean = -1.0 / 3.0;
        let p0 = 1.0 / (1.0 + (-2.0f32 * mean).exp());
        assert_eq!(score.label, 1);
        assert!((score.probabilities[0] - p0).abs() < 1e-6);
        assert!((score.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // The cry probability is the mean of the windows' sigmoids, not the sigmoid of a mean.
        let want = (sigmoid(0.0) + 2.0 * sigmoid(-5.0)) / 3.0;
        assert!((score.cry_prob.unwrap() - want).abs() < 1e-6);

        // At the contract's 2 s hop: the window at 0 s and the end-aligned one at 2 s.
        let mut model = MeanSign {
            window,
            seen: vec![],
        };
        let score = score_clip(&mut model, &samples, HOP_SAMPLES).unwrap();
        assert_eq!(score.windows, 2);
        assert_eq!(
            score.cry_windows.iter().map(|w| w.0).collect::<Vec<_>>(),
            [0, 32_000]
        );
    }

    #[test]
    fn cry_alerts_replay_the_windows_a_stream_sees() {
        let window = cry_core::contract::WINDOW_SAMPLES;
        let policy = AlertPolicy {
            threshold: 0.5,
            release: 0.4,
            debounce: 2,
            calm_windows: 2,
            smoothing: 1,
        };
        let score = |cry_windows: Vec<(usize, f32)>| ClipScore {
            label: 0,
            probabilities: vec![1.0],
            windows: cry_windows.len(),
            cry_prob: None,
            cry_windows,
        };
        // Two cry windows on the 2 s grid: one alert.
        let on_grid = score(vec![(0, 0.9), (32_000, 0.9), (64_000, 0.1)]);
        assert_eq!(on_grid.cry_alerts(policy, HOP_SAMPLES, window), 1);
        // The second is the end-aligned tail window, which a stream never sees: none.
        let tail = score(vec![(0, 0.9), (40_000, 0.9)]);
        assert_eq!(tail.cry_alerts(policy, HOP_SAMPLES, window), 0);
        // Cry, calm, cry again: two.
        let twice = score(
            [0.9, 0.9, 0.1, 0.1, 0.9, 0.9]
                .iter()
                .enumerate()
                .map(|(i, &p)| (i * HOP_SAMPLES, p))
                .collect(),
        );
        assert_eq!(twice.cry_alerts(policy, HOP_SAMPLES, window), 2);
    }

    #[test]
    fn short_clip_is_one_padded_window() {
        let mut model = MeanSign {
            window: 100,
            seen: vec![],
        };
        let score = score_clip(&mut model, &[1.0; 50], 100).unwrap();
        assert_eq!(score.windows, 1);
        assert!(
            (model.seen[0] - 0.5).abs() < 1e-6,
            "zero padding halves the mean"
        );
    }

    #[test]
    fn softmax_is_stable_and_argmax_takes_the_first_tie() {
        let mut out = [0.0; 3];
        softmax(&[1000.0, 1000.0, -1000.0], &mut out);
        assert!((out[0] - 0.5).abs() < 1e-6 && out[2] == 0.0);
        assert_eq!(argmax(&out), 0);
        assert_eq!(argmax(&[0.1, 0.7, 0.2]), 1);
    }
}
