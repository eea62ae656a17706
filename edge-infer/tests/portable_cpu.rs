//! A binary built here runs on x86-64 CPUs older than this one and picks its kernels at run time.
//!
//! The workspace is built for the baseline x86-64 target (no `target-cpu=native`), and tract
//! chooses its matrix kernels by asking the CPU when the first model loads. qemu-user's TCG
//! executes only the instructions of the CPU model it emulates, so an AVX or AVX-512 instruction
//! reached without a run-time check stops the binary with SIGILL there. Two models: `qemu64`
//! (SSE2 only, no AVX) and `max` (everything TCG has: AVX2 and FMA, no AVX-512).
#![cfg(target_arch = "x86_64")]

mod common;
use common::{edge_command, json_lines, sample, succeeded, tiny_model};

use std::path::Path;
use std::process::{Command, Output, Stdio};

const QEMU: &str = "/usr/bin/qemu-x86_64-static";

/// `classify` of a bundled sample with the tiny `kind` model, natively or under qemu's `cpu`,
/// with tract's debug log (where it names the instruction sets it found).
fn classify(kind: &str, cpu: Option<&str>) -> Output {
    let model = tiny_model(kind);
    let clip = sample("hungry");
    let args = [
        "classify",
        "--model",
        model.to_str().unwrap(),
        clip.to_str().unwrap(),
    ];
    let mut command = match cpu {
        None => edge_command(),
        Some(cpu) => {
            assert!(
                Path::new(QEMU).is_file(),
                "{QEMU} is missing: install Debian's qemu-user-static (`cargo xtask test` does)"
            );
            let mut c = Command::new(QEMU);
            c.args(["-cpu", cpu, env!("CARGO_BIN_EXE_edge-infer")]);
            c
        }
    };
    succeeded(
        command
            .args(args)
            .env("RUST_LOG", "tract_linalg=debug")
            .stdin(Stdio::null())
            .output()
            .expect("running edge-infer"),
    )
}

/// The instruction sets tract found, from its `ISA: ...` debug line.
fn isa(out: &Output) -> Vec<String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find_map(|l| l.split_once("ISA: ").map(|(_, set)| set.to_string()))
        .unwrap_or_else(|| panic!("no `ISA:` line in tract's debug log:\n{stderr}"));
    line.split(',').map(|s| s.trim().to_string()).collect()
}

fn probabilities(out: &Output) -> Vec<f64> {
    let lines = json_lines(out);
    assert_eq!(lines.len(), 1, "one file, one line");
    lines[0]["probabilities"]
        .as_object()
        .expect("probabilities")
        .values()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[test]
fn classify_runs_without_avx_512_or_avx_and_gives_the_native_answer() {
    for kind in ["fp32", "int8"] {
        let native = classify(kind, None);
        let want = probabilities(&native);
        for cpu in ["qemu64", "max"] {
            let out = classify(kind, Some(cpu));
            let found = isa(&out);
            let has = |f: &str| found.iter().any(|s| s == f);
            assert!(!has("avx512f"), "{cpu}: {found:?}");
            match cpu {
                "qemu64" => assert!(!has("avx") && !has("fma"), "{cpu}: {found:?}"),
                _ => assert!(has("avx2") && has("fma"), "{cpu}: {found:?}"),
            }
            let got = probabilities(&out);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                // Other kernels sum in another order: equal to float rounding, not bit for bit.
                assert!((g - w).abs() < 1e-4, "{kind} on {cpu}: {got:?} vs {want:?}");
            }
        }
    }
}
