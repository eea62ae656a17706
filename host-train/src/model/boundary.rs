//! Where the frozen part of a classifier ends and the trained part begins.
//!
//! Fine-tuning computes everything below the boundary once per window (and caches it), then
//! trains only what is above. [`frozen_features`] is the part below, [`forward_from`] the part
//! above; together they equal [`HubertForSequenceClassification::forward`].

use burn::module::Module;
use burn::prelude::*;

use super::classifier::{Heads, HubertForSequenceClassification};
use super::config::HubertConfig;

/// A cut through the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Boundary {
    /// After the conv feature encoder: `[frames, conv_dim]` per window. Trains the feature
    /// projection, the positional conv, every layer and the head.
    Conv,
    /// The state entering transformer layer `i`: `[frames, hidden]`. Trains layers `i..` and
    /// the head.
    Layer(usize),
    /// The frame average of the last hidden state: `[1, hidden]`. Trains the head only.
    Pooled,
}

impl Boundary {
    /// Stable text for cache keys and reports: `conv`, `layer:<i>`, `pooled`.
    pub fn name(self) -> String {
        match self {
            Boundary::Conv => "conv".into(),
            Boundary::Layer(i) => format!("layer:{i}"),
            Boundary::Pooled => "pooled".into(),
        }
    }

    /// Shape of one window's features, `[frames, dim]`.
    pub fn item_shape(self, config: &HubertConfig, window_samples: usize) -> [usize; 2] {
        let frames = config.frames_for(window_samples);
        match self {
            Boundary::Conv => [frames, *config.conv_dim.last().expect("validated config")],
            Boundary::Layer(_) => [frames, config.hidden_size],
            Boundary::Pooled => [1, config.hidden_size],
        }
    }
}

/// Everything a window needs below each boundary in `wanted`, from one forward pass of the
/// (frozen, inference-mode) model. Returns one `[batch, frames, dim]` array per boundary.
///
/// # Shapes
/// `audio`: `[batch, samples]`, already normalised.
pub fn frozen_features(
    model: &HubertForSequenceClassification,
    audio: Tensor<2>,
    wanted: &[Boundary],
) -> Vec<TensorData> {
    let conv = model
        .hubert
        .feature_extractor
        .forward(audio)
        .swap_dims(1, 2); // [b, frames, conv]
    let needs_encoder = wanted.iter().any(|b| *b != Boundary::Conv);
    let encoded = needs_encoder.then(|| {
        let x = model.hubert.feature_projection.forward(conv.clone());
        model.hubert.encoder.forward(x, None, true)
    });
    wanted
        .iter()
        .map(|boundary| match boundary {
            Boundary::Conv => conv.clone().into_data(),
            Boundary::Layer(i) => encoded.as_ref().expect("encoded").hidden_states[*i]
                .clone()
                .into_data(),
            Boundary::Pooled => {
                let out = encoded.as_ref().expect("encoded");
                model
                    .weighted_states(&out.last_hidden_state, &out.hidden_states)
                    .mean_dim(1)
                    .into_data()
            }
        })
        .collect()
}

/// Both heads' logits from what [`frozen_features`] computed at `boundary`.
///
/// # Shapes
/// `input`: `[batch, frames, dim]` → `[batch, classes]` (and `[batch, 1]` for the cry head).
pub fn forward_from(
    model: &HubertForSequenceClassification,
    boundary: Boundary,
    input: Tensor<3>,
) -> Heads {
    match boundary {
        Boundary::Conv => {
            let x = model.hubert.feature_projection.forward(input);
            let out = model
                .hubert
                .encoder
                .forward(x, None, model.layer_weights.is_some());
            model.heads(
                model.weighted_states(&out.last_hidden_state, &out.hidden_states),
                None,
            )
        }
        Boundary::Layer(i) => {
            assert!(
                model.layer_weights.is_none(),
                "a layer boundary cannot feed a weighted layer sum"
            );
            let out = model.hubert.encoder.run_layers(input, None, i, false);
            model.heads(out.last_hidden_state, None)
        }
        Boundary::Pooled => model.heads(input, None),
    }
}

