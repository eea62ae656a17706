//! Drives the real `host-train baselines` binary.

mod common;
use common::{host_train, succeeded};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use host_train::synth::{WavFormat, tone, write_wav};
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `n` clips of `label`, each from its own Donate-a-cry style UUID.
fn good_clips(root: &Path, label: &str, n: usize, first_uuid: usize) {
    std::fs::create_dir_all(root.join(label)).unwrap();
    for i in 0..n {
        let uuid = format!("{:08x}-0000-4000-8000-{:012x}", first_uuid + i, i);
        let name = format!("{uuid}-1430000000-1.0-m-26-xx.wav");
        let freq = 200.0 + 37.0 * (first_uuid + i) as f64;
        let samples = tone(freq, 8000, 1.0, 0.3);
        write_wav(
            &root.join(label).join(name),
            &samples,
            8000,
            1,
            WavFormat::Pcm(16),
        )
        .unwrap();
    }
}

/// `baselines --data DATA --out OUT EXTRA...`, whatever it ends in.
fn baselines(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "baselines",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    host_train(&args)
}

fn run_ok(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--random-seeds", "20"];
    args.extend_from_slice(extra);
    succeeded(baselines(data, out, &args))
}

#[test]
fn bad_files_are_skipped_and_odd_formats_used() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    good_clips(&data, "hungry", 8, 0);
    good_clips(&data, "tired", 6, 100);
    let stereo: Vec<f32> = tone(440.0, 44_100, 1.0, 0.2)
        .into_iter()
        .flat_map(|s| [s, 0.5 * s])
        .collect();
    write_wav(
        &data.join("tired/stereo-44k-24bit.wav"),
        &stereo,
        44_100,
        2,
        WavFormat::Pcm(24),
    )
    .unwrap();
    write_wav(
        &data.join("hungry/float32.wav"),
        &tone(300.0, 22_050, 1.0, 0.2),
        22_050,
        1,
        WavFormat::Float32,
    )
    .unwrap();
    let good = std::fs::read(data.join("hungry/float32.wav")).unwrap();
    std::fs::write(data.join("hungry/corrupt.wav"), &good[..good.len() / 3]).unwrap();
    write_wav(
        &data.join("tired/empty.wav"),
        &[],
        8000,
        1,
        WavFormat::Pcm(16),
    )
    .unwrap();
    std::fs::write(data.join("tired/text.wav"), "hello, I am not audio\n").unwrap();

    let out = dir.path().join("out");
    let output = run_ok(&data, &out, &["--outer", "3", "--inner", "2"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("| majority |"));

    let skipped = read_json(&out.join("skipped.json"));
    let reasons: BTreeMap<&str, &str> = skipped
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons["hungry/corrupt.wav"].starts_with("truncated data"));
    assert!(reasons["tired/empty.wav"].contains("zero samples"));
    assert!(reasons["tired/text.wav"].starts_with("not an audio file: starts with \"hello, I am"));

    let report = read_json(&out.join("report.json"));
    assert_eq!(report["schema"], "cry-baselines/1");
    assert_eq!(
        report["data"]["clips"], 16,
        "8 + 6 good clips + stereo + float"
    );
    assert_eq!(report["data"]["skipped"], 3);

    let folds = read_json(&out.join("folds.json"));
    let used: BTreeSet<&str> = folds["outer"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["test"].as_array().unwrap())
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(used.len(), 16);
    assert!(used.contains("tired/stereo-44k-24bit.wav") && used.contains("hungry/float32.wav"));
    assert!(
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .contains("macro F1")
    );
}

