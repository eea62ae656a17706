//! `HubertModel`: waveform → contextual frame representations.

use burn::prelude::*;

use super::config::HubertConfig;
use super::encoder::{Encoder, EncoderOutput};
use super::feature_extractor::FeatureEncoder;
use super::feature_projection::FeatureProjection;

/// The HuBERT backbone. Field names follow transformers, so checkpoint keys map one to one.
#[derive(Module, Debug)]
pub struct Hubert {
    /// Conv feature encoder.
    pub feature_extractor: FeatureEncoder,
    /// Projection to the transformer width.
    pub feature_projection: FeatureProjection,
    /// Transformer encoder.
    pub encoder: Encoder,
}

/// What [`Hubert::forward`] returns.
#[derive(Debug, Clone)]
pub struct HubertOutput {
    /// `[batch, frames, hidden]`.
    pub last_hidden_state: Tensor<3>,
    /// Every hidden state (`num_hidden_layers + 1`), when requested.
    pub hidden_states: Vec<Tensor<3>>,
    /// `[batch, frames]` 1 for real frames, 0 for padding (`None` when nothing is padded).
    pub frame_mask: Option<Tensor<2>>,
}

impl Hubert {
    /// A randomly initialised model for `config` (which should be validated).
    pub fn new(config: &HubertConfig, device: &Device) -> Self {
        Self {
            feature_extractor: FeatureEncoder::new(config, device),
            feature_projection: FeatureProjection::new(config, device),
            encoder: Encoder::new(config, device),
        }
    }

    /// Runs the backbone on (already normalised) audio. `lengths` gives each clip's valid
    /// samples in a right-padded batch; `None` means every sample is real.
    ///
    /// # Shapes
    /// `audio`: `[batch, samples]` → hidden states `[batch, frames, hidden]`.
    pub fn forward(
        &self,
        config: &HubertConfig,
        audio: Tensor<2>,
        lengths: Option<&[usize]>,
        keep_hidden_states: bool,
    ) -> HubertOutput {
        let features = self.feature_extractor.forward(audio).swap_dims(1, 2); // [b, frames, conv]
        let [batch, frames, _] = features.dims();
        let frame_mask =
            lengths.map(|lengths| frame_mask(config, lengths, batch, frames, &features.device()));
        let x = self.feature_projection.forward(features);
        let EncoderOutput {
            last_hidden_state,
            hidden_states,
        } = self
            .encoder
            .forward(x, frame_mask.clone(), keep_hidden_states);
        HubertOutput {
            last_hidden_state,
            hidden_states,
            frame_mask,
        }
    }
}

/// `[batch, frames]`: 1 where a frame comes from real samples, 0 where from padding.
pub fn frame_mask(
    config: &HubertConfig,
    lengths: &[usize],
    batch: usize,
    frames: usize,
    device: &Device,
) -> Tensor<2> {
    assert_eq!(lengths.len(), batch, "one length per clip");
    let mut mask = vec![0.0f32; batch * frames];
    for (b, &len) in lengths.iter().enumerate() {
        let valid = config.frames_for(len).min(frames);
        mask[b * frames..b * frames + valid].fill(1.0);
    }
    Tensor::from_data(TensorData::new(mask, [batch, frames]), device)
}
