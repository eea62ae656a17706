//! Drives the `edge-infer` binary: classify, stream, the contract checks, errors and exit codes.

mod common;
use common::*;

use cry_core::metadata::keys;
use prost::Message;
use serde_json::Value;

const LABELS: [&str; 5] = ["belly_pain", "burping", "discomfort", "hungry", "tired"];

fn probs_of(v: &Value, key: &str) -> Vec<f64> {
    LABELS
        .iter()
        .map(|l| {
            v[key][l]
                .as_f64()
                .unwrap_or_else(|| panic!("{key}.{l} in {v}"))
        })
        .collect()
}

/// `classify FILE --model MODEL`, which must succeed, as JSON lines.
fn classify_lines(file: &std::path::Path, model: &str) -> Vec<Value> {
    json_lines(&succeeded(edge(&[
        "classify",
        file.to_str().unwrap(),
        "--model",
        model,
    ])))
}

/// `stream --input FILE --model MODEL EXTRA...`, which must succeed, as JSON lines.
fn stream_lines(input: &std::path::Path, model: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "stream",
        "--input",
        input.to_str().unwrap(),
        "--model",
        model,
    ];
    args.extend_from_slice(extra);
    json_lines(&succeeded(edge(&args)))
}

#[test]
fn classify_prints_one_object_per_file_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wav");
    std::fs::write(&broken, b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();
    let good = sample("hungry");
    let model = tiny_model("fp32");
    let out = edge(&[
        "classify",
        good.to_str().unwrap(),
        broken.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
    ]);
    let stderr = failed_with(out.clone(), 4);
    assert!(stderr.contains("broken.wav"), "{stderr}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert!(LABELS.contains(&first["label"].as_str().unwrap()));
    let p = probs_of(first, "probabilities");
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{first}");
    // A 6.86 s clip has windows at 0, 1, 2, 3 s and an end-aligned one at 3.86 s.
    assert_eq!(first["windows"], 5, "{first}");
    let best = p.iter().cloned().fold(f64::MIN, f64::max);
    assert!((first["confidence"].as_f64().unwrap() - best).abs() < 1e-6);
    assert!(
        lines[1]["error"].as_str().unwrap().len() > 5,
        "{}",
        lines[1]
    );
    assert!(lines[1]["file"].as_str().unwrap().ends_with("broken.wav"));
}

#[test]
fn fp32_and_int8_and_threads_agree_on_samples() {
    let files: Vec<String> = LABELS
        .iter()
        .map(|c| sample(c).display().to_string())
        .collect();
    let run = |kind: &str, threads: &str| {
        let mut args = vec!["classify", "--threads", threads];
        let model = tiny_model(kind);
        let model = model.to_str().unwrap().to_string();
        args.extend(["--model", &model]);
        args.extend(files.iter().map(String::as_str));
        json_lines(&succeeded(edge(&args)))
    };
    let fp32 = run("fp32", "1");
    let fp32_threads = run("fp32", "2");
    let int8 = run("int8", "1");
    for ((a, b), c) in fp32.iter().zip(&fp32_threads).zip(&int8) {
        let (pa, pb, pc) = (
            probs_of(a, "probabilities"),
            probs_of(b, "probabilities"),
            probs_of(c, "probabilities"),
        );
        for ((x, y), z) in pa.iter().zip(&pb).zip(&pc) {
            assert!(
                (x - y).abs() < 1e-5,
                "threads changed the result: {a} vs {b}"
            );
            assert!((x - z).abs() < 0.05, "int8 far from fp32: {a} vs {c}");
        }
    }
}

#[test]
fn streaming_a_clip_matches_classify() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model("fp32");
    let model = model.to_str().unwrap();
    // 6 s at the model rate: classify's windows start at 0..3 s, the stream's end at 3..6 s.
    let clip = dir.path().join("clip.wav");
    write_wav(&clip, &loud(6.0, 16_000, 3), 16_000);
    let classified = classify_lines(&clip, model);
    let streamed = stream_lines(&clip, model, &["--smooth", "32", "--gate-dbfs", "-120"]);
    let windows: Vec<&Value> = streamed.iter().filter(|v| v["type"] == "window").collect();
    let ends: Vec<f64> = windows.iter().map(|w| w["t"].as_f64().unwrap()).collect();
    assert_eq!(ends, [3.0, 4.0, 5.0, 6.0]);
    let last = windows.last().unwrap();
    assert_eq!(
        last["label"], classified[0]["label"],
        "{last} vs {}",
        classified[0]
    );
    let (ps, pc) = (
        probs_of(last, "probs"),
        probs_of(&classified[0], "probabilities"),
    );
    for (s, c) in ps.iter().zip(&pc) {
        // Mean of per-window softmax (stream) vs softmax of mean logits (classify).
        assert!((s - c).abs() < 0.02, "{last} vs {}", classified[0]);
    }
    let summary = streamed.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["stopped"], "end_of_input");
    assert_eq!(summary["windows"], 4);
    assert_eq!(summary["dropped_samples"], 0);

    // A bundled 8 kHz clip goes through the streaming resampler and gets the same label.
    let sample = sample("tired");
    let classified = classify_lines(&sample, model);
    let streamed = stream_lines(&sample, model, &["--smooth", "32", "--gate-dbfs", "-120"]);
    let last = streamed
        .iter()
        .rev()
        .find(|v| v["type"] == "window")
        .unwrap();
    assert_eq!(last["label"], classified[0]["label"]);
}

