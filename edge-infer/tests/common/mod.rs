//! Helpers shared by the edge-infer integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A committed tiny model (`fp32` or `int8`); see `tests/fixtures/README.md`.
pub fn tiny_model(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/tiny-{kind}.onnx"))
}

/// A bundled Donate-a-cry sample (8 kHz mono).
pub fn sample(class: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/samples")
        .join(class);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    files.sort();
    files.remove(0)
}

/// A command for the edge-infer binary. Under emulation (aarch64 tests on x86 run by qemu-user),
/// `EDGE_INFER_RUNNER` names the emulator, so the binary runs without binfmt_misc.
pub fn edge_command() -> Command {
    match std::env::var("EDGE_INFER_RUNNER") {
        Ok(runner) if !runner.is_empty() => {
            let mut c = Command::new(runner);
            c.arg(env!("CARGO_BIN_EXE_edge-infer"));
            c
        }
        _ => Command::new(env!("CARGO_BIN_EXE_edge-infer")),
    }
}

/// Runs edge-infer with `args`.
pub fn edge(args: &[&str]) -> Output {
    edge_command()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running edge-infer")
}

/// edge-infer started with `args`, its stdin, stdout and stderr piped.
pub fn spawn_edge(args: &[&str]) -> std::process::Child {
    edge_command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("edge-infer starts")
}

/// Runs edge-infer with `stdin` as its input.
pub fn edge_with_stdin(args: &[&str], stdin: Vec<u8>) -> Output {
    use std::io::Write;
    let mut child = spawn_edge(args);
    let mut input = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// Asserts success and returns the output.
pub fn succeeded(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Asserts the exit code and returns stderr.
pub fn failed_with(out: Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// stdout as JSON lines.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Writes mono `samples` as a 16-bit WAV at `rate`.
pub fn write_wav(path: &Path, samples: &[f32], rate: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// Deterministic noise with a tone, at roughly -20 dBFS.
pub fn loud(seconds: f32, rate: u32, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..(seconds * rate as f32) as usize)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            0.1 * (std::f32::consts::TAU * 380.0 * i as f32 / rate as f32).sin() + 0.1 * noise
        })
        .collect()
}

/// Reads the model's metadata and graph, for tests that break them on purpose.
pub fn model_proto(path: &Path) -> tract_onnx::pb::ModelProto {
    use prost::Message;
    tract_onnx::pb::ModelProto::decode(&std::fs::read(path).unwrap()[..]).unwrap()
}

/// A fresh CA and a server certificate for `host` signed by it, as PEM: (ca, cert, key).
pub fn certificates(host: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cry-classifier test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![host.to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}
