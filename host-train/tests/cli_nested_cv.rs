//! Drives the real `host-train nested-cv`, `merge` and `train` binaries on synthetic data with
//! the tiny architecture.

mod common;
use common::{host_train, succeeded as ok, tiny_args};

use std::path::Path;
use std::process::Output;

use host_train::synth::pattern_dataset;
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `nested-cv` with 3 outer and 2 inner folds.
fn nested_args(data: &Path, out: &Path, grid: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = tiny_args(
        "nested-cv",
        data,
        grid,
        out,
        &["--outer", "3", "--inner", "2", "--random-seeds", "10"],
    );
    args.extend(extra.iter().map(ToString::to_string));
    args
}

fn run(args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    host_train(&args)
}

fn grid(dir: &Path, json: &str) -> std::path::PathBuf {
    let path = dir.join("grid.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn macro_f1(out: &Path) -> f64 {
    read_json(&out.join("report.json"))["summary"]["macro_f1"]["mean"]
        .as_f64()
        .unwrap()
}

const HEAD_GRID: &str = r#"{"learning_rate": [3e-3], "depth": [0], "class_weighting": [true]}"#;
const LONG: [&str; 6] = ["--epochs", "30", "--batch-size", "4", "--patience", "30"];

/// The pattern dataset used by the learnability tests: 3 classes × 8 groups × 2 clips of 3 s.
fn patterns(dir: &Path, shuffled: bool) -> std::path::PathBuf {
    let data = dir.join(if shuffled { "shuffled" } else { "data" });
    pattern_dataset(&data, 8, 2, 3.0, 1, shuffled).unwrap();
    data
}

#[test]
fn head_only_learns_the_patterns_and_shuffled_labels_stay_near_chance() {
    let dir = tempfile::tempdir().unwrap();
    let g = grid(dir.path(), HEAD_GRID);
    let out = dir.path().join("real");
    ok(run(&nested_args(
        &patterns(dir.path(), false),
        &out,
        &g,
        &LONG,
    )));
    let learned = macro_f1(&out);
    assert!(learned >= 0.9, "head-only macro F1 {learned}");

    let shuffled = dir.path().join("control");
    ok(run(&nested_args(
        &patterns(dir.path(), true),
        &shuffled,
        &g,
        &LONG,
    )));
    let control = macro_f1(&shuffled);
    assert!(control < 0.55, "shuffled labels reached macro F1 {control}");

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.lines()
            .next()
            .unwrap()
            .contains("NOT FROM PRETRAINED WEIGHTS"),
        "first line of a random-init report: {}",
        md.lines().next().unwrap()
    );
    let report = read_json(&out.join("report.json"));
    assert!(
        report["warning"]
            .as_str()
            .unwrap()
            .contains("random weights")
    );
    let confusion: u64 = report["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(confusion, 48, "every clip scored once over the outer folds");
    assert_eq!(report["baselines"].as_array().unwrap().len(), 3);
    assert!(
        report["comparison"]["test"]["permutation_p"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    for png in ["confusion.png", "folds.png"] {
        let bytes = std::fs::read(out.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
    }
}

#[test]
fn training_every_layer_learns_the_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let g = grid(
        dir.path(),
        r#"{"learning_rate": [3e-3], "depth": ["all"], "class_weighting": [true]}"#,
    );
    let out = dir.path().join("all");
    ok(run(&nested_args(
        &patterns(dir.path(), false),
        &out,
        &g,
        &LONG,
    )));
    let learned = macro_f1(&out);
    assert!(learned >= 0.9, "depth-all macro F1 {learned}");
}

/// The report without what legitimately differs between equivalent runs: compute times and
/// the command line.
fn comparable(out: &Path) -> Value {
    let mut report = read_json(&out.join("report.json"));
    let obj = report.as_object_mut().unwrap();
    obj.remove("timings");
    obj.remove("command");
    for fold in obj["details"].as_array_mut().unwrap() {
        let fold = fold.as_object_mut().unwrap();
        for part in ["selection", "refit"] {
            let part = fold[part].as_object_mut().unwrap();
            part.remove("train_seconds");
            part.remove("score_seconds");
        }
    }
    report
}

/// Fits side by side (`--jobs`) give the report one job gives: no unit draws from a generator
/// another one shares. Depth 1 trains a layer with dropout (0.1 in the tiny architecture), so
/// the masks are part of what must not depend on the neighbour.
#[test]
fn fits_side_by_side_give_the_report_of_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let data = patterns(dir.path(), false);
    let g = grid(
        dir.path(),
        r#"{"learning_rate": [3e-3, 1e-2], "depth": [1], "class_weighting": [true, false]}"#,
    );
    let short = ["--epochs", "3", "--batch-size", "4"];
    let one = dir.path().join("one");
    let three = dir.path().join("three");
    ok(run(&nested_args(
        &data,
        &one,
        &g,
        &[&short[..], &["--jobs", "1"]].concat(),
    )));
    ok(run(&nested_args(
        &data,
        &three,
        &g,
        &[&short[..], &["--jobs", "3"]].concat(),
    )));
    assert_eq!(comparable(&three), comparable(&one));
}

#[test]
fn a_killed_run_resumes_to_the_same_report_and_separate_folds_merge_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = patterns(dir.path(), false);
    let g = grid(
        dir.path(),
        r#"{"learning_rate": [3e-3, 1e-2], "depth": [0], "class_weighting": [true, false]}"#,
    );
    let whole = dir.path().join("whole");
    ok(run(&nested_args(&data, &whole, &g, &LONG)));

    // Kill (SIGKILL) as soon as the second outer fold has a finished unit.
    let killed = dir.path().join("killed");
    let args = nested_args(&data, &killed, &g, &LONG);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_host-train"))
        .args(&args)
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let marker = killed.join("units/outer-1/inner-0/config-0.json");
    let started = std::time::Instant::now();
    while !marker.is_file() {
        assert!(started.elapsed().as_secs() < 120, "no unit finished");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !killed.join("report.json").exists(),
        "killed before the end"
    );
    assert!(!killed.join("units/outer-2/outer.json").exists());

    // Without --resume the directory is refused; with it the run completes.
    let refused = run(&args);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--resume"));
    let finished_before = std::fs::read(killed.join("units/outer-0/outer.json")).unwrap();
    let mut resume = args.clone();
    resume.push("--resume".into());
    ok(run(&resume));
    assert_eq!(
        std::fs::read(killed.join("units/outer-0/outer.json")).unwrap(),
        finished_before,
        "finished units are not recomputed"
    );
    assert_eq!(comparable(&killed), comparable(&whole));

    // Each outer fold as its own job, then merged.
    let mut parts = Vec::new();
    for k in 0..3 {
        let part = dir.path().join(format!("part{k}"));
        let mut job = nested_args(&data, &part, &g, &LONG);
        job.extend(["--outer-fold".to_string(), k.to_string()]);
        ok(run(&job));
        assert!(!part.join("report.json").exists());
        parts.push(part);
    }
    let merged = dir.path().join("merged");
    let mut merge: Vec<String> = vec!["merge".into(), "--out".into(), merged.display().to_string()];
    let incomplete = run(&[merge.clone(), vec![parts[0].display().to_string()]].concat());
    assert_ne!(incomplete.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&incomplete.stderr).contains("not finished"));
    merge.extend(parts.iter().map(|p| p.display().to_string()));
    ok(run(&merge));
    assert_eq!(comparable(&merged), comparable(&whole));
}

