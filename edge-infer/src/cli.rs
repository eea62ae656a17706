//! The command line: clap's argument definitions and their conversion into the validated
//! configs of [`crate::config`]. Flag names live here and nowhere else: a library error about a
//! value becomes a [`UsageError`] that names the flag.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use cry_core::audio::Bandwidth;
use cry_core::contract::SAMPLE_RATE_HZ;

use crate::bench::BenchConfig;
use crate::config::{
    AlertOverrides, BenchCommandConfig, ClassifyConfig, DevicesConfig, ListenConfig, ModelConfig,
    PipelineConfig, ServeConfig, StreamConfig, StreamInput,
};
use crate::engine::{EngineOptions, Precision};
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
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Stream(StreamArgs),
    /// Listen to a microphone; JSON lines out, logs on stderr (needs a build with the `mic`
    /// feature).
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Listen(ListenArgs),
    /// List audio input devices (needs a build with the `mic` feature).
    #[command(after_help = EXIT_CODES)]
    Devices(DevicesArgs),
    /// Measure model load time, per-window latency, real-time factor and memory.
    #[command(after_help = EXIT_CODES)]
    Bench(BenchArgs),
    /// Serve classification of uploaded files over HTTP (no audio source); see also --http on
    /// `stream` and `listen`.
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Serve(ServeArgs),
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
    /// Seconds between windows. Default: the hop stored in the model, at which its alert
    /// policy was chosen and its clips were scored (2 s; 1 s for models exported before the hop
    /// was stored).
    #[arg(long, value_name = "SECONDS")]
    pub hop: Option<f32>,
    /// Float arithmetic of an fp32 model: `fp16` converts the graph with tract's f32-to-f16
    /// transform, for CPUs with half-precision arithmetic (Raspberry Pi 5); elsewhere it is
    /// emulated and slower.
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    pub precision: Precision,
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
        let hop_samples = self
            .hop
            .map(|hop| {
                if !(hop.is_finite() && hop > 0.0) {
                    return Err(UsageError(
                        "--hop must be a positive number of seconds".into(),
                    ));
                }
                match (hop * SAMPLE_RATE_HZ as f32).round() as usize {
                    0 => Err(UsageError(format!(
                        "--hop must be at least one sample (1/{SAMPLE_RATE_HZ} s)"
                    ))),
                    samples => Ok(samples),
                }
            })
            .transpose()?;
        Ok(ModelConfig {
            path: self.model,
            options: EngineOptions {
                threads: self.threads,
                precision: self.precision,
            },
            bandwidth,
            cry_threshold: self.cry_threshold,
            hop_samples,
        })
    }
}

