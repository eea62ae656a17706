//! Each documented failure class of `edge-infer` exits with its documented code (see
//! `edge_infer::error`): 2 usage, 3 model, 4 audio input or files failed, 5 device or no
//! microphone support.

mod common;
use common::*;

use edge_infer::error::{EXIT_AUDIO, EXIT_DEVICE, EXIT_MODEL, EXIT_USAGE};

#[test]
fn every_documented_failure_class_has_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model("int8");
    let model = model.to_str().unwrap();
    let wav = sample("hungry");
    let wav = wav.to_str().unwrap();
    let broken = dir.path().join("broken.wav");
    std::fs::write(&broken, b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();
    let broken = broken.to_str().unwrap();
    let missing_model = dir.path().join("none.onnx");
    let missing_model = missing_model.to_str().unwrap();

    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "unknown flag (clap)",
            vec!["classify", "--nope", wav],
            EXIT_USAGE,
            "--nope",
        ),
        (
            "raw flags with a file",
            vec![
                "stream",
                "--input",
                wav,
                "--channels",
                "2",
                "--model",
                model,
            ],
            EXIT_USAGE,
            "raw PCM on stdin",
        ),
        (
            "a hop of zero samples",
            vec![
                "stream", "--input", wav, "--hop", "0.00001", "--model", model,
            ],
            EXIT_USAGE,
            "--hop",
        ),
        (
            "smoothing out of range",
            vec!["stream", "--input", wav, "--smooth", "0", "--model", model],
            EXIT_USAGE,
            "--smooth",
        ),
        (
            "no iterations",
            vec!["bench", "--iters", "0", "--model", model],
            EXIT_USAGE,
            "--iters",
        ),
        (
            "missing model",
            vec!["classify", wav, "--model", missing_model],
            EXIT_MODEL,
            "host-train export",
        ),
        (
            "missing model for stream",
            vec!["stream", "--input", wav, "--model", missing_model],
            EXIT_MODEL,
            "no such model",
        ),
        (
            "undecodable stream input",
            vec!["stream", "--input", broken, "--model", model],
            EXIT_AUDIO,
            "broken.wav",
        ),
        (
            "files failed",
            vec!["classify", wav, broken, "--model", model],
            EXIT_AUDIO,
            "1 of 2 file(s)",
        ),
    ];
    for (what, args, code, says) in cases {
        let stderr = failed_with(edge(&args), code);
        assert!(stderr.contains(says), "{what}: {stderr}");
    }

    // Raw PCM on stdin that is a WAV file.
    let bytes = std::fs::read(wav).unwrap();
    let stderr = failed_with(
        edge_with_stdin(&["stream", "--input", "-", "--model", model], bytes),
        EXIT_AUDIO,
    );
    assert!(stderr.contains("WAV file, not raw PCM"), "{stderr}");

    // A device that is not there, or a build that cannot capture at all.
    let stderr = failed_with(
        edge(&[
            "listen",
            "--device",
            "no-such-microphone-xyz",
            "--model",
            model,
        ]),
        EXIT_DEVICE,
    );
    if cfg!(feature = "mic") {
        assert!(stderr.contains("no-such-microphone-xyz"), "{stderr}");
    } else {
        assert!(stderr.contains("--features mic"), "{stderr}");
    }
}
