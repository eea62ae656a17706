//! Streaming infant-cry detection on the edge with tract.
//!
//! - [`engine`]: an exported ONNX model loaded once, checked against the contract in `cry-core`
//!   (tensor names, window, labels), optimised by tract for its fixed input; per-stream
//!   sessions run it.
//! - [`scoring`]: a whole clip scored with the host's evaluation windows (`classify`).
//! - [`stream`]: the streaming pipeline. Any [`stream::AudioSource`] (microphone, WAV file, raw PCM
//!   on stdin) feeds a [`stream::Detector`] that resamples to the model rate, keeps the last
//!   window, gates quiet windows, classifies, smooths, debounces and prints JSON lines.
//! - [`capture`]: the microphone (cpal): its callback only pushes into a lock-free ring.
//! - [`bench`]: what the board can do: load time, per-window latency, real-time factor, RSS.
//!
//! `edge-infer` depends on `cry-core` and tract, never on burn.

pub mod bench;
pub mod capture;
pub mod cli;
pub mod engine;
pub mod scoring;
pub mod stream;
pub mod sysinfo;

pub use engine::{Classifier, Engine, EngineError, EngineOptions, Session};
