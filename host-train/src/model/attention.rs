//! `HubertAttention`: multi-head self-attention with a key padding mask.

use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::config::HubertConfig;
use super::dropout;

/// Scaled dot-product attention over all frames, ignoring padded keys.
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection.
    pub q_proj: Linear,
    /// Key projection.
    pub k_proj: Linear,
    /// Value projection.
    pub v_proj: Linear,
    /// Output projection.
    pub out_proj: Linear,
    /// `attention_dropout`, on the attention probabilities.
    pub dropout: Dropout,
    /// Number of heads.
    pub heads: usize,
}

impl Attention {
    /// A randomly initialised attention block for `config`.
    pub fn new(config: &HubertConfig, device: &Device) -> Self {
        let h = config.hidden_size;
        let linear = || super::init::linear(h, h, config, device);
        Self {
            q_proj: linear(),
            k_proj: linear(),
            v_proj: linear(),
            out_proj: linear(),
            dropout: DropoutConfig::new(config.attention_dropout).init(),
            heads: config.num_attention_heads,
        }
    }

    /// `key_bias` is added to the scores of every query: 0 for real frames and a large negative
    /// number for padding.
    ///
    /// # Shapes
    /// - `x`: `[batch, frames, hidden]` → `[batch, frames, hidden]`
    /// - `key_bias`: `[batch, 1, 1, frames]`
    pub fn forward(&self, x: Tensor<3>, key_bias: Option<Tensor<4>>) -> Tensor<3> {
        let [b, t, h] = x.dims();
        let d = h / self.heads;
        let split = |y: Tensor<3>| y.reshape([b, t, self.heads, d]).swap_dims(1, 2); // [b, heads, t, d]
        let q = split(self.q_proj.forward(x.clone()));
        let k = split(self.k_proj.forward(x.clone()));
        let v = split(self.v_proj.forward(x));
        let scores = q.matmul(k.swap_dims(2, 3)) * (d as f64).powf(-0.5); // [b, heads, t, t]
        let scores = match key_bias {
            Some(bias) => scores + bias,
            None => scores,
        };
        let probs = dropout::apply(&self.dropout, softmax(scores, 3));
        let context = probs.matmul(v).swap_dims(1, 2).reshape([b, t, h]);
        self.out_proj.forward(context)
    }
}
