//! Two-head models (reasons and `cry_logit`): `cry_prob` in every output, cry and calm from the
//! stored alert policy, `--cry-threshold`, and single-output models still running in gate mode.

mod common;
use common::*;

use cry_core::metadata::keys;
use prost::Message;
use serde_json::Value;

/// The committed random-init two-head model (see `tests/fixtures/README.md`).
fn two_head() -> std::path::PathBuf {
    tiny_model("two-head-fp32")
}

/// A 3 s zero-padded start, then `seconds` of a loud harmonic tone, then 6 s of silence.
fn loud_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut audio = vec![0.0f32; 4 * 16_000];
    audio.extend((0..8 * 16_000).map(|i| {
        let t = i as f32 / 16_000.0;
        (1..=4)
            .map(|k| 0.2 * (2.0 * std::f32::consts::PI * 440.0 * k as f32 * t).sin() / k as f32)
            .sum::<f32>()
    }));
    audio.extend(vec![0.0; 6 * 16_000]);
    let path = dir.join("loud.wav");
    write_wav(&path, &audio, 16_000);
    path
}

#[test]
fn classify_reports_the_cry_probability_and_the_decision_at_the_threshold() {
    let model = two_head();
    let out = succeeded(edge(&[
        "classify",
        sample("hungry").to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]));
    let line = &json_lines(&out)[0];
    let p = line["cry_prob"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p), "{line}");
    assert_eq!(line["cry"], p >= 0.5, "{line}");
    // --cry-threshold moves the decision.
    let out = succeeded(edge(&[
        "classify",
        sample("hungry").to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--cry-threshold",
        "1",
    ]));
    assert_eq!(json_lines(&out)[0]["cry"], false);
    // A single-output model has neither.
    let out = succeeded(edge(&[
        "classify",
        sample("hungry").to_str().unwrap(),
        "--model",
        tiny_model("fp32").to_str().unwrap(),
    ]));
    let line = &json_lines(&out)[0];
    assert!(
        line.get("cry_prob").is_none() && line.get("cry").is_none(),
        "{line}"
    );
}

#[test]
fn streams_carry_cry_prob_and_alert_on_the_threshold_not_on_loudness() {
    let dir = tempfile::tempdir().unwrap();
    let file = loud_file(dir.path());
    let model = two_head();
    let run = |threshold: &str| {
        let out = succeeded(edge(&[
            "stream",
            "--input",
            file.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--cry-threshold",
            threshold,
        ]));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!stderr.contains("gate mode"), "{stderr}");
        json_lines(&out)
    };
    // A threshold every window reaches: the loud part alerts after the debounce (2 windows).
    let lines = run("0.000001");
    for w in lines.iter().filter(|v| v["type"] == "window") {
        let map = w.as_object().unwrap();
        assert!(map.contains_key("cry_prob"), "{w}");
        if w["gated"] == true {
            assert!(w["cry_prob"].is_null(), "{w}");
        } else {
            assert!(w["cry_prob"].as_f64().unwrap() > 0.0, "{w}");
        }
    }
    let alerts: Vec<&Value> = lines
        .iter()
        .filter(|v| v["type"] == "cry" || v["type"] == "calm")
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["type"], "cry");
    assert_eq!(alerts[0]["t"], 6.0, "{alerts:?}");
    assert!(alerts[0]["cry_prob"].as_f64().is_some());
    assert_eq!(alerts[1]["type"], "calm");
    // A threshold no window reaches: loud audio alone raises nothing.
    let lines = run("1");
    assert!(
        lines.iter().all(|v| v["type"] != "cry"),
        "{:?}",
        lines
            .iter()
            .filter(|v| v["type"] == "cry")
            .collect::<Vec<_>>()
    );
    assert_eq!(lines.last().unwrap()["cry_events"], 0);
}

