//! The command line: clap's argument definitions and their conversion into the validated
//! configs of [`crate::config`]. Flag names live here and nowhere else: a library error about a
//! value becomes a [`UsageError`] that names the flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cry_core::audio::Bandwidth;
use cry_core::contract::SAMPLE_RATE_HZ;

use crate::bench::BenchConfig;
use crate::config::{
    AlertOverrides, BenchCommandConfig, ClassifyConfig, DevicesConfig, ListenConfig, ModelConfig,
    PipelineConfig, StreamConfig, StreamInput,
};
use crate::engine::EngineOptions;
use crate::error::EXIT_CODES_HELP as EXIT_CODES;
use crate::stream::decision::MAX_SMOOTHING;
use crate::stream::feed::Pace;
use crate::stream::readers::PcmEncoding;
use crate::stream::{DetectorConfig, DetectorConfigError, Format};

/// Where `--model` points when not given.
pub const DEFAULT_MODEL: &str = "models/cry.onnx";

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
    #[command(after_help = EXIT_CODES)]
    Classify(ClassifyArgs),
    /// Run a WAV file or raw PCM on stdin through the streaming pipeline; JSON lines out.
    #[command(after_help = EXIT_CODES)]
    Stream(StreamArgs),
    /// Listen to a microphone; JSON lines out, logs on stderr (needs a build with the `mic`
    /// feature).
    #[command(after_help = EXIT_CODES)]
    Listen(ListenArgs),
    /// List audio input devices (needs a build with the `mic` feature).
    #[command(after_help = EXIT_CODES)]
    Devices(DevicesArgs),
    /// Measure model load time, per-window latency, real-time factor and memory.
    #[command(after_help = EXIT_CODES)]
    Bench(BenchArgs),
}

/// The model to run.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Exported ONNX model (`host-train export`).
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Threads for tract's matrix products (default 1: the stream leaves the other cores to
    /// the rest of the system).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Limit the audio to this band (Hz) before the model sees it. Default: the band the model
    /// was trained with (its metadata), or none.
    #[arg(long, value_name = "HZ")]
    pub bandwidth: Option<f32>,
    /// Two-head models: a window is a cry window from this cry probability on (default: the
    /// threshold stored in the model, chosen for its false-alarm target).
    #[arg(long, value_name = "P")]
    pub cry_threshold: Option<f32>,
}

impl ModelArgs {
    fn into_config(self) -> Result<ModelConfig, UsageError> {
        let bandwidth = self
            .bandwidth
            .map(Bandwidth::new)
            .transpose()
            .map_err(|e| UsageError(format!("--bandwidth: {e}")))?;
        if let Some(p) = self.cry_threshold
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(UsageError(
                "--cry-threshold must be a probability in (0, 1]".into(),
            ));
        }
        Ok(ModelConfig {
            path: self.model,
            options: EngineOptions {
                threads: self.threads,
            },
            bandwidth,
            cry_threshold: self.cry_threshold,
        })
    }
}

/// How windows become events.
#[derive(Debug, Args)]
pub struct DetectorArgs {
    /// Seconds between windows.
    #[arg(long, default_value_t = 1.0)]
    pub hop: f32,
    /// Windows with RMS below this level (dBFS) are reported as `quiet` and not run through
    /// the model. With a two-head model this only saves power; with a single-output model any
    /// window above it is a candidate cry.
    #[arg(long, default_value_t = -50.0, allow_negative_numbers = true)]
    pub gate_dbfs: f32,
    /// Average reason probabilities over the last K windows (two-head models: over the last K
    /// cry windows). Default: the model's policy, else 3.
    #[arg(long)]
    pub smooth: Option<usize>,
    /// Emit `cry` after M consecutive cry windows (single-output models: M windows of one
    /// label). Default: the model's policy, else 2.
    #[arg(long)]
    pub debounce: Option<usize>,
    /// Emit `calm` after this many consecutive windows without a cry following one. Default:
    /// the model's policy, else 3.
    #[arg(long)]
    pub calm_windows: Option<usize>,
}

impl DetectorArgs {
    fn into_config(self) -> Result<DetectorConfig, UsageError> {
        if !(self.hop.is_finite() && self.hop > 0.0) {
            return Err(UsageError(
                "--hop must be a positive number of seconds".into(),
            ));
        }
        let defaults = DetectorConfig::default();
        let config = DetectorConfig {
            hop_samples: (self.hop * SAMPLE_RATE_HZ as f32).round() as usize,
            gate_dbfs: self.gate_dbfs,
            smoothing: self.smooth.unwrap_or(defaults.smoothing),
            debounce: self.debounce.unwrap_or(defaults.debounce),
            calm_windows: self.calm_windows.unwrap_or(defaults.calm_windows),
            bandwidth: None,
            alert: None,
        };
        config.validate().map_err(|e| {
            UsageError(match e {
                DetectorConfigError::ZeroHop => {
                    format!("--hop must be at least one sample (1/{SAMPLE_RATE_HZ} s)")
                }
                DetectorConfigError::Smoothing(_) => {
                    format!("--smooth must be in 1..={MAX_SMOOTHING}")
                }
                DetectorConfigError::ZeroDebounce => "--debounce must be at least 1".into(),
                DetectorConfigError::ZeroCalmWindows => "--calm-windows must be at least 1".into(),
                DetectorConfigError::Gate(_) => "--gate-dbfs must be a number".into(),
                DetectorConfigError::Alert(e) => e.to_string(),
            })
        })?;
        Ok(config)
    }