#[test]
fn a_bandwidth_changes_what_the_model_hears_alike_in_classify_and_stream() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model("fp32");
    let model = model.to_str().unwrap();
    let clip = dir.path().join("clip.wav");
    write_wav(&clip, &loud(6.0, 16_000, 3), 16_000);
    let band = ["--bandwidth", "1500"];
    let full = classify_lines(&clip, model);
    let mut args = vec!["classify", clip.to_str().unwrap(), "--model", model];
    args.extend(band);
    let limited = json_lines(&succeeded(edge(&args)));
    assert_ne!(
        probs_of(&full[0], "probabilities"),
        probs_of(&limited[0], "probabilities")
    );
    let mut extra = vec!["--smooth", "32", "--gate-dbfs", "-120"];
    extra.extend(band);
    let streamed = stream_lines(&clip, model, &extra);
    let last = streamed
        .iter()
        .rev()
        .find(|v| v["type"] == "window")
        .unwrap();
    for (s, c) in probs_of(last, "probs")
        .iter()
        .zip(&probs_of(&limited[0], "probabilities"))
    {
        assert!((s - c).abs() < 0.02, "{last} vs {}", limited[0]);
    }

    let bad = edge(&[
        "classify",
        clip.to_str().unwrap(),
        "--model",
        model,
        "--bandwidth",
        "9000",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--bandwidth"));
}

#[test]
fn the_gate_suppresses_silence_and_events_follow_a_cry() {
    let dir = tempfile::tempdir().unwrap();
    let mut audio = vec![0.0f32; 4 * 16_000];
    audio.extend(loud(6.0, 16_000, 9));
    audio.extend(vec![0.0; 6 * 16_000]);
    let clip = dir.path().join("cry.wav");
    write_wav(&clip, &audio, 16_000);
    let model = tiny_model("int8");
    let lines = stream_lines(
        &clip,
        model.to_str().unwrap(),
        &["--debounce", "2", "--calm-windows", "2", "--smooth", "32"],
    );
    let windows: Vec<&Value> = lines.iter().filter(|v| v["type"] == "window").collect();
    for w in &windows {
        let t = w["t"].as_f64().unwrap();
        // Windows wholly in silence (ending by 4 s, or starting at 10 s or later).
        let silent = t <= 4.0 || t - 3.0 >= 10.0;
        assert_eq!(w["gated"], silent, "{w}");
        if silent {
            assert_eq!(w["label"], "quiet");
            assert!(w["latency_ms"].is_null() && w["probs"].is_null());
        } else {
            assert!(w["latency_ms"].as_f64().unwrap() > 0.0);
        }
    }
    let events: Vec<(&str, f64)> = lines
        .iter()
        .filter(|v| v["type"] == "cry" || v["type"] == "calm")
        .map(|v| (v["type"].as_str().unwrap(), v["t"].as_f64().unwrap()))
        .collect();
    // Loud audio from 4 s: first loud window ends at 5 s, the second (debounce 2) at 6 s. The
    // first silent window ends at 13 s; two of them (calm-windows 2) end at 14 s.
    assert_eq!(events, [("cry", 6.0), ("calm", 14.0)], "{lines:?}");
    let summary = lines.last().unwrap();
    assert_eq!(summary["cry_events"], 1);
    assert_eq!(summary["calm_events"], 1);
    assert_eq!(
        summary["gated"].as_u64().unwrap() + summary["classified"].as_u64().unwrap(),
        summary["windows"].as_u64().unwrap()
    );
}

#[test]
fn bad_models_are_refused_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let wav = sample("burping");
    let wav = wav.to_str().unwrap();

    let missing = dir.path().join("nope.onnx");
    let stderr = failed_with(
        edge(&["classify", wav, "--model", missing.to_str().unwrap()]),
        3,
    );
    assert!(
        stderr.contains("nope.onnx") && stderr.contains("host-train export"),
        "{stderr}"
    );

    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"this is not a protobuf at all \xff\xff\xff").unwrap();
    let stderr = failed_with(
        edge(&["classify", wav, "--model", garbage.to_str().unwrap()]),
        3,
    );
    assert!(stderr.contains("garbage.onnx"), "{stderr}");

    let original = model_proto(&tiny_model("fp32"));
    let write = |name: &str, proto: &tract_onnx::pb::ModelProto| {
        let path = dir.path().join(name);
        std::fs::write(&path, proto.encode_to_vec()).unwrap();
        path
    };

    // The metadata promises a 1 s window; the graph takes 3 s.
    let mut wrong_window = original.clone();
    for p in &mut wrong_window.metadata_props {
        if p.key == keys::WINDOW_SAMPLES {
            p.value = "16000".into();
        }
    }
    let path = write("window.onnx", &wrong_window);
    let stderr = failed_with(
        edge(&["classify", wav, "--model", path.to_str().unwrap()]),
        3,
    );
    assert!(
        stderr.contains("contract")
            && stderr.contains("[1, 48000]")
            && stderr.contains("[1, 16000]"),
        "{stderr}"
    );

    // Six labels for five outputs.
    let mut extra_label = original.clone();
    for p in &mut extra_label.metadata_props {
        if p.key == keys::LABELS {
            p.value = p.value.replace(']', ",\"colic\"]");
        }
    }
    let path = write("labels.onnx", &extra_label);
    let stderr = failed_with(
        edge(&["classify", wav, "--model", path.to_str().unwrap()]),
        3,
    );
    assert!(
        stderr.contains("6 labels") && stderr.contains("`logits`"),
        "{stderr}"
    );

    // The input renamed.
    let mut renamed = original.clone();
    let graph = renamed.graph.as_mut().unwrap();
    graph.input[0].name = "waveform".into();
    for node in &mut graph.node {
        for i in &mut node.input {
            if i == "audio" {
                *i = "waveform".into();
            }
        }
    }
    let path = write("renamed.onnx", &renamed);
    let stderr = failed_with(
        edge(&["classify", wav, "--model", path.to_str().unwrap()]),
        3,
    );
    assert!(
        stderr.contains("\"waveform\"") && stderr.contains("`audio`"),
        "{stderr}"
    );

    // A required metadata key removed.
    let mut no_rate = original.clone();
    no_rate
        .metadata_props
        .retain(|p| p.key != keys::SAMPLE_RATE);
    let path = write("norate.onnx", &no_rate);
    let stderr = failed_with(edge(&["bench", "--model", path.to_str().unwrap()]), 3);
    assert!(stderr.contains(keys::SAMPLE_RATE), "{stderr}");
}

