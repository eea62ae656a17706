//! A `host-train` built here runs on x86-64 CPUs older than this one: burn's CPU backend and its
//! matrix kernels (the `gemm` crate) pick AVX-512, AVX2 + FMA or SSE code when they run, not
//! when they are compiled (the workspace sets no `target-cpu`).
//!
//! qemu-user's TCG executes only the instructions of the CPU model it emulates, so an AVX or
//! AVX-512 instruction reached without a run-time check stops the binary with SIGILL there. Two
//! models: `qemu64` (SSE2 only, no AVX) and `max` (everything TCG has: AVX2 and FMA, no AVX-512).
#![cfg(target_arch = "x86_64")]

mod common;
use common::{fixture, max_diff};

use std::path::Path;
use std::process::Command;

use host_train::model::checkpoint::read_tensors;
use host_train::npy::read_f32;
use host_train::synth::{WavFormat, write_wav};

const QEMU: &str = "/usr/bin/qemu-x86_64-static";

#[test]
fn embed_runs_without_avx_512_or_avx_and_matches_transformers() {
    assert!(
        Path::new(QEMU).is_file(),
        "{QEMU} is missing: install Debian's qemu-user-static (`cargo xtask test` does)"
    );
    let case = "cls_weighted";
    let reference = read_tensors(&fixture(case).join("reference.safetensors")).unwrap();
    let audio: Vec<f32> = reference["audio"].clone().try_to_vec().unwrap();
    let want_hidden: Vec<f32> = reference["single_last_hidden_state"]
        .clone()
        .try_to_vec()
        .unwrap();
    let want_logits: Vec<f32> = reference["single_logits"].clone().try_to_vec().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("clip.wav");
    write_wav(&wav, &audio[..4000], 16_000, 1, WavFormat::Float32).unwrap();
    for cpu in ["qemu64", "max"] {
        let hidden = dir.path().join(format!("{cpu}-hidden.npy"));
        let logits = dir.path().join(format!("{cpu}-logits.npy"));
        let out = Command::new(QEMU)
            .args(["-cpu", cpu, env!("CARGO_BIN_EXE_host-train"), "embed"])
            .arg("--pretrained")
            .arg(fixture(case))
            .arg("--audio")
            .arg(&wav)
            .arg("--out")
            .arg(&hidden)
            .arg("--logits")
            .arg(&logits)
            .env("RUST_LOG", "warn")
            .output()
            .expect("qemu runs");
        assert!(
            out.status.success(),
            "{cpu}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let (_, got) = read_f32(&hidden).unwrap();
        let diff = max_diff(&got, &want_hidden);
        assert!(diff <= 1e-4, "{cpu} hidden: max |Δ| {diff:e}");
        let (_, got) = read_f32(&logits).unwrap();
        let diff = max_diff(&got, &want_logits);
        assert!(diff <= 1e-4, "{cpu} logits: max |Δ| {diff:e}");
    }
}
