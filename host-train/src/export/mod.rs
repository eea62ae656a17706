//! ONNX export of a HuBERT classifier: the graph written from Rust (tract-onnx's protobuf
//! types), optional dynamic int8 quantisation, and verification against burn in tract.

pub mod graph;
pub mod hubert;
pub mod quant;
pub mod verify;

use burn::prelude::*;
use cry_core::metadata::{INPUT_NAME, ModelMetadata, OUTPUT_NAME};
use prost::Message;

use crate::model::checkpoint::{Checkpoint, HubertModelKind};
use graph::Attr;
use hubert::{HubertEmitter, Precision};

/// The ONNX bytes of a classifier checkpoint for `window`-sample inputs.
pub fn to_onnx(
    checkpoint: &Checkpoint,
    window: usize,
    precision: Precision,
    metadata: &ModelMetadata,
) -> anyhow::Result<Vec<u8>> {
    let HubertModelKind::Classifier(model) = &checkpoint.model else {
        anyhow::bail!(
            "{} is a bare HubertModel (no classification head); export needs a fine-tuned \
             classifier (`host-train train`, or `init --labels` for a random one)",
            checkpoint.weights_path.display()
        );
    };
    let mut emitter = HubertEmitter::new(&checkpoint.config, precision);
    let logits = emitter.classifier(
        model,
        INPUT_NAME,
        window,
        checkpoint.preprocessor.do_normalize,
    );
    emitter.g.node_named(
        "Identity",
        &[&logits],
        Vec::<(&str, Attr)>::new(),
        OUTPUT_NAME,
    );
    let classes = checkpoint.config.num_labels();
    let proto = emitter.g.finish(
        (INPUT_NAME, &[1, window]),
        (OUTPUT_NAME, &[1, classes]),
        metadata.to_pairs(),
    );
    Ok(proto.encode_to_vec())
}

/// burn's logits of one window (normalised as the checkpoint says).
pub fn burn_logits(checkpoint: &Checkpoint, samples: &[f32], device: &Device) -> Vec<f32> {
    let (_, logits) = checkpoint.forward(checkpoint.input(samples, device));
    logits
        .expect("a classifier")
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 logits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::presets;

    #[test]
    fn fp32_export_matches_burn_in_tract() {
        let device = Device::flex();
        for (stable, normalize) in [(false, false), (true, true)] {
            let (mut config, mut pre) = presets::tiny();
            config.do_stable_layer_norm = stable;
            config.feat_extract_norm = if stable { "layer" } else { "group" }.into();
            pre.do_normalize = normalize;
            let labels = ["a".to_string(), "b".to_string(), "c".to_string()];
            let ck = Checkpoint::random(config, pre, Some(&labels), 7, &device).unwrap();
            let meta = ModelMetadata::new(labels.to_vec(), normalize, "h".into());
            let window = 16_000;
            let bytes = to_onnx(&ck, window, Precision::Fp32, &meta).unwrap();
            let tract = verify::TractModel::load(&bytes, window).unwrap();
            let audio: Vec<f32> = (0..window)
                .map(|i| 0.3 * ((i as f32) * 0.05).sin() + 0.01 * ((i * 7919) % 13) as f32)
                .collect();
            let want = burn_logits(&ck, &audio, &device);
            let got = tract.logits(&audio).unwrap();
            let diff = want
                .iter()
                .zip(&got)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(diff < 1e-3, "stable={stable}: {want:?} vs {got:?}");
        }
    }

    #[test]
    fn int8_export_runs_in_tract_and_agrees() {
        let device = Device::flex();
        let (config, pre) = presets::tiny();
        let labels = ["a".to_string(), "b".to_string(), "c".to_string()];
        let ck = Checkpoint::random(config, pre, Some(&labels), 9, &device).unwrap();
        let meta = ModelMetadata::new(labels.to_vec(), false, "h".into());
        let window = 16_000;
        let bytes = to_onnx(&ck, window, Precision::Int8, &meta).unwrap();
        let tract = verify::TractModel::load(&bytes, window).unwrap();
        let audio: Vec<f32> = (0..window)
            .map(|i| 0.3 * ((i as f32) * 0.05).sin())
            .collect();
        let want = burn_logits(&ck, &audio, &device);
        let got = tract.logits(&audio).unwrap();
        let dot: f32 = want.iter().zip(&got).map(|(a, b)| a * b).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cosine = dot / (norm(&want) * norm(&got));
        assert!(cosine > 0.9, "{want:?} vs {got:?}");
    }
}
