//! Drives `host-train embed` and `host-train init`.

mod common;
use common::{fixture, host_train, max_diff};

use std::path::Path;
use std::process::Output;

use host_train::model::checkpoint::read_tensors;
use host_train::npy::read_f32;
use host_train::synth::{WavFormat, write_wav};

fn check(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `embed` on each transformers-saved checkpoint, for clip 0 of its reference audio written as a
/// 16 kHz float WAV, equals transformers' output for that clip within 1e-4.
#[test]
fn embed_matches_transformers() {
    let dir = tempfile::tempdir().unwrap();
    for case in ["distil_group", "layer_stable", "cls_weighted", "cls_plain"] {
        let reference = read_tensors(&fixture(case).join("reference.safetensors")).unwrap();
        let audio: Vec<f32> = reference["audio"].clone().try_to_vec().unwrap();
        let wav = dir.path().join(format!("{case}.wav"));
        write_wav(&wav, &audio[..4000], 16_000, 1, WavFormat::Float32).unwrap();
        let hidden = dir.path().join(format!("{case}-hidden.npy"));
        let logits = dir.path().join(format!("{case}-logits.npy"));
        let path = |p: &Path| p.to_str().unwrap().to_string();
        let mut args: Vec<String> = ["embed", "--pretrained"].map(String::from).to_vec();
        args.extend([path(&fixture(case)), "--audio".into(), path(&wav)]);
        args.extend(["--out".into(), path(&hidden)]);
        let classifier = case.starts_with("cls");
        if classifier {
            args.extend(["--logits".into(), path(&logits)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check(&host_train(&args));

        let (shape, got) = read_f32(&hidden).unwrap();
        assert_eq!(shape, [199, 32], "{case}");
        let want: Vec<f32> = reference["single_last_hidden_state"]
            .clone()
            .try_to_vec()
            .unwrap();
        let diff = max_diff(&got, &want);
        assert!(diff <= 1e-4, "{case} hidden: max |Δ| {diff:e}");
        if classifier {
            let (_, got) = read_f32(&logits).unwrap();
            let want: Vec<f32> = reference["single_logits"].clone().try_to_vec().unwrap();
            let diff = max_diff(&got, &want);
            assert!(diff <= 1e-4, "{case} logits: max |Δ| {diff:e}");
        }
    }
}

#[test]
fn embed_asks_for_logits_of_a_backbone_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, &vec![0.1; 8000], 16_000, 1, WavFormat::Pcm(16)).unwrap();
    let out = host_train(&[
        "embed",
        "--pretrained",
        fixture("distil_group").to_str().unwrap(),
        "--audio",
        wav.to_str().unwrap(),
        "--out",
        dir.path().join("h.npy").to_str().unwrap(),
        "--logits",
        dir.path().join("l.npy").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no classification head"));
}

#[test]
fn init_writes_a_loadable_random_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model");
    let config = fixture("cls_plain").join("config.json");
    check(&host_train(&[
        "init",
        "--config",
        config.to_str().unwrap(),
        "--labels",
        "hungry,tired,burping",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["id2label"]["2"], "burping");
    assert_eq!(saved["cry_random_init"]["seed"], 3);
    assert!(out.join("preprocessor_config.json").is_file());

    let wav = dir.path().join("a.wav");
    write_wav(
        &wav,
        &host_train::synth::tone(440.0, 16_000, 0.5, 0.3),
        16_000,
        1,
        WavFormat::Pcm(16),
    )
    .unwrap();
    let logits = dir.path().join("l.npy");
    check(&host_train(&[
        "embed",
        "--pretrained",
        out.to_str().unwrap(),
        "--audio",
        wav.to_str().unwrap(),
        "--out",
        dir.path().join("h.npy").to_str().unwrap(),
        "--logits",
        logits.to_str().unwrap(),
    ]));
    let (shape, values) = read_f32(&logits).unwrap();
    assert_eq!(shape, [3]);
    assert!(values.iter().all(|v| v.is_finite()));

    // Same seed, same weights; another seed, other weights.
    let again = dir.path().join("again");
    let other = dir.path().join("other");
    for (path, seed) in [(&again, "3"), (&other, "4")] {
        check(&host_train(&[
            "init",
            "--config",
            config.to_str().unwrap(),
            "--labels",
            "hungry,tired,burping",
            "--seed",
            seed,
            "--out",
            path.to_str().unwrap(),
        ]));
    }
    let bytes = |p: &Path| std::fs::read(p.join("model.safetensors")).unwrap();
    assert_eq!(bytes(&out), bytes(&again));
    assert_ne!(bytes(&out), bytes(&other));
}

#[test]
fn missing_checkpoint_exits_3_with_instructions() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, &vec![0.1; 8000], 16_000, 1, WavFormat::Pcm(16)).unwrap();
    let out = host_train(&[
        "embed",
        "--pretrained",
        dir.path().to_str().unwrap(),
        "--audio",
        wav.to_str().unwrap(),
        "--out",
        dir.path().join("h.npy").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no config.json") && err.contains("huggingface-cli download"),
        "{err}"
    );
}

/// `bench` runs every measurement it is asked for (on a tiny config; full-size numbers belong
/// in BENCHMARKS.md, not in tests) and names the machine.
#[test]
fn bench_reports_each_measurement() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let config = fixture("layer_stable").join("config.json");
    let out = host_train(&[
        "bench",
        "--config",
        config.to_str().unwrap(),
        "--seconds",
        "0.5,1",
        "--iters",
        "1",
        "--train-batch",
        "2",
        "--train-seconds",
        "0.5",
        "--json",
        json.to_str().unwrap(),
    ]);
    check(&out);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = report["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names[0].starts_with("forward 0.5 s"));
    assert!(names[1].contains("conv feature encoder 0.5 s"));
    assert!(names[4].starts_with("train step 2 x 0.5 s"));
    assert!(report["timings"][4]["median_s"].as_f64().unwrap() > 0.0);
    assert!(
        report["machine"]
            .as_str()
            .unwrap()
            .contains("logical cores")
    );
}

/// A hub id that cannot be downloaded (here: an endpoint nobody listens on) says how to get the
/// files by hand, and exits 3.
#[test]
fn unreachable_hub_id_explains_how_to_get_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, &[0.1; 8000], 16_000, 1, WavFormat::Pcm(16)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host-train"))
        .args(["embed", "--pretrained", "ntu-spml/distilhubert", "--audio"])
        .arg(&wav)
        .arg("--out")
        .arg(dir.path().join("h.npy"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", dir.path().join("hf"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("downloading it from the Hugging Face hub failed"),
        "{err}"
    );
    assert!(
        err.contains("huggingface-cli download ntu-spml/distilhubert --local-dir DIR"),
        "{err}"
    );
}