#[test]
fn stdin_format_mismatches_exit_4() {
    let model = tiny_model("int8");
    let model = model.to_str().unwrap();
    // A WAV file piped as raw PCM.
    let wav = std::fs::read(sample("hungry")).unwrap();
    let out = edge_with_stdin(&["stream", "--input", "-", "--model", model], wav);
    let stderr = failed_with(out, 4);
    assert!(
        stderr.contains("stdin") && stderr.contains("WAV file, not raw PCM"),
        "{stderr}"
    );

    // Stereo s16 declared, an odd number of bytes sent.
    let out = edge_with_stdin(
        &[
            "stream",
            "--input",
            "-",
            "--channels",
            "2",
            "--model",
            model,
        ],
        vec![1u8; 16_001],
    );
    let stderr = failed_with(out, 4);
    assert!(stderr.contains("ends inside a frame"), "{stderr}");

    // s16 samples declared as f32.
    let s16: Vec<u8> = loud(1.0, 16_000, 5)
        .iter()
        .flat_map(|s| ((s * 32767.0) as i16).to_le_bytes())
        .collect();
    let out = edge_with_stdin(
        &[
            "stream", "--input", "-", "--format", "f32le", "--model", model,
        ],
        s16,
    );
    let stderr = failed_with(out, 4);
    assert!(stderr.contains("not f32le audio"), "{stderr}");

    // Raw-format flags with a file are a usage error.
    let stderr = failed_with(
        edge(&[
            "stream",
            "--input",
            sample("hungry").to_str().unwrap(),
            "--rate",
            "8000",
            "--model",
            model,
        ]),
        2,
    );
    assert!(stderr.contains("raw PCM on stdin"), "{stderr}");
}

