//! Checkpoint directories that must fail, and the save → load round trip.

mod common;
use common::fixture;

use std::path::Path;

use burn::prelude::*;
use host_train::model::checkpoint::{
    Checkpoint, CheckpointError, HubertModelKind, read_tensors, write_safetensors,
};

/// A copy of a fixture checkpoint (without its reference outputs) to break.
fn copy_of(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(case)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.starts_with("reference") {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    dir
}

fn patch_config(dir: &Path, field: &str, value: serde_json::Value) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config[field] = value;
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> CheckpointError {
    Checkpoint::load(dir, &Device::flex()).expect_err("loading should fail")
}

#[test]
fn missing_tensor_is_named() {
    let dir = copy_of("distil_group");
    let weights = dir.path().join("model.safetensors");
    let mut tensors: Vec<(String, TensorData)> =
        read_tensors(&weights).unwrap().into_iter().collect();
    tensors.retain(|(k, _)| k != "encoder.layers.1.attention.k_proj.bias");
    write_safetensors(&weights, &tensors).unwrap();
    let err = load_err(dir.path());
    let msg = err.to_string();
    assert!(matches!(err, CheckpointError::Mismatch { .. }), "{msg}");
    assert!(
        msg.contains("missing tensors: encoder.layers.1.attention.k_proj.bias"),
        "{msg}"
    );
}

#[test]
fn extra_layers_in_the_file_are_unexpected() {
    let dir = copy_of("layer_stable");
    patch_config(dir.path(), "num_hidden_layers", 1.into());
    let msg = load_err(dir.path()).to_string();
    assert!(
        msg.contains("unexpected tensors: encoder.layers.1."),
        "{msg}"
    );
}

#[test]
fn wrong_shape_is_named() {
    let dir = copy_of("cls_plain");
    patch_config(dir.path(), "intermediate_size", 48.into());
    let msg = load_err(dir.path()).to_string();
    assert!(
        msg.contains("wrong shapes") && msg.contains("intermediate_dense"),
        "{msg}"
    );
}

#[test]
fn a_config_far_bigger_than_its_weights_is_refused_before_allocating() {
    for (case, field, value) in [
        ("distil_group", "hidden_size", serde_json::json!(1u64 << 40)),
        (
            "layer_stable",
            "num_hidden_layers",
            serde_json::json!(1u64 << 50),
        ),
        (
            "cls_plain",
            "classifier_proj_size",
            serde_json::json!(1u64 << 45),
        ),
        (
            "cls_weighted",
            "conv_kernel",
            serde_json::json!([10, 3, 1u64 << 40]),
        ),
    ] {
        let dir = copy_of(case);
        patch_config(dir.path(), field, value);
        let err = load_err(dir.path());
        let msg = err.to_string();
        assert!(
            matches!(err, CheckpointError::TooFewValues { .. }),
            "{case} {field}: {msg}"
        );
        assert!(msg.contains("do not belong together"), "{msg}");
    }
}

#[test]
fn unsupported_setting_is_named() {
    let dir = copy_of("distil_group");
    patch_config(dir.path(), "conv_pos_batch_norm", true.into());
    let msg = load_err(dir.path()).to_string();
    assert!(msg.contains("`conv_pos_batch_norm` = true"), "{msg}");
    assert!(msg.contains("config.json"), "{msg}");
}

#[test]
fn missing_files_say_how_to_get_a_checkpoint() {
    let empty = tempfile::tempdir().unwrap();
    let msg = load_err(empty.path()).to_string();
    assert!(
        msg.contains("no config.json") && msg.contains("ntu-spml/distilhubert"),
        "{msg}"
    );
    let dir = copy_of("distil_group");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let msg = load_err(dir.path()).to_string();
    assert!(
        msg.contains("no model.safetensors or pytorch_model.bin"),
        "{msg}"
    );
}

fn logits(checkpoint: &Checkpoint, audio: Tensor<2>) -> Vec<f32> {
    let HubertModelKind::Classifier(m) = &checkpoint.model else {
        panic!("classifier expected");
    };
    m.forward(&checkpoint.config, audio, None, false)
        .logits
        .into_data()
        .try_to_vec()
        .unwrap()
}

#[test]
fn save_then_load_gives_the_same_model() {
    let device = Device::flex();
    for case in ["cls_weighted", "cls_plain"] {
        let original = Checkpoint::load(&fixture(case), &device).unwrap();
        let out = tempfile::tempdir().unwrap();
        original.save(out.path()).unwrap();
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(saved["architectures"][0], "HubertForSequenceClassification");
        let keys: Vec<String> = read_tensors(&out.path().join("model.safetensors"))
            .unwrap()
            .into_keys()
            .collect();
        assert!(keys.contains(
            &"hubert.encoder.pos_conv_embed.conv.parametrizations.weight.original0".to_string()
        ));
        assert!(keys.contains(&"hubert.feature_extractor.conv_layers.0.layer_norm.weight".into()));
        assert!(keys.contains(&"classifier.weight".into()));

        let reloaded = Checkpoint::load(out.path(), &device).unwrap();
        assert_eq!(
            reloaded.preprocessor.do_normalize,
            original.preprocessor.do_normalize
        );
        let audio: Vec<f32> = (0..3000)
            .map(|i| ((i as f32) * 0.031).sin() * 0.4)
            .collect();
        let audio = || Tensor::<2>::from_data(TensorData::new(audio.clone(), [1, 3000]), &device);
        assert_eq!(
            logits(&original, audio()),
            logits(&reloaded, audio()),
            "{case}"
        );
    }
}

/// Loading the committed Rust-written checkpoint (the one transformers was checked on) and
/// saving it again reproduces its files byte for byte: the writer is deterministic and stable.
#[test]
fn rewriting_the_rust_saved_fixture_is_byte_identical() {
    let original = fixture("rust_saved");
    let checkpoint = Checkpoint::load(&original, &Device::flex()).unwrap();
    assert!(checkpoint.is_random_init());
    let out = tempfile::tempdir().unwrap();
    checkpoint.save(out.path()).unwrap();
    for file in [
        "model.safetensors",
        "config.json",
        "preprocessor_config.json",
    ] {
        let a = std::fs::read(original.join(file)).unwrap();
        let b = std::fs::read(out.path().join(file)).unwrap();
        assert!(a == b, "{file} differs after a load/save round trip");
    }
}
