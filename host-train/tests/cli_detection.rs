//! Cry detection end to end on a generated task (cries as harmonic tones, non-cries as noise):
//! `train` fits both heads from partial labels and stores a cry threshold, `export` writes both
//! outputs with the policy in the metadata, and edge-infer's engine scores the exported model
//! with the same cry probability as burn.

mod common;
use common::{host_train, succeeded as ok, tiny_args};

use std::path::Path;

use burn::prelude::Device;
use cry_core::audio::{LoadOptions, load_clip};
use cry_core::contract::{HOP_SAMPLES, WINDOW_SAMPLES};
use cry_core::scoring::sigmoid;
use cry_core::windows::{copy_window, window_starts};
use edge_infer::stream::{Detector, DetectorConfig, Event};
use edge_infer::{Engine, EngineOptions};
use host_train::export::burn_logits;
use host_train::model::checkpoint::Checkpoint;
use host_train::synth::detection_dataset;
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// burn's cry probability of a clip: the mean over its scoring windows, as the host scores.
fn burn_cry_prob(checkpoint: &Checkpoint, samples: &[f32]) -> f32 {
    let device = Device::flex();
    let starts = window_starts(samples.len(), WINDOW_SAMPLES, HOP_SAMPLES);
    let mut window = vec![0.0; WINDOW_SAMPLES];
    let total: f32 = starts
        .iter()
        .map(|&s| {
            copy_window(samples, s, &mut window);
            sigmoid(
                burn_logits(checkpoint, &window, &device)
                    .1
                    .expect("cry head"),
            )
        })
        .sum();
    total / starts.len() as f32
}

/// A generated detection dataset in `dir/data` (4 classes x 6 groups x 2 clips of 5 s: three
/// streamed windows per clip) and a head-only grid; returns the data folder.
fn detection_task(dir: &Path, seed: u64) -> std::path::PathBuf {
    let data = dir.join("data");
    detection_dataset(&data, 6, 2, 5.0, seed).unwrap();
    std::fs::write(
        dir.join("grid.json"),
        r#"{"learning_rate": [1e-2], "depth": [0], "class_weighting": [true]}"#,
    )
    .unwrap();
    data
}

/// `command` on the task in `dir` with the tiny architecture, its grid, 30 epochs without early
/// stopping, output `out`, then `extra`; must succeed.
fn tiny(command: &str, dir: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    ok(run_tiny(command, dir, out, extra))
}