#[test]
fn bad_files_are_skipped_and_arguments_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = patterns(dir.path(), false);
    std::fs::write(data.join("clips/broken.wav"), b"RIFF....WAVEfmt ").unwrap();
    let mut manifest = std::fs::read_to_string(data.join("manifest.csv")).unwrap();
    manifest.push_str("clips/broken.wav,chirp,broken\n");
    std::fs::write(data.join("manifest.csv"), manifest).unwrap();
    let g = grid(dir.path(), HEAD_GRID);
    let out = dir.path().join("out");
    ok(run(&nested_args(&data, &out, &g, &["--epochs", "2"])));
    let skipped = read_json(&out.join("skipped.json"));
    assert_eq!(skipped.as_array().unwrap().len(), 1);
    assert_eq!(skipped[0]["path"], "clips/broken.wav");

    let bad_grid = grid(
        dir.path(),
        r#"{"learning_rate": [], "depth": [0], "class_weighting": [true]}"#,
    );
    let output = run(&nested_args(&data, &dir.path().join("o2"), &bad_grid, &[]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--grid"));
    let deep = grid(
        dir.path(),
        r#"{"learning_rate": [1e-3], "depth": [5], "class_weighting": [true]}"#,
    );
    let output = run(&nested_args(&data, &dir.path().join("o3"), &deep, &[]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("exceeds the model's 2 layers"));
    let output = run(&nested_args(
        &data,
        &dir.path().join("o4"),
        &g,
        &["--outer-fold", "3"],
    ));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn train_saves_a_model_that_loads_and_classifies_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = patterns(dir.path(), false);
    let g = grid(dir.path(), HEAD_GRID);
    let report = dir.path().join("report.json");
    std::fs::write(&report, "{\"stand-in\": true}\n").unwrap();
    let model = dir.path().join("model");
    let mut extra = vec!["--report", report.to_str().unwrap()];
    extra.extend(LONG);
    let args = tiny_args("train", &data, &g, &model, &extra);
    ok(run(&args));
    for file in [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ] {
        assert!(model.join(file).is_file(), "{file}");
    }
    assert!(dir.path().join("model.work/units/selection").is_dir());
    let training = read_json(&model.join("training.json"));
    assert_eq!(
        training["report_hash"].as_str().unwrap(),
        blake3::hash(&std::fs::read(&report).unwrap())
            .to_hex()
            .as_str()
    );
    assert_eq!(training["data"]["clips"], 48);
    assert!(
        training["warning"]
            .as_str()
            .unwrap()
            .contains("random weights")
    );
    let config = read_json(&model.join("config.json"));
    assert_eq!(
        config["architectures"][0],
        "HubertForSequenceClassification"
    );

    // The saved model scores the clips it was fitted on through `embed`, like any checkpoint.
    let manifest = std::fs::read_to_string(data.join("manifest.csv")).unwrap();
    let mut correct = 0;
    let rows: Vec<&str> = manifest.lines().skip(1).step_by(4).collect();
    for row in &rows {
        let mut cols = row.split(',');
        let (path, label) = (cols.next().unwrap(), cols.next().unwrap());
        let logits = dir.path().join("logits.npy");
        ok(host_train(&[
            "embed",
            "--pretrained",
            model.to_str().unwrap(),
            "--audio",
            data.join(path).to_str().unwrap(),
            "--out",
            dir.path().join("hidden.npy").to_str().unwrap(),
            "--logits",
            logits.to_str().unwrap(),
        ]));
        let (_, values) = host_train::npy::read_f32(&logits).unwrap();
        let best = (0..values.len())
            .max_by(|&a, &b| values[a].total_cmp(&values[b]))
            .unwrap();
        let id2label = &config["id2label"][best.to_string()];
        if id2label == label {
            correct += 1;
        }
    }
    assert!(
        correct * 10 >= rows.len() * 9,
        "{correct} of {} right",
        rows.len()
    );
}