/// How windows become events.
#[derive(Debug, Args)]
pub struct DetectorArgs {
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
        let defaults = DetectorConfig::default();
        let config = DetectorConfig {
            hop_samples: defaults.hop_samples,
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

/// Where alerts go besides stdout.
#[derive(Debug, Args)]
pub struct AlertArgs {
    /// Publish alerts to an MQTT broker: `mqtt://[user@]host[:port]/PREFIX`, or `mqtts://` for
    /// TLS. The password comes from --mqtt-password-file or the environment variable
    /// EDGE_INFER_MQTT_PASSWORD, never from the command line.
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// File whose first line is the MQTT password.
    #[arg(long, value_name = "FILE", requires = "mqtt")]
    pub mqtt_password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the broker's certificate (mqtts://; default: the
    /// system's roots).
    #[arg(long, value_name = "FILE", requires = "mqtt")]
    pub mqtt_ca: Option<PathBuf>,
    /// MQTT client id (default: `edge-infer-` and the topic prefix).
    #[arg(long, value_name = "ID", requires = "mqtt")]
    pub mqtt_client_id: Option<String>,
    /// Alert events held while the broker is away; more are counted in `health`.
    #[arg(long, value_name = "N", default_value_t = crate::alerts::mqtt::DEFAULT_QUEUE_EVENTS)]
    pub mqtt_queue: usize,
    /// Seconds between `health` messages.
    #[arg(long, value_name = "S", default_value_t = crate::alerts::mqtt::DEFAULT_HEALTH_SECONDS)]
    pub mqtt_health_seconds: u64,
    /// Announce the monitor to Home Assistant (MQTT discovery): a crying binary sensor, a
    /// reason sensor and a cry event entity.
    #[arg(long, requires = "mqtt")]
    pub ha_discovery: bool,
    /// Home Assistant's discovery prefix.
    #[arg(long, value_name = "PREFIX", default_value = "homeassistant")]
    pub ha_prefix: String,
    /// The device name Home Assistant shows.
    #[arg(long, value_name = "NAME", default_value = "Cry monitor")]
    pub ha_name: String,
    /// Delete this monitor's Home Assistant entities (empty retained configs) and exit.
    #[arg(long, requires = "mqtt")]
    pub ha_remove: bool,
}

impl AlertArgs {
    fn into_config(self) -> Result<Option<crate::alerts::AlertsConfig>, UsageError> {
        let Some(url) = self.mqtt else {
            return Ok(None);
        };
        if self.mqtt_queue == 0 {
            return Err(UsageError("--mqtt-queue must be at least 1".into()));
        }
        let ha = (self.ha_discovery || self.ha_remove).then_some((self.ha_prefix, self.ha_name));
        crate::alerts::alerts_config(
            &url,
            self.mqtt_password_file.as_deref(),
            self.mqtt_ca,
            self.mqtt_client_id,
            self.mqtt_queue,
            self.mqtt_health_seconds,
            ha,
            self.ha_remove,
        )
        .map(Some)
        .map_err(|e| UsageError(format!("--mqtt: {e}")))
    }
}

/// The HTTP API.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Serve the HTTP API on this address (`127.0.0.1:8080`). Any address but loopback needs a
    /// token.
    #[arg(long, value_name = "IP:PORT")]
    pub http: Option<std::net::SocketAddr>,
    /// File whose first line is the token every route but /healthz requires (`Authorization:
    /// Bearer TOKEN`); at least 16 bytes. Or the environment variable EDGE_INFER_HTTP_TOKEN;
    /// never on the command line.
    #[arg(long, value_name = "FILE")]
    pub http_token_file: Option<PathBuf>,
    /// Largest request body in bytes (413 above it).
    #[arg(long, value_name = "BYTES", default_value_t = crate::http::config::DEFAULT_MAX_BODY)]
    pub http_max_body: usize,
    /// Classify requests served at once (429 above it). Default: the cores, less one while a
    /// live source runs.
    #[arg(long, value_name = "N")]
    pub http_max_concurrent: Option<usize>,
    /// Serve /metrics without the token.
    #[arg(long)]
    pub http_public_metrics: bool,
    /// Serve https with this PEM certificate chain (with --http-tls-key): phones allow the
    /// page's notifications only over https off localhost.
    #[arg(long, value_name = "FILE")]
    pub http_tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(long, value_name = "FILE")]
    pub http_tls_key: Option<PathBuf>,
}

impl HttpArgs {
    fn into_config(self, live_source: bool) -> Result<Option<crate::http::HttpConfig>, UsageError> {
        let Some(addr) = self.http else {
            if self.http_token_file.is_some()
                || self.http_public_metrics
                || self.http_tls_cert.is_some()
                || self.http_tls_key.is_some()
            {
                return Err(UsageError(
                    "--http-token-file, --http-public-metrics and --http-tls-* go with --http"
                        .into(),
                ));
            }
            return Ok(None);
        };
        let http = |e: crate::http::HttpConfigError| UsageError(format!("--http: {e}"));
        let token = crate::http::config::read_token(
            self.http_token_file.as_deref(),
            std::env::var(crate::http::TOKEN_ENV).ok(),
        )
        .map_err(http)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let concurrent = self
            .http_max_concurrent
            .unwrap_or_else(|| crate::http::config::default_concurrency(cores, live_source));
        let mut config = crate::http::config::http_config(
            addr,
            token,
            self.http_max_body,
            concurrent,
            self.http_public_metrics,
        )
        .map_err(http)?;
        config.tls = match (&self.http_tls_cert, &self.http_tls_key) {
            (Some(cert), Some(key)) => {
                Some(crate::http::config::load_tls(cert, key).map_err(http)?)
            }
            (None, None) => None,
            _ => return Err(http(crate::http::HttpConfigError::TlsPair)),
        };
        Ok(Some(config))
    }
}

/// Webhooks.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// POST every cry and calm as JSON (the MQTT event payload) to this http(s) URL, retried
    /// until a 2xx; repeatable (`webhook = ["...", "..."]` in --config).
    #[arg(long, value_name = "URL")]
    pub webhook: Vec<String>,
    /// File whose first line is a header sent with every webhook request (`Authorization:
    /// Bearer ...`). Or the environment variable EDGE_INFER_WEBHOOK_HEADER; never on the
    /// command line.
    #[arg(long, value_name = "FILE")]
    pub webhook_header_file: Option<PathBuf>,
}

/// Events a webhook's outbox holds.
pub const WEBHOOK_QUEUE: usize = 1000;

