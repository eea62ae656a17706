//! How logits become a decision, identically on the host (evaluation, export checks) and the
//! edge (`classify`, streaming).

/// Index of the largest value (the first on ties). NaN never wins; an empty slice, or one with no
/// comparable value, gives 0.
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// Numerically stable softmax of `logits` into `out` (same length). Does not allocate.
///
/// # Panics
/// If the lengths differ.
pub fn softmax(logits: &[f32], out: &mut [f32]) {
    assert_eq!(
        logits.len(),
        out.len(),
        "softmax: logits and output differ in length"
    );
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for (o, l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        total += *o;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}

/// The cry probability of a cry logit: `1 / (1 + e^(−z))`, computed without overflow for
/// large `|z|`. Host and edge both turn `cry_logit` into `cry_prob` with this.
pub fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// A clip's cry probability from its windows' cry logits: the mean of their sigmoids (not the
/// sigmoid of their mean), 0 for no windows. Host evaluation and edge `classify` both use it.
pub fn mean_sigmoid(logits: &[f32]) -> f32 {
    if logits.is_empty() {
        return 0.0;
    }
    let sum: f64 = logits.iter().map(|&z| f64::from(sigmoid(z))).sum();
    (sum / logits.len() as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_cry_probability_averages_the_window_probabilities() {
        assert_eq!(mean_sigmoid(&[]), 0.0);
        assert_eq!(mean_sigmoid(&[0.0]), 0.5);
        let want = (sigmoid(4.0) + sigmoid(-4.0) + sigmoid(-4.0)) / 3.0;
        assert!((mean_sigmoid(&[4.0, -4.0, -4.0]) - want).abs() < 1e-7);
        assert!(
            (want - sigmoid(-4.0 / 3.0)).abs() > 0.01,
            "not the sigmoid of the mean"
        );
    }

    #[test]
    fn sigmoid_is_bounded_symmetric_and_exact_at_zero() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        for z in [-7.5f32, -1.0, 0.3, 4.0] {
            assert!((sigmoid(z) + sigmoid(-z) - 1.0).abs() < 1e-6);
            assert!((sigmoid(z) - 1.0 / (1.0 + (-z).exp())).abs() < 1e-6);
        }
    }

    #[test]
    fn argmax_takes_the_first_maximum_and_skips_nan() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, -1.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.2, 0.1]), 1);
        assert_eq!(argmax(&[-3.0, -2.0]), 1);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let mut out = [0.0; 3];
        softmax(&[1000.0, 1001.0, 999.0], &mut out);
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(argmax(&out), 1);
        let expected = 1.0 / (1.0 + (-1.0f32).exp() + (-2.0f32).exp());
        assert!((out[1] - expected).abs() < 1e-6, "{out:?}");
    }
}
