//! ONNX export of a HuBERT classifier: the graph written from Rust (tract-onnx's protobuf
//! types), optional dynamic int8 quantisation, and verification against burn in tract.

pub mod graph;
pub mod hubert;
pub mod quant;
pub mod verify;

use burn::prelude::*;
use cry_core::metadata::{CRY_OUTPUT_NAME, INPUT_NAME, ModelMetadata, OUTPUT_NAME};
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
    if model.cry_classifier.is_some() != metadata.alert.is_some() {
        anyhow::bail!(
            "{}: a model {} a cry head needs metadata {} an alert policy",
            checkpoint.weights_path.display(),
            if model.cry_classifier.is_some() {
                "with"
            } else {
                "without"
            },
            if model.cry_classifier.is_some() {
                "with"
            } else {
                "without"
            },
        );
    }
    let mut emitter = HubertEmitter::new(&checkpoint.config, precision);
    let (logits, cry_logit) = emitter.classifier(
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
    let logits_shape = [1, classes];
    let cry_shape = [1usize, 1];
    let mut outputs: Vec<(&str, &[usize])> = vec![(OUTPUT_NAME, &logits_shape[..])];
    if let Some(cry_logit) = cry_logit {
        emitter.g.node_named(
            "Identity",
            &[&cry_logit],
            Vec::<(&str, Attr)>::new(),
            CRY_OUTPUT_NAME,
        );
        outputs.push((CRY_OUTPUT_NAME, &cry_shape[..]));
    }
    let proto = emitter
        .g
        .finish((INPUT_NAME, &[1, window]), &outputs, metadata.to_pairs());
    Ok(proto.encode_to_vec())
}

/// burn's reason logits of one window (normalised as the checkpoint says) and, with a cry
/// head, its cry logit.
pub fn burn_logits(
    checkpoint: &Checkpoint,
    samples: &[f32],
    device: &Device,
) -> (Vec<f32>, Option<f32>) {
    let HubertModelKind::Classifier(model) = &checkpoint.model else {
        panic!("burn_logits needs a classifier");
    };
    let out = model.forward(
        &checkpoint.config,
        checkpoint.input(samples, device),
        None,
        false,
    );
    let vec = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().expect("f32 logits");
    (vec(out.logits), out.cry_logit.map(|c| vec(c)[0]))
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
            let (want, _) = burn_logits(&ck, &audio, &device);
            let (got, _) = tract.logits(&audio).unwrap();
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
        let (want, _) = burn_logits(&ck, &audio, &device);
        let (got, _) = tract.logits(&audio).unwrap();
        let dot: f32 = want.iter().zip(&got).map(|(a, b)| a * b).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cosine = dot / (norm(&want) * norm(&got));
        assert!(cosine > 0.9, "{want:?} vs {got:?}");
    }

    fn two_head(seed: u64) -> Checkpoint {
        let (mut config, pre) = presets::tiny();
        config.set_cry_head(true);
        let labels = ["a".to_string(), "b".to_string()];
        Checkpoint::random(config, pre, Some(&labels), seed, &Device::flex()).unwrap()
    }

    fn two_head_meta(ck: &Checkpoint) -> ModelMetadata {
        let mut meta = ModelMetadata::new(ck.config.labels(), false, "h".into());
        meta.alert = Some(cry_core::alerts::AlertPolicy::default());
        meta.set_window(16_000);
        meta
    }

    /// Both outputs of a two-head export equal burn's within the fp32 bar, and the int8
    /// export's check covers the cry decision.
    #[test]
    fn a_two_head_export_has_both_outputs_and_matches_burn() {
        let device = Device::flex();
        let ck = two_head(11);
        let meta = two_head_meta(&ck);
        let window = 16_000;
        let bytes = to_onnx(&ck, window, Precision::Fp32, &meta).unwrap();
        let tract = verify::TractModel::load(&bytes, window).unwrap();
        for k in 0..3 {
            let audio: Vec<f32> = (0..window)
                .map(|i| 0.3 * ((i as f32) * (0.02 + 0.03 * k as f32)).sin())
                .collect();
            let (want, want_cry) = burn_logits(&ck, &audio, &device);
            let (got, got_cry) = tract.logits(&audio).unwrap();
            let (want_cry, got_cry) = (want_cry.unwrap(), got_cry.unwrap());
            assert!((want_cry - got_cry).abs() < 1e-3, "{want_cry} vs {got_cry}");
            for (a, b) in want.iter().zip(&got) {
                assert!((a - b).abs() < 1e-3, "{want:?} vs {got:?}");
            }
        }
        let verification = verify::compare(&ck, &bytes, None, &device).unwrap();
        assert!(verification.passed, "{verification:?}");
        assert_eq!(verification.cry_agreement, Some(1.0));

        let int8 = to_onnx(&ck, window, Precision::Int8, &{
            let mut m = meta.clone();
            m.quantization = "int8-dynamic".into();
            m
        })
        .unwrap();
        let verification = verify::compare(&ck, &int8, None, &device).unwrap();
        assert!(verification.cry_agreement.is_some());

        // Metadata and model must agree on the cry head.
        let plain = ModelMetadata::new(ck.config.labels(), false, "h".into());
        assert!(to_onnx(&ck, window, Precision::Fp32, &plain).is_err());
        // The checkpoint without its cry head does not pass for the two-head file.
        let mut one_head = ck;
        if let HubertModelKind::Classifier(m) = &mut one_head.model {
            m.cry_classifier = None;
        }
        one_head.config.set_cry_head(false);
        assert!(matches!(
            verify::compare(&one_head, &bytes, None, &device),
            Err(verify::VerifyError::CryHead { onnx: true })
        ));
    }
}
