//! Each subcommand's arguments and their validated config.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use cry_core::contract::SAMPLE_RATE_HZ;

use super::config_file::ConfigArg;
use super::http::HttpArgs;
use super::model::ModelArgs;
use super::pipeline::PipelineArgs;
use crate::bench::BenchConfig;
use crate::config::{
    BenchCommandConfig, ClassifyConfig, DevicesConfig, HealthConfig, ListenConfig, ServeConfig,
    StreamConfig, StreamInput,
};
use crate::error::UsageError;
use crate::stream::Format;
use crate::stream::feed::Pace;
use crate::stream::readers::PcmEncoding;

/// `classify` arguments.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub config: ConfigArg,
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
    /// Play a file input again from its start each time it ends, forever (demonstrations, and
    /// `stream` as a service, which must not end).
    #[arg(long = "loop")]
    pub looped: bool,
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

/// `serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub http: HttpArgs,
}

impl ServeArgs {
    /// The validated config: `--http` is required.
    pub fn into_config(self) -> Result<ServeConfig, UsageError> {
        let model = self.model.into_config()?;
        let http = self
            .http
            .into_config(false)?
            .ok_or_else(|| UsageError("serve needs --http IP:PORT".into()))?;
        Ok(ServeConfig { model, http })
    }
}

/// `health` arguments.
#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The monitor's health endpoint (`--http` of `listen`, `stream` or `serve`).
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8080/healthz"
    )]
    pub url: String,
    /// Seconds to wait for the answer.
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub timeout_seconds: u64,
}

impl HealthArgs {
    /// The validated config: an http(s) URL and a timeout of at least a second.
    pub fn into_config(self) -> Result<HealthConfig, UsageError> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(UsageError(format!(
                "--url must be an http:// or https:// URL, not `{}`",
                self.url
            )));
        }
        if self.timeout_seconds == 0 {
            return Err(UsageError("--timeout-seconds must be at least 1".into()));
        }
        Ok(HealthConfig {
            url: self.url,
            timeout: std::time::Duration::from_secs(self.timeout_seconds),
        })
    }
}

/// `devices` arguments.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// One JSON object per device instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub config: ConfigArg,
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
        if self.looped && self.input == "-" {
            return Err(UsageError(
                "--loop replays a file; stdin cannot be read twice".into(),
            ));
        }
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
            StreamInput::File {
                path: PathBuf::from(self.input),
                looped: self.looped,
            }
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