impl WebhookArgs {
    fn into_config(self) -> Result<Vec<crate::alerts::WebhookSettings>, UsageError> {
        if self.webhook.is_empty() {
            if self.webhook_header_file.is_some() {
                return Err(UsageError(
                    "--webhook-header-file goes with --webhook".into(),
                ));
            }
            return Ok(Vec::new());
        }
        let usage = |e: crate::alerts::WebhookError| UsageError(e.to_string());
        let header = crate::alerts::webhook::read_header(
            self.webhook_header_file.as_deref(),
            std::env::var(crate::alerts::webhook::HEADER_ENV).ok(),
        )
        .map_err(usage)?;
        self.webhook
            .iter()
            .map(|url| crate::alerts::webhook::settings(url, header.clone(), WEBHOOK_QUEUE))
            .collect::<Result<_, _>>()
            .map_err(usage)
    }
}

/// The event history.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Directory of the event history (`events.sqlite3`), from which `seq` continues after a
    /// restart and the HTTP API answers /api/v1/events and /api/v1/nights. Default: the
    /// STATE_DIRECTORY systemd sets for the unit; without either, the history of this run is
    /// kept in memory.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Days of events the history keeps.
    #[arg(long, value_name = "DAYS", default_value_t = crate::history::DEFAULT_RETENTION_DAYS)]
    pub history_days: u32,
    /// The local hours of a night for /api/v1/nights, START-END.
    #[arg(long, value_name = "START-END", default_value = "18-10")]
    pub night: String,
}

impl HistoryArgs {
    fn into_config(self) -> Result<crate::history::HistoryConfig, UsageError> {
        let night = self
            .night
            .parse()
            .map_err(|e| UsageError(format!("--night: {e}")))?;
        if self.history_days == 0 {
            return Err(UsageError("--history-days must be at least 1".into()));
        }
        // systemd separates several directories with `:`; the first is the unit's own.
        let from_env = std::env::var_os(crate::history::STATE_DIRECTORY_ENV)
            .filter(|v| !v.is_empty())
            .and_then(|v| std::env::split_paths(&v).next());
        Ok(crate::history::HistoryConfig {
            dir: self.state_dir.or(from_env),
            retention_days: self.history_days,
            night,
        })
    }
}

/// What `stream` and `listen` share: the capture ring, the model, the detector and the alerts.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// TOML file of these options, named as the flags without the leading dashes
    /// (`model = "/var/lib/edge-infer/cry.onnx"`, `mqtt = "mqtt://monitor@broker/nursery"`,
    /// `ha_discovery = true`); flags on the command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Capacity of the capture ring in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub ring_seconds: f32,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
    #[command(flatten)]
    pub alerts: AlertArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub history: HistoryArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
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
            alerts: self.alerts.into_config()?,
            http: self.http.into_config(true)?,
            history: self.history.into_config()?,
            webhooks: self.webhooks.into_config()?,
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

/// `serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML file of these options, named as the flags without the leading dashes; flags on the
    /// command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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

