//! Streaming infant-cry detection on the edge with tract.
//!
//! - [`engine`]: an exported ONNX model loaded once, checked against the contract in `cry-core`
//!   (tensor names, window, labels), optimised by tract for its fixed input; per-stream
//!   sessions run it.
//! - [`scoring`]: a whole clip scored with the host's evaluation windows (`classify`).
//! - [`stream`]: the streaming pipeline. Any [`stream::AudioSource`] (microphone, WAV file, raw
//!   PCM on stdin) is pumped into a [`stream::Detector`]: window assembly (mono, model rate, the
//!   last window every hop), classification above the energy gate, and the decision (smoothing,
//!   debounce, calm) that produces typed [`stream::Event`]s.
//! - [`output`]: events and classify results as JSON lines.
//! - [`http`]: the HTTP API (`--http`, `serve`): live state and SSE from the same events,
//!   classification of uploads, health and Prometheus metrics; axum on a thread of its own.
//! - [`clips`]: whole clips classified as `classify` prints them (files and uploads).
//! - [`alerts`]: events to an MQTT broker (state, reason, events, status, health) with Home
//!   Assistant discovery, from a thread of their own with a bounded, acknowledged outbox.
//! - [`pipeline`]: what `stream` and `listen` share once the model is loaded: the detector and
//!   where its events go (stdout, MQTT, the watchdog).
//! - [`service`]: systemd `Type=notify` readiness and a watchdog fed by the inference loop.
//! - [`capture`]: the microphone (cpal, cargo feature `mic`): its callback only pushes into a
//!   lock-free ring; a lost device is reopened with backoff.
//! - [`bench`]: what the board can do: load time, per-window latency, real-time factor, RSS.
//! - The binary: [`cli`] (arguments into the validated [`config`]s), [`commands`] (one leaf
//!   per subcommand), [`error`] (one error type that knows its exit code), [`interrupt`]
//!   (Ctrl-C).
//!
//! `edge-infer` depends on `cry-core` and tract, never on burn.

pub mod alerts;
pub mod bench;
pub mod capture;
pub mod cli;
pub mod clips;
pub mod clock;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod history;
pub mod http;
pub mod interrupt;
pub mod output;
pub mod pipeline;
pub mod scoring;
pub mod service;
pub mod stream;
pub mod sysinfo;

pub use engine::{Classifier, Engine, EngineError, EngineOptions, Precision, Session};
