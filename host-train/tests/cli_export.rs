//! Drives `host-train export` and `verify-onnx` on the committed transformers fixtures.

mod common;
use common::{fixture, host_train, succeeded};

use std::path::Path;

use cry_core::metadata::{ModelMetadata, keys};
use prost::Message;
use serde_json::Value;
use tract_onnx::pb::ModelProto;

fn export(model: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "export",
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--window-seconds",
        "1",
    ];
    args.extend_from_slice(extra);
    host_train(&args)
}

fn metadata(path: &Path) -> ModelMetadata {
    let proto = ModelProto::decode(&std::fs::read(path).unwrap()[..]).unwrap();
    ModelMetadata::from_pairs(
        proto
            .metadata_props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str())),
    )
    .unwrap()
}

#[test]
fn fixtures_export_and_match_burn_in_tract() {
    let dir = tempfile::tempdir().unwrap();
    for case in ["cls_weighted", "cls_plain"] {
        let model = fixture(case);
        let out = dir.path().join(format!("{case}.onnx"));
        let printed = succeeded(export(&model, &out, &[]));
        let v: Value = serde_json::from_slice(&printed.stdout).unwrap();
        assert!(v["max_abs_diff"].as_f64().unwrap() <= 1e-3, "{case}: {v}");
        assert_eq!(v["quantization"], "fp32");
        let meta = metadata(&out);
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap())
                .unwrap();
        let n = config["id2label"].as_object().unwrap().len();
        let want: Vec<String> = (0..n)
            .map(|i| {
                config["id2label"][i.to_string()]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(meta.labels, want, "{case}: labels in output order");
        assert_eq!((meta.sample_rate, meta.window_samples), (16_000, 16_000));
        assert_eq!(meta.checkpoint_hash.len(), 64);

        let q = dir.path().join(format!("{case}-int8.onnx"));
        let printed = succeeded(export(&model, &q, &["--int8", "--force"]));
        let v: Value = serde_json::from_slice(&printed.stdout).unwrap();
        assert_eq!(v["quantization"], "int8-dynamic");
        assert!(v["mean_cosine"].as_f64().unwrap() > 0.9, "{case}: {v}");
        assert_eq!(metadata(&q).quantization, "int8-dynamic");

        let checked = succeeded(host_train(&[
            "verify-onnx",
            "--model",
            model.to_str().unwrap(),
            "--onnx",
            out.to_str().unwrap(),
        ]));
        let v: Value = serde_json::from_slice(&checked.stdout).unwrap();
        assert_eq!(v["passed"], true);
    }
}

#[test]
fn unusable_models_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    // A bare backbone has no head to export.
    let out = dir.path().join("base.onnx");
    let output = export(&fixture("distil_group"), &out, &[]);
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no classification head"));
    assert!(!out.exists(), "nothing written");

    let model = fixture("cls_plain");
    let good = dir.path().join("good.onnx");
    succeeded(export(&model, &good, &[]));
    let proto = ModelProto::decode(&std::fs::read(&good).unwrap()[..]).unwrap();

    // A required metadata key missing.
    let mut missing = proto.clone();
    missing.metadata_props.retain(|p| p.key != keys::LABELS);
    let path = dir.path().join("missing.onnx");
    std::fs::write(&path, missing.encode_to_vec()).unwrap();
    let verify = |p: &Path| {
        host_train(&[
            "verify-onnx",
            "--model",
            model.to_str().unwrap(),
            "--onnx",
            p.to_str().unwrap(),
        ])
    };
    let output = verify(&path);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains(keys::LABELS));

    // An op tract does not know.
    let mut unknown = proto;
    unknown.graph.as_mut().unwrap().node[0].op_type = "NoSuchOp".into();
    let path = dir.path().join("unknown.onnx");
    std::fs::write(&path, unknown.encode_to_vec()).unwrap();
    let output = verify(&path);
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tract cannot"), "{stderr}");
}
