//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the real `host-train` binary with warnings-only logging.
pub fn host_train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host-train"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

/// A committed checkpoint fixture made by `scripts/make_hubert_fixtures.py`.
pub fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hubert")
        .join(case)
}

/// The largest absolute difference between two equally long vectors.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// `output`, after asserting that the command succeeded (its stderr shown otherwise).
pub fn succeeded(output: Output) -> Output {
    assert!(
        output.status.success(),
        "exit {:?}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `command` on `data` (a generated dataset with its `manifest.csv`) with the tiny architecture,
/// `grid` and output `out`, then `extra`.
pub fn tiny_args(
    command: &str,
    data: &Path,
    grid: &Path,
    out: &Path,
    extra: &[&str],
) -> Vec<String> {
    let manifest = data.join("manifest.csv");
    [
        command,
        "--data",
        data.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
        "--config",
        "tiny",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .chain(extra)
    .map(ToString::to_string)
    .collect()
}
