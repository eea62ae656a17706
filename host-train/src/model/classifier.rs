//! `HubertForSequenceClassification`: backbone, projector, masked mean pooling, classifier, and
//! (optionally) a binary cry head on the same pooled projection.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::config::HubertConfig;
use super::hubert::Hubert;

/// The classification model. Checkpoint keys: `hubert.*`, `projector.*`, `classifier.*`, with
/// `use_weighted_layer_sum` `layer_weights`, and with a cry head (`"cry_head": true` in the
/// config) `cry_classifier.*`.
#[derive(Module, Debug)]
pub struct HubertForSequenceClassification {
    /// The backbone.
    pub hubert: Hubert,
    /// `hidden` → `classifier_proj_size`.
    pub projector: Linear,
    /// `classifier_proj_size` → classes.
    pub classifier: Linear,
    /// `classifier_proj_size` → 1: the logit of "this holds a cry", when the config has a cry
    /// head.
    pub cry_classifier: Option<Linear>,
    /// `[num_hidden_layers + 1]` softmax weights over hidden states, when
    /// `use_weighted_layer_sum`.
    pub layer_weights: Option<Param<Tensor<1>>>,
}

/// What the heads compute from one pooled projection.
#[derive(Debug, Clone)]
pub struct Heads {
    /// Reason logits, `[batch, classes]`.
    pub logits: Tensor<2>,
    /// Cry logit, `[batch, 1]`, when the model has a cry head.
    pub cry_logit: Option<Tensor<2>>,
}

/// What [`HubertForSequenceClassification::forward`] returns.
#[derive(Debug, Clone)]
pub struct ClassifierOutput {
    /// `[batch, classes]`.
    pub logits: Tensor<2>,
    /// `[batch, 1]`, when the model has a cry head.
    pub cry_logit: Option<Tensor<2>>,
    /// The backbone's last hidden state, `[batch, frames, hidden]`.
    pub last_hidden_state: Tensor<3>,
    /// Every hidden state, when requested or needed for the weighted sum.
    pub hidden_states: Vec<Tensor<3>>,
}

impl HubertForSequenceClassification {
    /// A randomly initialised classifier for `config`.
    pub fn new(config: &HubertConfig, device: &Device) -> Self {
        let layers = config.num_hidden_layers + 1;
        Self {
            hubert: Hubert::new(config, device),
            projector: super::init::linear(
                config.hidden_size,
                config.classifier_proj_size,
                config,
                device,
            ),
            classifier: super::init::linear(
                config.classifier_proj_size,
                config.num_labels(),
                config,
                device,
            ),
            cry_classifier: config
                .has_cry_head()
                .then(|| super::init::linear(config.classifier_proj_size, 1, config, device)),
            layer_weights: config
                .use_weighted_layer_sum
                .then(|| Param::from_tensor(Tensor::full([layers], 1.0 / layers as f64, device))),
        }
    }

    /// Logits for (already normalised) audio; `lengths` as in [`Hubert::forward`].
    ///
    /// # Shapes
    /// `audio`: `[batch, samples]` → logits `[batch, classes]`.
    pub fn forward(
        &self,
        config: &HubertConfig,
        audio: Tensor<2>,
        lengths: Option<&[usize]>,
        keep_hidden_states: bool,
    ) -> ClassifierOutput {
        let out = self.hubert.forward(
            config,
            audio,
            lengths,
            keep_hidden_states || self.layer_weights.is_some(),
        );
        let Heads { logits, cry_logit } = self.heads(
            self.weighted_states(&out.last_hidden_state, &out.hidden_states),
            out.frame_mask.as_ref(),
        );
        ClassifierOutput {
            logits,
            cry_logit,
            last_hidden_state: out.last_hidden_state,
            hidden_states: out.hidden_states,
        }
    }

    /// The states the head reads: the softmax-weighted sum of every hidden state with
    /// `use_weighted_layer_sum`, the last hidden state otherwise.
    ///
    /// # Shapes
    /// `[batch, frames, hidden]` each → `[batch, frames, hidden]`.
    pub fn weighted_states(&self, last: &Tensor<3>, all: &[Tensor<3>]) -> Tensor<3> {
        match &self.layer_weights {
            Some(weights) => {
                let stacked: Tensor<4> = Tensor::stack(all.to_vec(), 0); // [L+1, b, t, h]
                let w = softmax(weights.val(), 0).reshape([stacked.dims()[0], 1, 1, 1]);
                (stacked * w).sum_dim(0).squeeze_dim::<3>(0)
            }
            None => last.clone(),
        }
    }

    /// Projector → mean over real frames. The projector is affine, so pooling given
    /// `[batch, 1, hidden]` frame averages computes exactly what it computes on the frames.
    ///
    /// # Shapes
    /// `states`: `[batch, frames, hidden]`, `frame_mask`: `[batch, frames]` → `[batch, proj]`.
    pub fn pool(&self, states: Tensor<3>, frame_mask: Option<&Tensor<2>>) -> Tensor<2> {
        let projected = self.projector.forward(states); // [b, t, proj]
        match frame_mask {
            Some(mask) => {
                let counts = mask.clone().sum_dim(1); // [b, 1]
                (projected * mask.clone().unsqueeze_dim::<3>(2))
                    .sum_dim(1)
                    .squeeze_dim::<2>(1)
                    / counts
            }
            None => projected.mean_dim(1).squeeze_dim::<2>(1),
        }
    }

    /// Projector → mean over real frames → classifier (the reason logits only).
    ///
    /// # Shapes
    /// `states`: `[batch, frames, hidden]`, `frame_mask`: `[batch, frames]` → `[batch, classes]`.
    pub fn head(&self, states: Tensor<3>, frame_mask: Option<&Tensor<2>>) -> Tensor<2> {
        self.classifier.forward(self.pool(states, frame_mask))
    }

    /// Both heads on one pooled projection.
    ///
    /// # Shapes
    /// `states`: `[batch, frames, hidden]` → logits `[batch, classes]`, cry logit `[batch, 1]`.
    pub fn heads(&self, states: Tensor<3>, frame_mask: Option<&Tensor<2>>) -> Heads {
        let pooled = self.pool(states, frame_mask);
        Heads {
            cry_logit: self
                .cry_classifier
                .as_ref()
                .map(|head| head.forward(pooled.clone())),
            logits: self.classifier.forward(pooled),
        }
    }
}
