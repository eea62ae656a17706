//! Class-weighted cross-entropy.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Inverse-frequency class weights, `n / (k · n_c)` over the `k` classes present (scikit-learn's
/// `class_weight="balanced"`); absent classes get 0.
pub fn inverse_frequency_weights(labels: &[usize], n_classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; n_classes];
    for &l in labels {
        counts[l] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                labels.len() as f64 / (present as f64 * c as f64)
            }
        })
        .collect()
}

/// Mean cross-entropy with per-class weights, as PyTorch's `cross_entropy(weight=w)`:
/// `Σ_i w[y_i] · (−log p_i[y_i]) / Σ_i w[y_i]`.
///
/// # Shapes
/// `logits`: `[batch, classes]`; `targets` and `weights` on the host.
pub fn weighted_cross_entropy(logits: Tensor<2>, targets: &[usize], weights: &[f64]) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    assert_eq!(targets.len(), batch, "one target per row");
    let mut picked = vec![0.0f32; batch * classes];
    let mut total = 0.0;
    for (i, &t) in targets.iter().enumerate() {
        picked[i * classes + t] = weights[t] as f32;
        total += weights[t];
    }
    let picked =
        Tensor::<2>::from_data(TensorData::new(picked, [batch, classes]), &logits.device());
    (log_softmax(logits, 1) * picked).sum().neg() / total.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_weights() {
        let w = inverse_frequency_weights(&[0, 0, 0, 1, 2, 2], 4);
        assert_eq!(w, vec![6.0 / 9.0, 2.0, 1.0, 0.0]);
    }

    /// PyTorch's definition of `cross_entropy(logits, targets, weight=w)`, computed by hand.
    #[test]
    fn weighted_loss_matches_pytorch_formula() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 0.5, 0.1, -1.0, 2.0], [2, 3]),
            &device,
        );
        let loss = weighted_cross_entropy(logits, &[1, 2], &[1.0, 3.0, 0.5])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()[0];
        let l0 = -(2.0f64 - (1f64.exp() + 2f64.exp() + 0.5f64.exp()).ln());
        let l1 = -(2.0f64 - (0.1f64.exp() + (-1f64).exp() + 2f64.exp()).ln());
        let want = (3.0 * l0 + 0.5 * l1) / 3.5;
        assert!((f64::from(loss) - want).abs() < 1e-6, "{loss} vs {want}");
    }
}