    fn overrides(&self) -> AlertOverrides {
        AlertOverrides {
            smoothing: self.smooth,
            debounce: self.debounce,
            calm_windows: self.calm_windows,
        }
    }
}

/// What `stream` and `listen` share: the capture ring, the model and the detector.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Capacity of the capture ring in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub ring_seconds: f32,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
}

impl PipelineArgs {
    fn into_config(self) -> Result<PipelineConfig, UsageError> {
        let model = self.model.into_config()?;
        let overrides = self.detector.overrides();
        let detector = DetectorConfig {
            bandwidth: model.bandwidth,
            ..self.detector.into_config()?
        };
        Ok(PipelineConfig {
            ring_seconds: self.ring_seconds,
            detector,
            overrides,
            model,
        })
    }
}

/// `classify` arguments.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// WAV files (any rate and channel count).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Raw sample encodings for stdin.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RawFormat {
    /// Signed 16-bit little-endian.
    S16le,
    /// 32-bit float little-endian in [-1, 1].
    F32le,
}

/// `stream` arguments.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// A WAV file, or `-` for raw PCM on stdin.
    #[arg(long)]
    pub input: String,
    /// Sample encoding of raw stdin.
    #[arg(long, value_enum)]
    pub format: Option<RawFormat>,
    /// Sample rate of raw stdin in Hz.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Interleaved channels of raw stdin.
    #[arg(long)]
    pub channels: Option<u16>,
    /// Pace the input like a live device (what the ring cannot take is dropped and counted).
    #[arg(long)]
    pub realtime: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// `listen` arguments.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Input device name or id (see `devices`); the default input when absent.
    #[arg(long)]
    pub device: Option<String>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// `devices` arguments.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// One JSON object per device instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Timed windows.
    #[arg(long, default_value_t = 50)]
    pub iters: usize,
    /// Untimed windows before timing.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Print one JSON object (its first field says what it ran on).
    #[arg(long)]
    pub json: bool,
    /// Also time every operator and show where the time goes.
    #[arg(long)]
    pub profile: bool,
}

/// Arguments that parse but do not make sense together; the message names the flags.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl ClassifyArgs {
    /// The validated config.
    pub fn into_config(self) -> Result<ClassifyConfig, UsageError> {
        Ok(ClassifyConfig {
            files: self.files,
            model: self.model.into_config()?,
        })
    }
}

impl StreamArgs {
    /// The validated config: raw-format flags only with stdin.
    pub fn into_config(self) -> Result<StreamConfig, UsageError> {
        let raw = self.format.is_some() || self.rate.is_some() || self.channels.is_some();
        let input = if self.input == "-" {
            let format = Format {
                sample_rate: self.rate.unwrap_or(SAMPLE_RATE_HZ),
                channels: self.channels.unwrap_or(1),
            };
            if format.sample_rate == 0 || format.channels == 0 {
                return Err(UsageError("--rate and --channels must be positive".into()));
            }
            let encoding = match self.format.unwrap_or(RawFormat::S16le) {
                RawFormat::S16le => PcmEncoding::S16le,
                RawFormat::F32le => PcmEncoding::F32le,
            };
            StreamInput::Stdin { format, encoding }
        } else {
            if raw {
                return Err(UsageError(
                    "--format, --rate and --channels describe raw PCM on stdin (--input -); a WAV \
                     file carries its own"
                        .into(),
                ));
            }
            StreamInput::File(PathBuf::from(self.input))
        };
        Ok(StreamConfig {
            input,
            pace: if self.realtime {
                Pace::Realtime
            } else {
                Pace::FullSpeed
            },
            pipeline: self.pipeline.into_config()?,
        })
    }
}

impl ListenArgs {
    /// The validated config.
    pub fn into_config(self) -> Result<ListenConfig, UsageError> {
        Ok(ListenConfig {
            device: self.device,
            pipeline: self.pipeline.into_config()?,
        })
    }
}

impl DevicesArgs {
    /// The config.
    pub fn into_config(self) -> DevicesConfig {
        DevicesConfig { json: self.json }
    }
}

impl BenchArgs {
    /// The validated config.
    pub fn into_config(self) -> Result<BenchCommandConfig, UsageError> {
        if self.iters == 0 {
            return Err(UsageError("--iters must be at least 1".into()));
        }
        Ok(BenchCommandConfig {
            model: self.model.into_config()?,
            bench: BenchConfig {
                iters: self.iters,
                warmup: self.warmup,
                profile: self.profile,
            },
            json: self.json,
        })
    }
}
