//! Exact GELU.

use burn::prelude::*;

/// `x · Φ(x)` with the exact normal CDF (`0.5 · (1 + erf(x / √2))`), PyTorch's default GELU.
///
/// burn's GELU is exact and fused on both backends built here (flex and libtorch), and so is
/// its derivative; the gradient test against PyTorch checks the latter (burn's generic fallback
/// derivative is the tanh approximation, which would not pass it).
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    burn::tensor::activation::gelu(x)
}