#[test]
fn stdin_pcm_streams_like_the_file() {
    let model = tiny_model("fp32");
    let model = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audio = loud(5.0, 16_000, 11);
    let clip = dir.path().join("clip.wav");
    write_wav(&clip, &audio, 16_000);
    let from_file = stream_lines(&clip, model, &[]);
    // The same 16-bit samples as the WAV holds.
    let pcm: Vec<u8> = audio
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    let from_stdin = json_lines(&succeeded(edge_with_stdin(
        &[
            "stream", "--input", "-", "--format", "s16le", "--rate", "16000", "--model", model,
        ],
        pcm,
    )));
    let strip = |lines: &[Value]| -> Vec<Value> {
        lines
            .iter()
            .filter(|v| v["type"] == "window")
            .map(|v| {
                let mut v = v.clone();
                v.as_object_mut().unwrap().remove("latency_ms");
                v
            })
            .collect()
    };
    assert_eq!(strip(&from_file), strip(&from_stdin));
    assert_eq!(strip(&from_file).len(), 3);
}

#[test]
#[cfg(feature = "mic")]
fn a_missing_device_exits_5() {
    let model = tiny_model("int8");
    let out = edge(&[
        "listen",
        "--device",
        "no-such-microphone-xyz",
        "--model",
        model.to_str().unwrap(),
    ]);
    let stderr = failed_with(out, 5);
    assert!(stderr.contains("no-such-microphone-xyz"), "{stderr}");
}

#[test]
#[cfg(not(feature = "mic"))]
fn without_the_mic_feature_listen_and_devices_say_how_to_build_it_and_exit_5() {
    let model = tiny_model("int8");
    for args in [
        vec!["listen", "--model", model.to_str().unwrap()],
        vec!["listen", "--device", "hw:1", "--model", "missing.onnx"],
        vec!["devices"],
        vec!["devices", "--json"],
    ] {
        let out = edge(&args);
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = failed_with(out, 5);
        assert!(
            stderr.contains("without microphone support")
                && stderr.contains("cargo build --release -p edge-infer --features mic"),
            "{args:?}: {stderr}"
        );
    }
    // The subcommands are still there to be found.
    let help = String::from_utf8(succeeded(edge(&["--help"])).stdout).unwrap();
    assert!(
        help.contains("listen") && help.contains("devices"),
        "{help}"
    );
}

