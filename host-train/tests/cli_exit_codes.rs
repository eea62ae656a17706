//! Every documented failure class of the binary ends with its documented exit status
//! (`host-train --help`: 1 unexpected failure, 2 invalid arguments, 3 unusable input). Cheap
//! cases only: nothing here trains.

mod common;

use std::path::Path;

use common::{fixture, host_train};
use host_train::synth::{WavFormat, tone, write_wav};

/// The exit status and stderr of `host-train ARGS`.
fn status(args: &[&str]) -> (Option<i32>, String) {
    let out = host_train(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn clips(root: &Path, label: &str, n: usize) {
    std::fs::create_dir_all(root.join(label)).unwrap();
    for i in 0..n {
        // Distinct tones across labels too, or duplicates would be collapsed.
        let base = 200.0 + 400.0 * f64::from(label.as_bytes()[0] - b'a');
        let samples = tone(base + 50.0 * i as f64, 8000, 0.5, 0.3);
        let path = root.join(label).join(format!("{label}-{i}.wav"));
        write_wav(&path, &samples, 8000, 1, WavFormat::Pcm(16)).unwrap();
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn invalid_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Refused by the parser.
    let (code, _) = status(&["baselines", "--out", s(&out)]);
    assert_eq!(code, Some(2));
    // Parsed, refused by validation, naming the flag.
    let (code, err) = status(&["baselines", "--data", "/nonexistent", "--out", s(&out)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--data"), "{err}");
    // A file given as an architecture that is not a config.json.
    let not_config = dir.path().join("settings.json");
    std::fs::write(&not_config, "{}").unwrap();
    let (code, err) = status(&["init", "--config", s(&not_config), "--out", s(&out)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--config") && err.contains("config.json"),
        "{err}"
    );
    // A grid that cannot be read, blamed on --grid.
    let data = dir.path().join("data");
    clips(&data, "a", 2);
    clips(&data, "b", 2);
    let grid = dir.path().join("grid.json");
    std::fs::write(&grid, "{not json").unwrap();
    let (code, err) = status(&[
        "nested-cv",
        "--data",
        s(&data),
        "--config",
        "tiny",
        "--grid",
        s(&grid),
        "--out",
        s(&out),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--grid") && err.contains("invalid grid"),
        "{err}"
    );
}

#[test]
fn unusable_datasets_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = dir.path().join("data");
    // One class only.
    clips(&data, "a", 4);
    let (code, err) = status(&["baselines", "--data", s(&data), "--out", s(&out)]);
    assert_eq!(code, Some(3), "{err}");
    // Two classes, but fewer leakage groups than folds.
    clips(&data, "b", 2);
    let (code, err) = status(&[
        "baselines",
        "--data",
        s(&data),
        "--outer",
        "9",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("fewer than the 9 folds"), "{err}");
}

#[test]
fn unusable_checkpoints_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, &[0.1; 8000], 16_000, 1, WavFormat::Pcm(16)).unwrap();
    let h = dir.path().join("h.npy");
    // No checkpoint in the directory.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, err) = status(&[
        "embed",
        "--pretrained",
        s(&empty),
        "--audio",
        s(&wav),
        "--out",
        s(&h),
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no config.json"), "{err}");
    // A config.json the model does not implement.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("distil_group").join("config.json")).unwrap(),
    )
    .unwrap();
    config["conv_pos_batch_norm"] = true.into();
    std::fs::write(bad.join("config.json"), config.to_string()).unwrap();
    let (code, err) = status(&[
        "init",
        "--config",
        s(&bad.join("config.json")),
        "--out",
        s(&dir.path().join("model")),
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("conv_pos_batch_norm"), "{err}");
}

#[test]
fn undecodable_audio_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("noise.wav");
    std::fs::write(&wav, b"RIFF but not really a WAV file").unwrap();
    let (code, err) = status(&[
        "embed",
        "--pretrained",
        s(&fixture("distil_group")),
        "--audio",
        s(&wav),
        "--out",
        s(&dir.path().join("h.npy")),
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("noise.wav"), "{err}");
}

#[test]
fn failing_io_and_broken_runs_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    write_wav(&wav, &[0.1; 8000], 16_000, 1, WavFormat::Pcm(16)).unwrap();
    // The `.npy` output cannot be written: an I/O failure, not the input's fault.
    let (code, err) = status(&[
        "embed",
        "--pretrained",
        s(&fixture("distil_group")),
        "--audio",
        s(&wav),
        "--out",
        s(&dir.path().join("missing-dir").join("h.npy")),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("h.npy"), "{err}");
    // Merging a directory that holds no run.
    let (code, err) = status(&["merge", "--out", s(&dir.path().join("m")), s(dir.path())]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not a nested-cv run"), "{err}");
}
