//! Exact GELU.

use burn::prelude::*;

/// `x · Φ(x)` with the exact normal CDF (`0.5 · (1 + erf(x / √2))`), as PyTorch's default GELU.
///
/// Written out rather than calling `burn::tensor::activation::gelu`: burn 0.22.1 computes that
/// forward exactly but differentiates it with the tanh approximation, which would put fine-tuning
/// gradients off transformers' by up to ~1e-3. Through `erf`, autodiff is exact.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let cdf = (x.clone() * std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0;
    x * cdf * 0.5
}
