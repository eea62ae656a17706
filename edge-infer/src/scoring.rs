//! A whole clip scored the way the host evaluates: the logits of its overlapping windows
//! (window and hop from `cry-core`) averaged, then a softmax; with a cry head, the mean of the
//! windows' cry probabilities.

use cry_core::contract::HOP_SAMPLES;
use cry_core::scoring::{argmax, mean_sigmoid, softmax};
use cry_core::windows::{copy_window, window_starts};

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
}

/// Scores model-rate `samples` with the host's evaluation windows.
pub fn score_clip(
    classifier: &mut impl Classifier,
    samples: &[f32],
) -> Result<ClipScore, EngineError> {
    let window = classifier.window_samples();
    let classes = classifier.classes();
    let starts = window_starts(samples.len(), window, HOP_SAMPLES);
    let mut buffer = vec![0.0; window];
    let mut logits = vec![0.0; classes];
    let mut sum = vec![0.0f64; classes];
    let mut cry_logits: Vec<f32> = Vec::new();
    for &start in &starts {
        copy_window(samples, start, &mut buffer);
        if let Some(z) = classifier.logits(&buffer, &mut logits)? {
            cry_logits.push(z);
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cry_core::scoring::sigmoid;

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
        // 5 s: windows start at 0 s, 1 s, 2 s; the first second is +1, the rest -0.5.
        let mut samples = vec![-0.5; 5 * 16_000];
        samples[..16_000].fill(1.0);
        let mut model = MeanSign {
            window,
            seen: vec![],
        };
        let score = score_clip(&mut model, &samples).unwrap();
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
    }

    #[test]
    fn short_clip_is_one_padded_window() {
        let mut model = MeanSign {
            window: 100,
            seen: vec![],
        };
        let score = score_clip(&mut model, &[1.0; 50]).unwrap();
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
