//! `HubertEncoder` (post-norm) and `HubertEncoderStableLayerNorm` (pre-norm), written once.

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;

use super::activation::gelu;
use super::attention::Attention;
use super::config::HubertConfig;
use super::dropout;
use super::positional::PositionalConvEmbedding;

/// `HubertFeedForward`: Linear → GELU → dropout → Linear → dropout.
#[derive(Module, Debug)]
pub struct FeedForward {
    /// `activation_dropout`.
    pub intermediate_dropout: Dropout,
    /// `hidden` → `intermediate`.
    pub intermediate_dense: Linear,
    /// `intermediate` → `hidden`.
    pub output_dense: Linear,
    /// `hidden_dropout`.
    pub output_dropout: Dropout,
}

impl FeedForward {
    fn new(config: &HubertConfig, device: &Device) -> Self {
        Self {
            intermediate_dropout: DropoutConfig::new(config.activation_dropout).init(),
            intermediate_dense: super::init::linear(
                config.hidden_size,
                config.intermediate_size,
                config,
                device,
            ),
            output_dense: super::init::linear(
                config.intermediate_size,
                config.hidden_size,
                config,
                device,
            ),
            output_dropout: DropoutConfig::new(config.hidden_dropout).init(),
        }
    }

    /// # Shapes
    /// `[batch, frames, hidden]` → `[batch, frames, hidden]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = dropout::apply(
            &self.intermediate_dropout,
            gelu(self.intermediate_dense.forward(x)),
        );
        dropout::apply(&self.output_dropout, self.output_dense.forward(x))
    }
}

/// `HubertEncoderLayer` / `HubertEncoderLayerStableLayerNorm`.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Self-attention.
    pub attention: Attention,
    /// `hidden_dropout` on the attention output.
    pub dropout: Dropout,
    /// After the attention residual (post-norm) or before the attention (pre-norm).
    pub layer_norm: LayerNorm,
    /// Feed-forward block.
    pub feed_forward: FeedForward,
    /// After the feed-forward residual (post-norm) or before the feed-forward (pre-norm).
    pub final_layer_norm: LayerNorm,
    /// Pre-norm (`do_stable_layer_norm`).
    pub pre_norm: bool,
}

fn layer_norm(config: &HubertConfig, device: &Device) -> LayerNorm {
    LayerNormConfig::new(config.hidden_size)
        .with_epsilon(config.layer_norm_eps)
        .init(device)
}

impl EncoderLayer {
    fn new(config: &HubertConfig, device: &Device) -> Self {
        Self {
            attention: Attention::new(config, device),
            dropout: DropoutConfig::new(config.hidden_dropout).init(),
            layer_norm: layer_norm(config, device),
            feed_forward: FeedForward::new(config, device),
            final_layer_norm: layer_norm(config, device),
            pre_norm: config.do_stable_layer_norm,
        }
    }

    /// # Shapes
    /// `[batch, frames, hidden]` → `[batch, frames, hidden]`; `key_bias` as in
    /// [`Attention::forward`].
    pub fn forward(&self, x: Tensor<3>, key_bias: Option<Tensor<4>>) -> Tensor<3> {
        if self.pre_norm {
            let attended = self
                .attention
                .forward(self.layer_norm.forward(x.clone()), key_bias);
            let x = x + dropout::apply(&self.dropout, attended);
            let ff = self
                .feed_forward
                .forward(self.final_layer_norm.forward(x.clone()));
            x + ff
        } else {
            let attended = self.attention.forward(x.clone(), key_bias);
            let x = self
                .layer_norm
                .forward(x + dropout::apply(&self.dropout, attended));
            let x = x.clone() + self.feed_forward.forward(x);
            self.final_layer_norm.forward(x)
        }
    }
}

/// The transformer encoder with its positional conv.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Positional conv embedding.
    pub pos_conv_embed: PositionalConvEmbedding,
    /// Before the layers (post-norm) or after them (pre-norm).
    pub layer_norm: LayerNorm,
    /// `hidden_dropout` after adding the positional embedding.
    pub dropout: Dropout,
    /// Transformer layers.
    pub layers: Vec<EncoderLayer>,
    /// Pre-norm (`do_stable_layer_norm`).
    pub pre_norm: bool,
}

/// What the encoder returns.
#[derive(Debug, Clone)]
pub struct EncoderOutput {
    /// Output of the last layer (after the final LayerNorm in pre-norm models).
    pub last_hidden_state: Tensor<3>,
    /// `num_hidden_layers + 1` states as transformers' `hidden_states`, when requested.
    pub hidden_states: Vec<Tensor<3>>,
}

impl Encoder {
    /// A randomly initialised encoder for `config`.
    pub fn new(config: &HubertConfig, device: &Device) -> Self {
        Self {
            pos_conv_embed: PositionalConvEmbedding::new(config, device),
            layer_norm: layer_norm(config, device),
            dropout: DropoutConfig::new(config.hidden_dropout).init(),
            layers: (0..config.num_hidden_layers)
                .map(|_| EncoderLayer::new(config, device))
                .collect(),
            pre_norm: config.do_stable_layer_norm,
        }
    }

    /// `frame_mask` is 1 for real frames and 0 for padding; padded frames are zeroed before the
    /// positional conv and ignored as attention keys, as in transformers.
    ///
    /// # Shapes
    /// - `x`: `[batch, frames, hidden]`
    /// - `frame_mask`: `[batch, frames]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        frame_mask: Option<Tensor<2>>,
        keep_hidden_states: bool,
    ) -> EncoderOutput {
        let (x, key_bias) = match frame_mask {
            Some(mask) => {
                let x = x * mask.clone().unsqueeze_dim::<3>(2);
                // (1 - mask) · lowest f32, as transformers' extended attention mask.
                let bias = (mask.neg() + 1.0) * f64::from(f32::MIN);
                (x, Some(bias.unsqueeze_dim::<3>(1).unsqueeze_dim::<4>(1)))
            }
            None => (x, None),
        };
        let x = self.embed_positions(x);
        self.run_layers(x, key_bias, 0, keep_hidden_states)
    }

    /// Adds the positional embedding and, post-norm, applies the input LayerNorm: the state that
    /// enters layer 0.
    ///
    /// # Shapes
    /// `[batch, frames, hidden]` → `[batch, frames, hidden]`.
    pub fn embed_positions(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.pos_conv_embed.forward(x);
        if self.pre_norm {
            dropout::apply(&self.dropout, x)
        } else {
            dropout::apply(&self.dropout, self.layer_norm.forward(x))
        }
    }

    /// Runs layers `from..` on `x`, the state entering layer `from`, then (pre-norm) the final
    /// LayerNorm. `hidden_states`, when kept, starts with `x`.
    ///
    /// # Shapes
    /// `[batch, frames, hidden]` → `[batch, frames, hidden]`.
    pub fn run_layers(
        &self,
        x: Tensor<3>,
        key_bias: Option<Tensor<4>>,
        from: usize,
        keep_hidden_states: bool,
    ) -> EncoderOutput {
        let mut x = x;
        let mut hidden_states = Vec::new();
        for layer in &self.layers[from..] {
            if keep_hidden_states {
                hidden_states.push(x.clone());
            }
            x = layer.forward(x, key_bias.clone());
        }
        // transformers (5.x) records the last layer's output before the final LayerNorm of a
        // pre-norm encoder; `last_hidden_state` is after it.
        if keep_hidden_states {
            hidden_states.push(x.clone());
        }
        if self.pre_norm {
            x = self.layer_norm.forward(x);
        }
        EncoderOutput {
            last_hidden_state: x,
            hidden_states,
        }
    }
}