/// [`tiny`], whatever the outcome.
fn run_tiny(command: &str, dir: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut more = vec!["--epochs", "30", "--batch-size", "4", "--patience", "30"];
    more.extend_from_slice(extra);
    let args = tiny_args(
        command,
        &dir.join("data"),
        &dir.join("grid.json"),
        out,
        &more,
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    host_train(&args)
}

#[test]
fn a_two_head_model_learns_cries_from_noise_and_the_edge_scores_it_like_burn() {
    let dir = tempfile::tempdir().unwrap();
    let data = detection_task(dir.path(), 3);
    let manifest = data.join("manifest.csv");
    let model = dir.path().join("model");
    tiny("train", dir.path(), &model, &["--folds", "3"]);

    // The HF directory records the cry head; the reason head has the reasons only.
    let config = read_json(&model.join("config.json"));
    assert_eq!(config["cry_head"], true);
    assert_eq!(config["id2label"]["0"], "hungry");
    assert_eq!(config["id2label"]["1"], "tired");
    assert!(config["id2label"].get("2").is_none(), "{config}");
    let checkpoint = Checkpoint::load(&model, &Device::flex()).unwrap();
    assert!(checkpoint.config.has_cry_head());

    // Learned, on the selection CV's held-out parts: the mean of the reasons' macro-F1 and the
    // cry head's macro-F1.
    let training = read_json(&model.join("training.json"));
    let chosen = training["selection"]["chosen"].as_u64().unwrap() as usize;
    let score = training["selection"]["scores"][chosen][1]["mean"]
        .as_f64()
        .unwrap();
    assert!(score >= 0.85, "held-out selection score {score}");
    let detection = &training["detection"];
    let threshold = detection["policy"]["threshold"].as_f64().unwrap();
    assert!(threshold > 0.0 && threshold <= 1.0, "{detection}");
    assert_eq!(detection["max_false_alarms_per_hour"], 1.0);
    let figures = &detection["figures"];
    assert_eq!(figures["cry_clips"], 36);
    assert!(
        figures["share_alerted"].as_f64().unwrap() >= 0.8,
        "{figures}"
    );

    // Export: both outputs, the policy in the metadata, verified against burn.
    let onnx = dir.path().join("two-head.onnx");
    let printed = ok(host_train(&[
        "export",
        "--model",
        model.to_str().unwrap(),
        "--out",
        onnx.to_str().unwrap(),
    ]));
    let v: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(v["passed"], true, "{v}");
    assert_eq!(v["cry_agreement"], 1.0, "{v}");
    let int8 = dir.path().join("two-head-int8.onnx");
    let printed = ok(host_train(&[
        "export",
        "--model",
        model.to_str().unwrap(),
        "--out",
        int8.to_str().unwrap(),
        "--int8",
        "--force",
    ]));
    let v: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert!(v["cry_agreement"].as_f64().is_some(), "{v}");

    // The edge's engine gives burn's cry probability (fp32 within 1e-3).
    let engine = Engine::load(&onnx, &EngineOptions::default()).unwrap();
    let policy = engine.metadata().alert.expect("a stored policy");
    assert!((f64::from(policy.threshold) - threshold).abs() < 1e-6);
    assert_eq!(engine.metadata().alert_target, Some(1.0));
    // The hop the host scored and chose the policy at travels with the model.
    assert_eq!(engine.metadata().hop_samples, HOP_SAMPLES);
    let mut session = engine.session().unwrap();
    let manifest_text = std::fs::read_to_string(&manifest).unwrap();
    let rows: Vec<(String, String)> = manifest_text
        .lines()
        .skip(1)
        .step_by(6)
        .map(|row| {
            let mut cols = row.split(',');
            (
                cols.next().unwrap().to_string(),
                cols.next().unwrap().to_string(),
            )
        })
        .collect();
    for (path, _) in &rows {
        let clip = load_clip(&data.join(path), &LoadOptions::default()).unwrap();
        let edge =
            edge_infer::scoring::score_clip(&mut session, &clip.samples, HOP_SAMPLES).unwrap();
        let burn = burn_cry_prob(&checkpoint, &clip.samples);
        let edge = edge.cry_prob.expect("a cry head");
        assert!(
            (edge - burn).abs() < 1e-3,
            "{path}: edge {edge}, burn {burn}"
        );
    }

    // Streamed through the detector: noise, then a cry, then noise. The cry is alerted after it
    // starts, and calm follows once it is over.
    let clip = |label: &str| {
        let (path, _) = rows.iter().find(|(_, l)| l == label).unwrap();
        load_clip(&data.join(path), &LoadOptions::default())
            .unwrap()
            .samples
    };
    let mut recording = clip("not_cry");
    let cry_start = recording.len() as f64 / 16_000.0;
    recording.extend(clip("hungry"));
    recording.extend(clip("hungry"));
    let cry_end = recording.len() as f64 / 16_000.0;
    recording.extend(clip("not_cry"));
    recording.extend(clip("not_cry"));
    let config = DetectorConfig {
        alert: Some(policy),
        ..DetectorConfig::default()
    };
    let mut detector = Detector::new(engine.session().unwrap(), config).unwrap();
    let mut events = Vec::new();
    detector.push(&recording, &mut events).unwrap();
    let alerts: Vec<&Event> = events
        .iter()
        .filter(|e| !matches!(e, Event::Window(_)))
        .collect();
    let Some(Event::Cry { t, cry_prob, .. }) = alerts.first() else {
        panic!("no cry alert: {alerts:?}");
    };
    assert!(
        *t > cry_start && *t <= cry_end + 3.0,
        "cry at {t}: {alerts:?}"
    );
    assert!(cry_prob.unwrap() >= policy.release);
    assert!(
        alerts
            .iter()
            .any(|e| matches!(e, Event::Calm { t, .. } if *t > cry_end)),
        "{alerts:?}"
    );
}

#[test]
fn detection_classes_alone_or_cries_without_negatives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    detection_task(dir.path(), 5);
    let out = dir.path().join("m");
    let train = |extra: &[&str]| run_tiny("train", dir.path(), &out, extra);
    // Only `cry` and `not_cry` left: nothing for the reason head.
    let out = train(&["--label", "hungry=", "--label", "tired="]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no reason class"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Cries of unknown reason without negatives.
    let out = train(&["--label", "not_cry="]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_cry"));
    // A budget that is not a rate.
    let out = train(&["--max-false-alarms-per-hour", "-1"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn nested_cv_scores_the_cry_head_against_the_energy_gate_on_the_same_folds() {
    let dir = tempfile::tempdir().unwrap();
    detection_task(dir.path(), 4);
    let out = dir.path().join("cv");
    tiny(
        "nested-cv",
        dir.path(),
        &out,
        &["--outer", "3", "--inner", "2", "--random-seeds", "10"],
    );
    let report = read_json(&out.join("report.json"));
    // The reason metrics are over the reason clips only: 2 reasons x 6 groups x 2 clips.
    assert_eq!(report["reasons"], serde_json::json!(["hungry", "tired"]));
    let confusion: u64 = report["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(confusion, 24);
    let detection = &report["detection"];
    let names: Vec<&str> = detection["detectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cry head", "energy gate", "majority", "stratified"]);
    let head = &detection["detectors"][0];
    let auc = head["summary"]["roc_auc"]["mean"].as_f64().unwrap();
    assert!(auc >= 0.9, "cry head ROC AUC {auc}");
    assert_eq!(head["folds"].as_array().unwrap().len(), 3);
    // Every clip is a test clip once: 36 cries, 12 non-cries of 5 s.
    assert_eq!(head["alerts"]["cry_clips"], 36);
    let hours = head["alerts"]["non_cry_hours"].as_f64().unwrap();
    assert!((hours - 12.0 * 5.0 / 3600.0).abs() < 1e-6, "{hours}");
    assert_eq!(head["by_source"].as_array().unwrap().len(), 1);
    let majority_auc = detection["detectors"][2]["summary"]["roc_auc"]["mean"]
        .as_f64()
        .unwrap();
    assert_eq!(majority_auc, 0.5, "a constant score ranks nothing");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Cry detection"), "{md}");
    assert!(md.contains("| energy gate |"), "{md}");
    for png in ["roc.png", "alerts.png"] {
        let bytes = std::fs::read(out.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
    }
    assert!(out.join("detection-inputs.json").is_file());

    held_out_recording_of(dir.path(), &out);
}

/// The end-to-end check's tools on the run `run` over the task in `dir`: `held-out-recording`
/// lays outer fold 0's test clips end to end and writes the rest as a manifest `train` accepts;
/// the recording streamed through edge-infer's detector gives JSON lines that `score-stream`
/// counts against the truth.
fn held_out_recording_of(dir: &Path, run: &Path) {
    let data = dir.join("data");
    let check = dir.join("e2e");
    let printed = ok(host_train(&[
        "held-out-recording",
        "--run",
        run.to_str().unwrap(),
        "--outer-fold",
        "0",
        "--data",
        data.to_str().unwrap(),
        "--out",
        check.to_str().unwrap(),
    ]));
    assert!(
        String::from_utf8_lossy(&printed.stdout).contains("outer fold 0"),
        "{}",
        String::from_utf8_lossy(&printed.stdout)
    );
    let spec = read_json(&run.join("run.json"));
    let fold = &spec["splits"][0];
    let test: Vec<usize> = fold["test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let truth = read_json(&check.join("truth.json"));
    let segments = truth["segments"].as_array().unwrap();
    assert_eq!(segments.len(), test.len(), "every test clip, once");
    let mut listed: Vec<&str> = segments
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = test
        .iter()
        .map(|&i| spec["clips"][i]["path"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    want.sort_unstable();
    assert_eq!(listed, want);
    let mut end = 0.0;
    for s in segments {
        assert_eq!(s["start"].as_f64().unwrap(), end, "segments are contiguous");
        end = s["end"].as_f64().unwrap();
        assert_eq!(s["cry"].as_bool().unwrap(), s["label"] != "not_cry");
    }
    let whole = LoadOptions {
        max_seconds: None,
        ..LoadOptions::default()
    };
    let recording = load_clip(&check.join("recording.wav"), &whole).unwrap();
    let seconds = recording.samples.len() as f64 / 16_000.0;
    assert!(
        (seconds - end).abs() < 1e-6,
        "{seconds} s of audio, truth ends at {end}"
    );
    assert!((seconds - 5.0 * test.len() as f64).abs() < 1e-3);

    // The manifest is the outer training part, and `train` takes it as it is.
    let manifest = std::fs::read_to_string(check.join("train.csv")).unwrap();
    let train_clips = fold["train"].as_array().unwrap().len();
    assert_eq!(manifest.lines().count(), train_clips + 1, "{manifest}");
    let model = dir.join("e2e-model");
    let trained = ok(host_train(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--manifest",
        check.join("train.csv").to_str().unwrap(),
        "--config",
        "tiny",
        "--grid",
        dir.join("grid.json").to_str().unwrap(),
        "--folds",
        "2",
        "--epochs",
        "2",
        "--out",
        model.to_str().unwrap(),
    ]));
    let line = String::from_utf8_lossy(&trained.stdout).to_string();
    assert!(
        line.contains(&format!("trained on {train_clips} clips")),
        "{line}"
    );

    // A two-head model streams the recording; every cry event is counted once.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../edge-infer/tests/fixtures/tiny-two-head-fp32.onnx");
    let engine = Engine::load(&fixture, &EngineOptions::default()).unwrap();
    let config = DetectorConfig {
        alert: engine.metadata().alert,
        gate_dbfs: -200.0,
        ..DetectorConfig::default()
    };
    let mut detector = Detector::new(engine.session().unwrap(), config).unwrap();
    let mut events = Vec::new();
    detector.push(&recording.samples, &mut events).unwrap();
    let mut lines = edge_infer::output::EventWriter::new(Vec::new(), &engine.metadata().labels)
        .with_cry_head(true);
    for event in &events {
        lines.write(event).unwrap();
    }
    let jsonl = check.join("events.jsonl");
    std::fs::write(&jsonl, lines.into_inner()).unwrap();
    let cries = events
        .iter()
        .filter(|e| matches!(e, Event::Cry { .. }))
        .count();
    let figures_path = check.join("figures.json");
    let table = ok(host_train(&[
        "score-stream",
        "--truth",
        check.join("truth.json").to_str().unwrap(),
        "--events",
        jsonl.to_str().unwrap(),
        "--json",
        figures_path.to_str().unwrap(),
    ]));
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(
        table.contains("| false alarms per hour of non-cry audio |"),
        "{table}"
    );
    let figures = read_json(&figures_path);
    assert_eq!(figures["alerts"], cries);
    assert_eq!(
        figures["true_alerts"].as_u64().unwrap() + figures["false_alarms"].as_u64().unwrap(),
        cries as u64
    );
    let cry_segments = segments.iter().filter(|s| s["cry"] == true).count();
    assert_eq!(figures["cry_clips"], cry_segments);
    assert!((figures["seconds"].as_f64().unwrap() - seconds).abs() < 1e-6);

    // A fold the run does not have is refused by name.
    let refused = host_train(&[
        "held-out-recording",
        "--run",
        run.to_str().unwrap(),
        "--outer-fold",
        "7",
        "--data",
        data.to_str().unwrap(),
        "--out",
        check.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("has 3 outer folds"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