/// The bundled clips (20 real cries, 11 synthesized non-cries): groups never straddle folds, and
/// the majority baseline's accuracy is the share of the training majority class in each test
/// fold.
#[test]
fn bundled_samples_folds_and_majority_baseline() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/samples");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(
        &data,
        &out,
        &["--outer", "4", "--inner", "2", "--seed", "7"],
    );
    let folds = read_json(&out.join("folds.json"));
    let report = read_json(&out.join("report.json"));
    let outer = folds["outer"].as_array().unwrap();
    assert_eq!(outer.len(), 4);

    let mut fold_of_group = BTreeMap::new();
    let mut all: Vec<(usize, String)> = Vec::new();
    for (f, o) in outer.iter().enumerate() {
        assert_eq!(o["inner"].as_array().unwrap().len(), 2);
        for e in o["test"].as_array().unwrap() {
            let group = e["group"].as_str().unwrap().to_string();
            let path = e["path"].as_str().unwrap();
            if let Some(name) = path.strip_prefix("not_cry/") {
                // The synthesized non-cry clips: one group each, named by the file.
                assert_eq!(group, name.trim_end_matches(".wav"));
            } else {
                assert_eq!(group, path.split('/').nth(1).unwrap()[..36].to_lowercase());
            }
            assert_eq!(
                *fold_of_group.entry(group).or_insert(f),
                f,
                "group in two folds"
            );
            all.push((f, e["label"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(all.len(), 31);

    let majority = report["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["baseline"] == "majority")
        .unwrap();
    for (f, fold) in majority["folds"].as_array().unwrap().iter().enumerate() {
        let train: Vec<&String> = all
            .iter()
            .filter(|(g, _)| *g != f)
            .map(|(_, l)| l)
            .collect();
        let test: Vec<&String> = all
            .iter()
            .filter(|(g, _)| *g == f)
            .map(|(_, l)| l)
            .collect();
        let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
        for l in &train {
            *counts.entry(l).or_default() += 1;
        }
        let top = counts.values().max().unwrap();
        let winner = counts.iter().find(|(_, c)| *c == top).unwrap().0;
        let share = test.iter().filter(|l| **l == *winner).count() as f64 / test.len() as f64;
        let accuracy = fold["metrics"]["accuracy"].as_f64().unwrap();
        assert!(
            (accuracy - share).abs() < 1e-12,
            "fold {f}: {accuracy} vs {share}"
        );
    }
}

#[test]
fn same_seed_same_folds_other_seed_other_folds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    good_clips(&data, "a", 12, 0);
    good_clips(&data, "b", 9, 50);
    let folds = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        run_ok(&data, &out, &["--seed", seed]);
        std::fs::read_to_string(out.join("folds.json")).unwrap()
    };
    assert_eq!(folds("x", "1"), folds("y", "1"));
    assert_ne!(folds("x", "1"), folds("z", "2"));
}

#[test]
fn unusable_input_gets_a_clear_error_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    good_clips(&data, "hungry", 6, 0);
    std::fs::create_dir_all(data.join("tired")).unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let mut args = vec!["baselines", "--data", data.to_str().unwrap()];
        args.extend_from_slice(&["--out", out.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let o = host_train(&args);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };

    let (code, err) = run(&[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("label folder") && err.contains("tired") && err.contains("empty"));

    good_clips(&data, "tired", 2, 10);
    let (code, err) = run(&["--outer", "9"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("8 leakage groups, fewer than the 9 folds"),
        "{err}"
    );

    let (code, err) = run(&["--outer", "1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--outer"), "{err}");

    let o = host_train(&["baselines", "--data", "/nonexistent", "--out", "/tmp/x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent is not a directory"));
}

#[test]
fn label_rules_and_group_pattern_shape_the_classes_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    good_clips(&data, "belly pain", 6, 0);
    good_clips(&data, "lonely", 3, 100);
    good_clips(&data, "discomfort", 3, 200);
    good_clips(&data, "junk", 2, 300);

    let out = dir.path().join("out");
    let rules = [
        "--outer",
        "3",
        "--inner",
        "2",
        "--label",
        "belly pain=belly_pain",
        "--label",
        "lonely=discomfort",
        "--label",
        "junk=",
    ];
    let output = run_ok(&data, &out, &rules);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Label map ("), "{stdout}");
    let report = read_json(&out.join("report.json"));
    assert_eq!(
        report["data"]["labels"],
        serde_json::json!(["belly_pain", "discomfort"])
    );
    assert_eq!(report["data"]["clips"], 12);
    assert_eq!(report["data"]["label_map"]["rules"]["junk"], "");
    let skipped = read_json(&out.join("skipped.json"));
    let dropped = skipped
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["reason"]
                .as_str()
                .unwrap()
                .contains("dropped by the label map")
        })
        .count();
    assert_eq!(dropped, 2);
    let folds = read_json(&out.join("folds.json"));
    let first = &folds["outer"][0]["test"][0];
    assert_eq!(first["grouped_by"], "donateacry-uuid", "{first}");

    // One group per folder: too few groups for three folds, refused as a data problem (3).
    let by_folder = baselines(
        &data,
        &dir.path().join("out2"),
        &["--outer", "3", "--group-regex", "^([^/]+)/"],
    );
    assert_eq!(by_folder.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&by_folder.stderr).contains("group"));

    for (flag, value) in [
        ("--label", "no-equals-sign"),
        ("--group-regex", "^x"),
        ("--classes", "a,,b"),
    ] {
        let bad = baselines(&data, &dir.path().join("out3"), &[flag, value]);
        assert_eq!(bad.status.code(), Some(2), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains(flag),
            "{flag}"
        );
    }
}

#[test]
fn augmented_copies_train_only_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    good_clips(&data, "hungry", 6, 0);
    good_clips(&data, "tired", 6, 100);
    let originals: Vec<_> = walk(&data);
    for (i, path) in originals.iter().enumerate() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let samples = tone(1500.0 + 23.0 * i as f64, 8000, 1.0, 0.2);
        let copy = path.with_file_name(format!("generated1_{name}"));
        write_wav(&copy, &samples, 8000, 1, WavFormat::Pcm(16)).unwrap();
    }
    let cv = ["--outer", "3", "--inner", "2"];

    let out = dir.path().join("train");
    let stdout = String::from_utf8(run_ok(&data, &out, &cv).stdout).unwrap();
    assert!(stdout.contains("12 augmented copies"), "{stdout}");
    assert!(stdout.contains("trained on only"), "{stdout}");
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["data"]["clips"], 24);
    assert_eq!(report["data"]["classes"][0]["augmented"], 6);
    let tested: u64 = report["cv"]["outer_test_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(tested, 12, "only the originals are scored");
    let folds = read_json(&out.join("folds.json"));
    for outer in folds["outer"].as_array().unwrap() {
        let test_groups: BTreeSet<&str> = outer["test"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["group"].as_str().unwrap())
            .collect();
        let parts = std::iter::once(&outer["test"]).chain(
            outer["inner"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| &i["test"]),
        );
        for part in parts {
            assert!(
                part.as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e.get("augmented").is_none()),
                "an augmented copy in a test part: {part}"
            );
        }
        let trained = outer["augmented_in_training"].as_array().unwrap();
        assert_eq!(trained.len(), 12 - test_groups.len());
        for copy in trained {
            assert_eq!(copy["augmented"], true);
            assert!(!test_groups.contains(copy["group"].as_str().unwrap()));
        }
    }

    let out = dir.path().join("keep");
    let mut keep = cv.to_vec();
    keep.extend(["--augmented", "keep"]);
    let output = run_ok(&data, &out, &keep);
    assert!(String::from_utf8_lossy(&output.stdout).contains("every figure below is inflated"));
    assert!(String::from_utf8_lossy(&output.stderr).contains("inflated"));
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["data"]["augmented"], "keep");
    let folds = std::fs::read_to_string(out.join("folds.json")).unwrap();
    assert!(folds.contains("\"augmented\": true"));

    let out = dir.path().join("drop");
    let mut drop = cv.to_vec();
    drop.extend(["--augmented", "drop"]);
    run_ok(&data, &out, &drop);
    assert_eq!(read_json(&out.join("report.json"))["data"]["clips"], 12);
    let skipped = read_json(&out.join("skipped.json"));
    let dropped = skipped
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"].as_str().unwrap().contains("--augmented drop"))
        .count();
    assert_eq!(dropped, 12);
}