/// The model with gradients and training behaviour (dropout) only above `boundary`.
pub fn train_above(
    model: HubertForSequenceClassification,
    boundary: Boundary,
) -> HubertForSequenceClassification {
    let mut model = model.freeze();
    model.projector = model.projector.unfreeze();
    model.classifier = model.classifier.unfreeze();
    model.cry_classifier = model.cry_classifier.map(|head| head.unfreeze());
    model.layer_weights = model.layer_weights.map(|w| w.set_require_grad(true));
    match boundary {
        Boundary::Conv => {
            model.hubert.feature_projection = model.hubert.feature_projection.unfreeze();
            model.hubert.encoder = model.hubert.encoder.unfreeze();
        }
        Boundary::Layer(from) => {
            let encoder = &mut model.hubert.encoder;
            encoder.layers = std::mem::take(&mut encoder.layers)
                .into_iter()
                .enumerate()
                .map(|(i, layer)| if i >= from { layer.unfreeze() } else { layer })
                .collect();
            if encoder.pre_norm {
                // The final LayerNorm sits after the last layer.
                encoder.layer_norm = encoder.layer_norm.clone().unfreeze();
            }
        }
        Boundary::Pooled => {}
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::checkpoint::{Checkpoint, HubertModelKind};
    use crate::model::presets;

    fn classifier(stable: bool) -> (HubertConfig, HubertForSequenceClassification) {
        let (mut config, pre) = presets::tiny();
        config.do_stable_layer_norm = stable;
        config.feat_extract_norm = if stable { "layer" } else { "group" }.into();
        let labels = ["a".to_string(), "b".to_string(), "c".to_string()];
        let ck = Checkpoint::random(config, pre, Some(&labels), 3, &Device::flex()).unwrap();
        let HubertModelKind::Classifier(model) = ck.model else {
            unreachable!()
        };
        (ck.config, model)
    }

    /// Below + above a boundary is the whole model, for every boundary and both encoder kinds.
    #[test]
    fn frozen_then_trained_part_equals_the_full_forward() {
        for stable in [false, true] {
            let (config, model) = classifier(stable);
            let device = Device::flex();
            let audio = Tensor::<2>::random(
                [2, 8000],
                burn::tensor::Distribution::Normal(0.0, 0.3),
                &device,
            );
            let full = model
                .forward(&config, audio.clone(), None, false)
                .logits
                .into_data();
            let wanted = [
                Boundary::Conv,
                Boundary::Layer(0),
                Boundary::Layer(1),
                Boundary::Pooled,
            ];
            let features = frozen_features(&model, audio, &wanted);
            for (boundary, data) in wanted.iter().zip(features) {
                let input = Tensor::<3>::from_data(data, &device);
                let logits = forward_from(&model, *boundary, input).logits.into_data();
                logits.assert_approx_eq::<f32>(&full, burn::tensor::Tolerance::absolute(1e-5));
            }
        }
    }

    #[test]
    fn only_the_part_above_the_boundary_gets_gradients() {
        let device = Device::flex().autodiff();
        let (config, pre) = presets::tiny();
        let labels = ["a".to_string(), "b".to_string()];
        let ck = Checkpoint::random(config.clone(), pre, Some(&labels), 1, &device).unwrap();
        let HubertModelKind::Classifier(model) = ck.model else {
            unreachable!()
        };
        let model = train_above(model, Boundary::Layer(1));
        let input = Tensor::<3>::random(
            [1, 10, config.hidden_size],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let loss = forward_from(&model, Boundary::Layer(1), input).logits.sum();
        let grads = loss.backward();
        let layers = &model.hubert.encoder.layers;
        assert!(
            layers[1]
                .feed_forward
                .output_dense
                .weight
                .grad(&grads)
                .is_some()
        );
        assert!(model.classifier.weight.grad(&grads).is_some());
        assert!(
            layers[0]
                .feed_forward
                .output_dense
                .weight
                .grad(&grads)
                .is_none()
        );
        assert!(
            model
                .hubert
                .feature_projection
                .projection
                .weight
                .grad(&grads)
                .is_none()
        );
    }
}