#[test]
fn bench_reports_what_it_ran_on_and_sane_figures() {
    let model = tiny_model("fp32");
    let out = succeeded(edge(&[
        "bench",
        "--model",
        model.to_str().unwrap(),
        "--iters",
        "5",
        "--json",
        "--profile",
    ]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("{\"ran_on\":"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["ran_on"]
            .as_str()
            .unwrap()
            .contains(std::env::consts::ARCH)
    );
    let l = &v["latency_ms"];
    let order: Vec<f64> = ["min", "p50", "p95", "p99", "max"]
        .iter()
        .map(|k| l[k].as_f64().unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]) && order[0] > 0.0,
        "{l}"
    );
    assert_eq!(v["iters"], 5);
    assert_eq!(v["window_samples"], 48_000);
    assert!(v["peak_rss_mib"].as_f64().unwrap() > 1.0);
    let shares: f64 = v["profile"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["share"].as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-6, "{shares}");

    // MACs of the tiny architecture on a 3 s window, counted by hand from its config:
    // 7 convolutions (16 channels), the projection, the positional conv (4 groups, kernel 16),
    // two layers (Q, K, V, O, attention, FFN 64) and the head's projector.
    let conv_out = |len: usize, k: usize, s: usize| (len - k) / s + 1;
    let mut len = 48_000;
    let mut macs = 0usize;
    for (i, (k, s)) in [(10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2)]
        .into_iter()
        .enumerate()
    {
        len = conv_out(len, k, s);
        macs += len * 16 * if i == 0 { 1 } else { 16 } * k;
    }
    let t = len;
    macs += t * 16 * 32; // projection
    macs += t * 32 * (32 / 4) * 16; // positional conv
    macs += 2 * (4 * t * 32 * 32 + 2 * t * t * 32 + 2 * t * 32 * 64);
    macs += t * 32 * 16 + 16 * 5; // projector, classifier
    let counted = v["macs_per_window"].as_u64().unwrap() as f64;
    assert!(
        (counted / macs as f64 - 1.0).abs() < 0.05,
        "tract counts {counted} MACs, the architecture has {macs}"
    );
    // The fixture predates stored hops: it streams at 1 s, one window per second of audio.
    assert_eq!(v["hop_samples"].as_u64(), Some(16_000));
    let per_second = v["gmac_per_audio_second"].as_f64().unwrap();
    assert!((per_second - counted / 1e9).abs() < 1e-9, "{per_second}");
}

/// `--precision fp16` runs the graph in half precision (tract's f32-to-f16 transform) and
/// still answers in f32: probabilities within 0.02 of fp32's (the random fixture's classes are
/// too close to each other to ask for the same label). Under qemu's
/// aarch64 (which reports `fp16`, as a Raspberry Pi 5 does) this checks the native f16
/// kernels; on x86 tract emulates them.
#[test]
fn fp16_arithmetic_gives_the_fp32_answer() {
    let model = tiny_model("two-head-fp32");
    let classify = |precision: &str| {
        json_lines(&succeeded(edge(&[
            "classify",
            sample("hungry").to_str().unwrap(),
            sample("tired").to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--precision",
            precision,
        ])))
    };
    let (full, half) = (classify("fp32"), classify("fp16"));
    assert_eq!(full.len(), 2);
    for (f, h) in full.iter().zip(&half) {
        for (label, p) in f["probabilities"].as_object().unwrap() {
            let q = h["probabilities"][label].as_f64().unwrap();
            assert!(
                (p.as_f64().unwrap() - q).abs() < 0.02,
                "{label}: {p} vs {q}"
            );
        }
        let (p, q) = (
            f["cry_prob"].as_f64().unwrap(),
            h["cry_prob"].as_f64().unwrap(),
        );
        assert!((p - q).abs() < 0.02, "cry_prob {p} vs {q}");
    }
    let out = succeeded(edge(&[
        "bench",
        "--model",
        model.to_str().unwrap(),
        "--iters",
        "1",
        "--warmup",
        "0",
        "--precision",
        "fp16",
        "--json",
    ]));
    let v: Value = serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(v["precision"], "fp16");
}

#[test]
fn loop_replays_a_file_without_end_and_refuses_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("two-seconds.wav");
    write_wav(&wav, &loud(2.0, 16_000, 7), 16_000);
    let model = tiny_model("int8");
    let mut child = common::spawn_edge(&[
        "stream",
        "--input",
        wav.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--hop",
        "0.5",
        "--loop",
    ]);
    // A two-second file, replayed: stream time goes on past many lengths of it.
    let stdout = child.stdout.take().unwrap();
    let mut last_t = 0.0;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        assert_ne!(v["type"], "summary", "the looped stream ended: {v}");
        if let Some(t) = v["t"].as_f64() {
            last_t = t;
            if t >= 20.0 {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(last_t >= 20.0, "stream time reached {last_t} s");

    let err = failed_with(
        edge(&[
            "stream",
            "--input",
            "-",
            "--model",
            model.to_str().unwrap(),
            "--loop",
        ]),
        2,
    );
    assert!(err.contains("--loop replays a file"), "{err}");
}
