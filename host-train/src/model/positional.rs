//! `HubertPositionalConvEmbedding`: a weight-normalised grouped convolution over time.

use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;

use super::activation::gelu;
use super::config::HubertConfig;

/// A grouped `Conv1d` under PyTorch's weight norm with `dim = 2`:
/// `weight = weight_g · weight_v / ‖weight_v‖`, the norm taken over every dim but 2 (the kernel
/// position), so there is one magnitude per kernel tap.
///
/// The two factors are kept as parameters (as transformers trains them) rather than folded, so
/// fine-tuning follows the same parametrisation and gradients match PyTorch's.
#[derive(Module, Debug)]
pub struct WeightNormConv1d {
    /// Magnitudes, `[1, 1, kernel]`.
    pub weight_g: Param<Tensor<3>>,
    /// Directions, `[channels, channels / groups, kernel]`.
    pub weight_v: Param<Tensor<3>>,
    /// `[channels]`.
    pub bias: Param<Tensor<1>>,
    /// Convolution groups.
    pub groups: usize,
}

impl WeightNormConv1d {
    /// The effective convolution weight.
    pub fn weight(&self) -> Tensor<3> {
        let v = self.weight_v.val();
        let norm = v.clone().powi_scalar(2).sum_dim(0).sum_dim(1).sqrt(); // [1, 1, kernel]
        v * (self.weight_g.val() / norm)
    }
}

/// Positional information from a wide grouped conv over the frame sequence.
#[derive(Module, Debug)]
pub struct PositionalConvEmbedding {
    /// The weight-normalised conv.
    pub conv: WeightNormConv1d,
    /// `num_conv_pos_embeddings`.
    pub kernel: usize,
}

impl PositionalConvEmbedding {
    /// A randomly initialised embedding for `config`.
    pub fn new(config: &HubertConfig, device: &Device) -> Self {
        let h = config.hidden_size;
        let k = config.num_conv_pos_embeddings;
        let groups = config.num_conv_pos_embedding_groups;
        let std = (4.0 / (k as f64 * h as f64)).sqrt();
        let weight_v = Initializer::Normal { mean: 0.0, std }.init([h, h / groups, k], device);
        let norm = weight_v
            .val()
            .powi_scalar(2)
            .sum_dim(0)
            .sum_dim(1)
            .sqrt()
            .into_data();
        Self {
            conv: WeightNormConv1d {
                weight_g: Param::from_tensor(Tensor::from_data(norm, device)),
                weight_v,
                bias: Param::from_tensor(Tensor::zeros([h], device)),
                groups,
            },
            kernel: k,
        }
    }

    /// Left and right padding: PyTorch pads `k / 2` on both sides and then drops the last frame
    /// when `k` is even, which is the same as padding one less on the right.
    pub fn padding(&self) -> (usize, usize) {
        let half = self.kernel / 2;
        (half, if self.kernel % 2 == 0 { half - 1 } else { half })
    }

    /// # Shapes
    /// `[batch, frames, hidden]` → `[batch, frames, hidden]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let options = ConvOptions::new_with_padding([1], [self.padding()], [1], self.conv.groups);
        let y = conv1d(
            x.swap_dims(1, 2),
            self.conv.weight(),
            Some(self.conv.bias.val()),
            options,
        );
        gelu(y).swap_dims(1, 2)
    }
}
