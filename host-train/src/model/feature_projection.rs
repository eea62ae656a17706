//! `HubertFeatureProjection`: conv features → transformer width.

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;

use super::config::HubertConfig;
use super::dropout;

/// Optional LayerNorm, Linear, dropout.
#[derive(Module, Debug)]
pub struct FeatureProjection {
    /// Present when `feat_proj_layer_norm`.
    pub layer_norm: Option<LayerNorm>,
    /// `conv_dim[-1]` → `hidden_size`.
    pub projection: Linear,
    /// `feat_proj_dropout`.
    pub dropout: Dropout,
}

impl FeatureProjection {
    /// A randomly initialised projection for `config`.
    pub fn new(config: &HubertConfig, device: &Device) -> Self {
        let conv_out = *config.conv_dim.last().expect("validated config");
        Self {
            layer_norm: config.feat_proj_layer_norm.then(|| {
                LayerNormConfig::new(conv_out)
                    .with_epsilon(config.layer_norm_eps)
                    .init(device)
            }),
            projection: super::init::linear(conv_out, config.hidden_size, config, device),
            dropout: DropoutConfig::new(config.feat_proj_dropout).init(),
        }
    }

    /// # Shapes
    /// `[batch, frames, conv_dim[-1]]` → `[batch, frames, hidden]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = match &self.layer_norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        dropout::apply(&self.dropout, self.projection.forward(x))
    }
}