#[test]
fn single_output_models_run_in_gate_mode_and_refuse_a_cry_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let file = loud_file(dir.path());
    let old = tiny_model("int8");
    let out = succeeded(edge(&[
        "stream",
        "--input",
        file.to_str().unwrap(),
        "--model",
        old.to_str().unwrap(),
        "--smooth",
        "32",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gate mode"), "{stderr}");
    let lines = json_lines(&out);
    assert!(
        lines.iter().any(|v| v["type"] == "cry"),
        "gate mode alerts on loud audio"
    );
    assert!(
        lines
            .iter()
            .filter(|v| v["type"] == "window")
            .all(|w| w.get("cry_prob").is_none())
    );
    let out = edge(&[
        "stream",
        "--input",
        file.to_str().unwrap(),
        "--model",
        old.to_str().unwrap(),
        "--cry-threshold",
        "0.5",
    ]);
    let stderr = failed_with(out, 2);
    assert!(stderr.contains("no cry head"), "{stderr}");
    let stderr = failed_with(
        edge(&[
            "stream",
            "--input",
            file.to_str().unwrap(),
            "--model",
            two_head().to_str().unwrap(),
            "--cry-threshold",
            "1.5",
        ]),
        2,
    );
    assert!(stderr.contains("--cry-threshold"), "{stderr}");
}

#[test]
fn a_cry_output_without_a_policy_or_a_policy_without_the_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(two_head()).unwrap();
    let proto = tract_onnx::pb::ModelProto::decode(&bytes[..]).unwrap();
    let mut no_policy = proto.clone();
    no_policy
        .metadata_props
        .retain(|p| !keys::ALERT.contains(&p.key.as_str()));
    let path = dir.path().join("no-policy.onnx");
    std::fs::write(&path, no_policy.encode_to_vec()).unwrap();
    let file = loud_file(dir.path());
    let stream = |model: &std::path::Path| {
        edge(&[
            "stream",
            "--input",
            file.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ])
    };
    let stderr = failed_with(stream(&path), 3);
    assert!(stderr.contains("cry_logit"), "{stderr}");

    let old = std::fs::read(tiny_model("fp32")).unwrap();
    let mut policy_only = tract_onnx::pb::ModelProto::decode(&old[..]).unwrap();
    policy_only.metadata_props.extend(
        proto
            .metadata_props
            .iter()
            .filter(|p| keys::ALERT.contains(&p.key.as_str()))
            .cloned(),
    );
    let path = dir.path().join("policy-only.onnx");
    std::fs::write(&path, policy_only.encode_to_vec()).unwrap();
    let stderr = failed_with(stream(&path), 3);
    assert!(stderr.contains("cry_logit"), "{stderr}");
}

#[test]
fn a_model_streams_and_classifies_at_its_stored_hop() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(two_head()).unwrap();
    let mut proto = tract_onnx::pb::ModelProto::decode(&bytes[..]).unwrap();
    assert!(
        proto
            .metadata_props
            .iter()
            .all(|p| p.key != keys::HOP_SAMPLES),
        "the fixture predates stored hops"
    );
    proto
        .metadata_props
        .push(tract_onnx::pb::StringStringEntryProto {
            key: keys::HOP_SAMPLES.into(),
            value: "32000".into(),
        });
    let model = dir.path().join("hop-2s.onnx");
    std::fs::write(&model, proto.encode_to_vec()).unwrap();
    let file = loud_file(dir.path());
    let stream = |extra: &[&str]| {
        let mut args = vec![
            "stream",
            "--input",
            file.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--cry-threshold",
            "0.000001",
        ];
        args.extend_from_slice(extra);
        let out = succeeded(edge(&args));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (json_lines(&out), stderr)
    };
    let window_ends = |lines: &[Value]| -> Vec<f64> {
        lines
            .iter()
            .filter(|v| v["type"] == "window")
            .map(|v| v["t"].as_f64().unwrap())
            .collect()
    };
    let first_cry = |lines: &[Value]| {
        lines
            .iter()
            .find(|v| v["type"] == "cry")
            .map(|v| v["t"].as_f64().unwrap())
    };
    // Its own hop: a window every 2 s; the loud part (from 4 s) makes the windows ending at 5 s
    // and 7 s cry windows, and the debounce of 2 alerts at 7 s.
    let (lines, stderr) = stream(&[]);
    let ends = window_ends(&lines);
    assert_eq!(ends[..3], [3.0, 5.0, 7.0], "{ends:?}");
    assert_eq!(first_cry(&lines), Some(7.0), "{lines:?}");
    assert!(!stderr.contains("alert policy was chosen"), "{stderr}");
    // --hop over it: 1 s windows, the alert a second earlier, and a warning that the policy's
    // windows now last half as long.
    let (lines, stderr) = stream(&["--hop", "1"]);
    assert_eq!(window_ends(&lines)[..3], [3.0, 4.0, 5.0]);
    assert_eq!(first_cry(&lines), Some(6.0));
    assert!(
        stderr.contains("alert policy was chosen at a 2 s hop"),
        "{stderr}"
    );

    // classify scores the 18 s file with the same hop: 8 windows on the 2 s grid and the
    // end-aligned tail; every window is a cry window at this threshold, so one alert.
    let classify = |extra: &[&str]| {
        let mut args = vec![
            "classify",
            file.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        json_lines(&succeeded(edge(&args))).remove(0)
    };
    let line = classify(&["--cry-threshold", "0.000001"]);
    assert_eq!(
        (line["windows"].as_u64(), line["cry_alerts"].as_u64()),
        (Some(9), Some(1)),
        "{line}"
    );
    let line = classify(&["--cry-threshold", "1"]);
    assert_eq!(line["cry_alerts"].as_u64(), Some(0), "{line}");
    let line = classify(&["--hop", "1"]);
    assert_eq!(line["windows"].as_u64(), Some(16), "{line}");
}