#[test]
fn conflicting_labels_and_reason_codes_are_listed_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    good_clips(&data, "hungry", 6, 0);
    good_clips(&data, "tired", 6, 100);
    let hungry = walk(&data.join("hungry"));
    let name = hungry[0].file_name().unwrap().to_str().unwrap().to_string();
    std::fs::copy(&hungry[0], data.join("tired").join(&name)).unwrap();
    let tired_hu = name
        .replace("-xx.wav", "-hu.wav")
        .replacen("00000000-", "000000ff-", 1);
    let samples = tone(777.0, 8000, 1.0, 0.3);
    write_wav(
        &data.join("tired").join(&tired_hu),
        &samples,
        8000,
        1,
        WavFormat::Pcm(16),
    )
    .unwrap();

    let out = dir.path().join("out");
    let stdout =
        String::from_utf8(run_ok(&data, &out, &["--outer", "3", "--inner", "2"]).stdout).unwrap();
    assert!(
        stdout.contains("Identical audio under different labels, all excluded (1)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("`hungry/{name}` (hungry), `tired/{name}` (tired)")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "`tired/{tired_hu}`: folder `tired`, code says `hungry`"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("| donateacry-uuid "), "{stdout}");
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["data"]["clips"], 12);
    assert_eq!(
        report["data"]["conflicts"][0]["labels"],
        serde_json::json!(["hungry", "tired"])
    );
    assert_eq!(
        report["data"]["reason_mismatches"][0]["code_reason"],
        "hungry"
    );
}

/// Every file under `dir`, sorted.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn a_bandwidth_is_recorded_and_an_impossible_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    good_clips(&data, "hungry", 3, 0);
    good_clips(&data, "tired", 3, 100);
    let out = dir.path().join("out");
    let output = run_ok(
        &data,
        &out,
        &["--outer", "3", "--inner", "2", "--bandwidth", "4000"],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("low-passed to 4000 Hz"), "{stdout}");
    assert_eq!(
        read_json(&out.join("report.json"))["data"]["bandwidth_hz"],
        4000.0
    );

    let bad = baselines(&data, &dir.path().join("bad"), &["--bandwidth", "9000"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--bandwidth") && stderr.contains("9000 Hz"),
        "{stderr}"
    );
}
