//! The convolutional feature encoder (`HubertFeatureEncoder`): raw waveform → frame features.

use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, LayerNorm, LayerNormConfig};
use burn::prelude::*;

use super::activation::gelu;
use super::config::HubertConfig;

/// PyTorch's default epsilon, used by transformers for the conv-stack norms.
const CONV_NORM_EPS: f64 = 1e-5;

/// The normalisation after a conv, if any.
#[derive(Module, Debug)]
pub enum ConvNorm {
    /// GroupNorm with one group per channel (first conv of `feat_extract_norm = "group"`).
    Group(GroupNorm),
    /// LayerNorm over channels (every conv of `feat_extract_norm = "layer"`).
    Layer(LayerNorm),
}

/// One conv block: conv → optional norm → GELU (transformers' `Hubert*ConvLayer`).
#[derive(Module, Debug)]
pub struct ConvLayer {
    /// The strided convolution.
    pub conv: Conv1d,
    /// Its normalisation.
    pub layer_norm: Option<ConvNorm>,
}

impl ConvLayer {
    /// # Shapes
    /// `[batch, channels_in, time]` → `[batch, channels_out, time']`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.conv.forward(x);
        let x = match &self.layer_norm {
            None => x,
            Some(ConvNorm::Group(norm)) => norm.forward(x),
            Some(ConvNorm::Layer(norm)) => norm.forward(x.swap_dims(1, 2)).swap_dims(1, 2),
        };
        gelu(x)
    }
}

/// The conv stack (transformers' `HubertFeatureEncoder`, attribute `feature_extractor`).
#[derive(Module, Debug)]
pub struct FeatureEncoder {
    /// The conv blocks, first to last.
    pub conv_layers: Vec<ConvLayer>,
}

impl FeatureEncoder {
    /// A randomly initialised encoder for `config`.
    pub fn new(config: &HubertConfig, device: &Device) -> Self {
        let layer_norms = config.feat_extract_norm == "layer";
        let mut channels_in = 1;
        let conv_layers = (0..config.conv_dim.len())
            .map(|i| {
                let out = config.conv_dim[i];
                let conv = super::init::conv1d(
                    Conv1dConfig::new(channels_in, out, config.conv_kernel[i])
                        .with_stride(config.conv_stride[i])
                        .with_bias(config.conv_bias),
                    device,
                );
                channels_in = out;
                let layer_norm = if layer_norms {
                    Some(ConvNorm::Layer(
                        LayerNormConfig::new(out)
                            .with_epsilon(CONV_NORM_EPS)
                            .init(device),
                    ))
                } else if i == 0 {
                    Some(ConvNorm::Group(
                        GroupNormConfig::new(out, out)
                            .with_epsilon(CONV_NORM_EPS)
                            .init(device),
                    ))
                } else {
                    None
                };
                ConvLayer { conv, layer_norm }
            })
            .collect();
        Self { conv_layers }
    }

    /// # Shapes
    /// `[batch, samples]` → `[batch, conv_dim[-1], frames]`.
    pub fn forward(&self, audio: Tensor<2>) -> Tensor<3> {
        self.conv_layers
            .iter()
            .fold(audio.unsqueeze_dim(1), |x, layer| layer.forward(x))
    }
}
