//! The command line: clap's argument definitions, a file per option group, and their
//! conversion into the validated configs of [`crate::config`]. Flag names live here and nowhere
//! else: a library error about a value becomes a [`UsageError`] that names the flag.
//!
//! - [`model`], [`detector`], [`alerts`], [`http`], [`history`]: the option groups, flattened
//!   into the subcommands that take them; [`pipeline`] gathers those of `stream` and `listen`.
//! - [`commands`]: each subcommand's arguments and their `into_config`.
//! - [`config_file`]: `--config FILE` for every subcommand.

pub mod alerts;
pub mod commands;
pub mod config_file;
pub mod detector;
pub mod history;
pub mod http;
pub mod model;
pub mod pipeline;

use clap::{Parser, Subcommand};

pub use alerts::{AlertArgs, WEBHOOK_QUEUE, WebhookArgs};
pub use commands::{
    BenchArgs, ClassifyArgs, DevicesArgs, HealthArgs, ListenArgs, RawFormat, ServeArgs, StreamArgs,
};
pub use config_file::{ConfigArg, with_config_file};
pub use detector::DetectorArgs;
pub use history::HistoryArgs;
pub use http::HttpArgs;
pub use model::{DEFAULT_MODEL, ModelArgs};
pub use pipeline::PipelineArgs;

use crate::error::EXIT_CODES_HELP as EXIT_CODES;

/// Infant-cry detection on the edge: classify files, stream audio, listen to a microphone.
#[derive(Debug, Parser)]
#[command(name = "edge-infer", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify WAV files with the host's evaluation windows; one JSON object per file.
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Classify(ClassifyArgs),
    /// Run a WAV file or raw PCM on stdin through the streaming pipeline; JSON lines out.
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Stream(StreamArgs),
    /// Listen to a microphone; JSON lines out, logs on stderr (needs a build with the `mic`
    /// feature).
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Listen(ListenArgs),
    /// List audio input devices (needs a build with the `mic` feature).
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Devices(DevicesArgs),
    /// Measure model load time, per-window latency, real-time factor and memory.
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Bench(BenchArgs),
    /// Serve classification of uploaded files over HTTP (no audio source); see also --http on
    /// `stream` and `listen`.
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Serve(ServeArgs),
    /// Ask a running monitor's /healthz; exit 0 when it answers 200, 1 otherwise (the
    /// container image's healthcheck, which has no curl).
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Health(HealthArgs),
}
