//! Class-weighted cross-entropy for the reason head, and binary cross-entropy for the cry
//! head.

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};

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
    let targets: Vec<Option<usize>> = targets.iter().copied().map(Some).collect();
    masked_cross_entropy(logits, &targets, weights)
}

/// [`weighted_cross_entropy`] over the rows that have a target; rows with `None` (clips without
/// a reason) add nothing. Zero (with gradients of zero) when no row has one.
///
/// # Shapes
/// `logits`: `[batch, classes]`; `targets` and `weights` on the host.
pub fn masked_cross_entropy(
    logits: Tensor<2>,
    targets: &[Option<usize>],
    weights: &[f64],
) -> Tensor<1> {
    let [batch, classes] = logits.dims();
    assert_eq!(targets.len(), batch, "one target per row");
    let mut picked = vec![0.0f32; batch * classes];
    let mut total = 0.0;
    for (i, t) in targets.iter().enumerate() {
        if let Some(t) = *t {
            picked[i * classes + t] = weights[t] as f32;
            total += weights[t];
        }
    }
    if total == 0.0 {
        // Nothing to learn from (f32 cannot divide by a tiny f64): zero, with zero gradients.
        return (logits * 0.0).sum();
    }
    let picked =
        Tensor::<2>::from_data(TensorData::new(picked, [batch, classes]), &logits.device());
    (log_softmax(logits, 1) * picked).sum().neg() / total
}

/// Mean binary cross-entropy of logits `z` against `is_cry`, positives weighted by
/// `weights[1]` and negatives by `weights[0]` (PyTorch's `binary_cross_entropy_with_logits`
/// with per-element weights, normalised by their sum): `−Σ w_i·(y_i·log σ(z_i) + (1−y_i)·log
/// σ(−z_i)) / Σ w_i`.
///
/// # Shapes
/// `logits`: `[batch, 1]`.
pub fn weighted_binary_cross_entropy(
    logits: Tensor<2>,
    is_cry: &[bool],
    weights: [f64; 2],
) -> Tensor<1> {
    let [batch, one] = logits.dims();
    assert_eq!(one, 1, "one logit per row");
    assert_eq!(is_cry.len(), batch, "one truth per row");
    let device = logits.device();
    let (mut pos, mut neg) = (vec![0.0f32; batch], vec![0.0f32; batch]);
    let mut total = 0.0;
    for (i, &y) in is_cry.iter().enumerate() {
        let w = weights[usize::from(y)];
        if y {
            pos[i] = w as f32;
        } else {
            neg[i] = w as f32;
        }
        total += w;
    }
    let pos = Tensor::<2>::from_data(TensorData::new(pos, [batch, 1]), &device);
    let neg = Tensor::<2>::from_data(TensorData::new(neg, [batch, 1]), &device);
    let log_p = log_sigmoid(logits.clone());
    let log_not_p = log_sigmoid(logits.neg());
    if total == 0.0 {
        return (log_p * 0.0).sum();
    }
    (log_p * pos + log_not_p * neg).sum().neg() / total
}

/// Inverse-frequency weights `[not cry, cry]` as [`inverse_frequency_weights`] gives two classes.
pub fn binary_weights(is_cry: &[bool]) -> [f64; 2] {
    let classes: Vec<usize> = is_cry.iter().map(|&y| usize::from(y)).collect();
    let w = inverse_frequency_weights(&classes, 2);
    [w[0], w[1]]
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

    #[test]
    fn rows_without_a_reason_add_nothing() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(
                vec![1.0f32, 2.0, 0.5, 0.1, -1.0, 2.0, 9.0, -9.0, 0.0],
                [3, 3],
            ),
            &device,
        );
        let masked = masked_cross_entropy(logits.clone(), &[Some(1), None, Some(2)], &[1.0; 3])
            .into_scalar::<f32>();
        let rows = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 0.5, 9.0, -9.0, 0.0], [2, 3]),
            &device,
        );
        let plain = weighted_cross_entropy(rows, &[1, 2], &[1.0; 3]).into_scalar::<f32>();
        assert!((masked - plain).abs() < 1e-6, "{masked} vs {plain}");
        let none =
            masked_cross_entropy(logits, &[None, None, None], &[1.0; 3]).into_scalar::<f32>();
        assert_eq!(none, 0.0);
    }

    /// PyTorch's `binary_cross_entropy_with_logits(z, y, weight=w, reduction="sum") / w.sum()`,
    /// by hand.
    #[test]
    fn binary_loss_matches_the_formula() {
        let device = Device::flex();
        let z = [2.0f64, -0.5, 0.3];
        let y = [true, false, true];
        let logits = Tensor::<2>::from_data(
            TensorData::new(z.iter().map(|&v| v as f32).collect::<Vec<_>>(), [3, 1]),
            &device,
        );
        let loss = weighted_binary_cross_entropy(logits, &y, [3.0, 0.5]).into_scalar::<f32>();
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let terms = [
            0.5 * -sig(2.0).ln(),
            3.0 * -(1.0 - sig(-0.5)).ln(),
            0.5 * -sig(0.3).ln(),
        ];
        let want = terms.iter().sum::<f64>() / 4.0;
        assert!((f64::from(loss) - want).abs() < 1e-6, "{loss} vs {want}");
        assert_eq!(binary_weights(&[true, true, true, false]), [2.0, 2.0 / 3.0]);
    }
}