/// The command line with `--config FILE` (for `stream`, `listen` and `serve`) spliced in: the file's
/// options go right after the subcommand, so the flags written on the command line, which come
/// later, override them. A key that is not an option of the subcommand, or a value that is not a
/// string, number or boolean, is an error naming the file and the key.
pub fn with_config_file(args: Vec<OsString>) -> Result<Vec<OsString>, UsageError> {
    let Some(sub) = args.get(1).and_then(|a| a.to_str()) else {
        return Ok(args);
    };
    if !matches!(sub, "stream" | "listen" | "serve") {
        return Ok(args);
    }
    let mut path = None;
    for (i, a) in args.iter().enumerate().skip(2) {
        let Some(a) = a.to_str() else { continue };
        if a == "--" {
            break;
        }
        if let Some(p) = a.strip_prefix("--config=") {
            path = Some(PathBuf::from(p));
        } else if a == "--config" {
            path = args.get(i + 1).map(PathBuf::from);
        }
    }
    let Some(path) = path else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| UsageError(format!("--config {}: {e}", path.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| UsageError(format!("--config {}: not TOML: {e}", path.display())))?;
    let command = Cli::command();
    let sub_command = command
        .find_subcommand(sub)
        .expect("stream, listen and serve are subcommands");
    let known: Vec<String> = sub_command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let repeatable: Vec<String> = sub_command
        .get_arguments()
        .filter(|a| matches!(a.get_action(), clap::ArgAction::Append))
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut from_file: Vec<OsString> = Vec::new();
    for (key, value) in &table {
        let flag = key.replace('_', "-");
        let bad = |why: &str| UsageError(format!("--config {}: `{key}` {why}", path.display()));
        if flag == "config" || !known.contains(&flag) {
            return Err(bad(&format!("is not an option of `{sub}`")));
        }
        match value {
            toml::Value::Boolean(true) => from_file.push(format!("--{flag}").into()),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => {
                from_file.extend([format!("--{flag}"), s.clone()].map(Into::into))
            }
            toml::Value::Integer(n) => {
                from_file.extend([format!("--{flag}"), n.to_string()].map(Into::into))
            }
            toml::Value::Float(x) => {
                from_file.extend([format!("--{flag}"), x.to_string()].map(Into::into))
            }
            // A repeatable flag: `webhook = ["https://a", "https://b"]`.
            toml::Value::Array(_) if !repeatable.contains(&flag) => {
                return Err(bad("takes one value, not an array"));
            }
            toml::Value::Array(items) => {
                for item in items {
                    let text = match item {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Integer(n) => n.to_string(),
                        toml::Value::Float(x) => x.to_string(),
                        _ => return Err(bad("must hold strings or numbers")),
                    };
                    from_file.extend([format!("--{flag}"), text].map(Into::into));
                }
            }
            _ => return Err(bad("must be a string, a number, true/false or an array")),
        }
    }
    let mut out = args[..2].to_vec();
    out.extend(from_file);
    out.extend(args[2..].iter().cloned());
    Ok(out)
}

#[cfg(test)]
mod config_file_tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_options_come_first_so_flags_override_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge-infer.toml");
        std::fs::write(
            &file,
            "model = \"/m.onnx\"\nthreads = 2\ngate_dbfs = -45.5\nha_discovery = true\nrealtime = false\nmqtt = \"mqtt://h/p\"\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let out = with_config_file(args(&[
            "edge-infer",
            "stream",
            "--config",
            f,
            "--input",
            "a.wav",
            "--threads",
            "4",
        ]))
        .unwrap();
        let text: Vec<&str> = out.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(&text[..2], ["edge-infer", "stream"],);
        let mut file_part: Vec<&str> = text[2..text.len() - 6].to_vec();
        file_part.sort_unstable();
        let mut want = vec![
            "--model",
            "/m.onnx",
            "--threads",
            "2",
            "--gate-dbfs",
            "-45.5",
            "--ha-discovery",
            "--mqtt",
            "mqtt://h/p",
        ];
        want.sort_unstable();
        assert_eq!(file_part, want);
        let cli = Cli::try_parse_from(&out).unwrap();
        let Command::Stream(stream) = cli.command else {
            panic!("stream")
        };
        assert_eq!(
            stream.pipeline.model.threads,
            Some(4),
            "the command line wins"
        );
        assert_eq!(stream.pipeline.model.model, PathBuf::from("/m.onnx"));
        assert_eq!(stream.pipeline.detector.gate_dbfs, -45.5);
        assert!(!stream.realtime);
    }

    #[test]
    fn an_array_gives_a_repeatable_flag_once_per_item() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("edge-infer.toml");
        std::fs::write(
            &file,
            "webhook = [\"https://ntfy.sh/nursery\", \"http://127.0.0.1:9/hook\"]\n",
        )
        .unwrap();
        let out = with_config_file(args(&[
            "edge-infer",
            "stream",
            "--config",
            file.to_str().unwrap(),
            "--input",
            "a.wav",
            "--model",
            "m.onnx",
        ]))
        .unwrap();
        let Command::Stream(stream) = Cli::try_parse_from(&out).unwrap().command else {
            panic!("stream")
        };
        assert_eq!(
            stream.pipeline.webhooks.webhook,
            ["https://ntfy.sh/nursery", "http://127.0.0.1:9/hook"]
        );
        std::fs::write(&file, "webhook = [{ url = \"x\" }]\n").unwrap();
        let err = with_config_file(args(&[
            "edge-infer",
            "stream",
            "--config",
            file.to_str().unwrap(),
        ]))
        .unwrap_err();
        assert!(
            err.0.contains("`webhook` must hold strings or numbers"),
            "{}",
            err.0
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let f = file.to_str().unwrap().to_string();
        let run = |text: &str| {
            std::fs::write(&file, text).unwrap();
            with_config_file(args(&["edge-infer", "listen", "--config", &f]))
        };
        let err = run("modle = \"x\"\n").unwrap_err().0;
        assert!(err.contains("c.toml") && err.contains("`modle`"), "{err}");
        let err = run("threads = [1, 2]\n").unwrap_err().0;
        assert!(
            err.contains("`threads`") && err.contains("one value, not an array"),
            "{err}"
        );
        let err = run("threads = { n = 1 }\n").unwrap_err().0;
        assert!(
            err.contains("`threads`") && err.contains("string, a number"),
            "{err}"
        );
        let err = run("threads = \n").unwrap_err().0;
        assert!(err.contains("not TOML"), "{err}");
        // Other subcommands and command lines without --config pass through untouched.
        let plain = args(&["edge-infer", "classify", "--config", "x", "a.wav"]);
        assert_eq!(with_config_file(plain.clone()).unwrap(), plain);
    }
}
