//! Command-line interface: arguments, validation, and the commands' top level.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use cry_core::contract::SAMPLE_RATE_HZ;
use cry_core::{AudioError, LoadOptions, load_clip};
use serde::Serialize;

use crate::bench::{self, BenchConfig};
use crate::capture::{self, CaptureError};
use crate::engine::{Engine, EngineError, EngineOptions};
use crate::scoring::score_clip;
use crate::stream::detector::{DetectorError, Stop};
use crate::stream::feed::{Pace, spawn_feeder};
use crate::stream::readers::{PcmEncoding, PcmSource, WavFileSource};
use crate::stream::{AudioSource, Detector, DetectorConfig, Format, SourceError};

/// Exit status: success (including a stream ended by SIGINT).
pub const EXIT_OK: i32 = 0;
/// Exit status: an unexpected failure (I/O, inference, a bug).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status: invalid arguments.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: the model is missing or unusable (not ONNX, metadata or contract not met).
pub const EXIT_MODEL: i32 = 3;
/// Exit status: audio input unusable (a file that does not decode, stdin not in the declared
/// format); `classify` uses it when any file failed.
pub const EXIT_AUDIO: i32 = 4;
/// Exit status: no such audio device, or capture could not start.
pub const EXIT_DEVICE: i32 = 5;

const EXIT_CODES: &str = "Exit codes: 0 success (also a stream stopped with Ctrl-C); 1 unexpected \
failure; 2 invalid arguments; 3 model missing or unusable (not ONNX, metadata or input/output \
contract not met); 4 audio input unusable (undecodable file, stdin not in the declared format); \
5 audio device missing or capture failed.";

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
    /// Listen to a microphone; JSON lines out, logs on stderr.
    #[command(after_help = EXIT_CODES)]
    Listen(ListenArgs),
    /// List audio input devices.
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
}

impl ModelArgs {
    fn load(&self) -> Result<Engine, EngineError> {
        Engine::load(
            &self.model,
            &EngineOptions {
                threads: self.threads,
            },
        )
    }
}

/// How windows become events.
#[derive(Debug, Args)]
pub struct DetectorArgs {
    /// Seconds between windows.
    #[arg(long, default_value_t = 1.0)]
    pub hop: f32,
    /// Windows with RMS below this level (dBFS) are reported as `quiet` and not classified.
    #[arg(long, default_value_t = -50.0, allow_negative_numbers = true)]
    pub gate_dbfs: f32,
    /// Average probabilities over the last K classified windows.
    #[arg(long, default_value_t = 3)]
    pub smooth: usize,
    /// Emit `cry` when the same label holds for M consecutive windows.
    #[arg(long, default_value_t = 2)]
    pub debounce: usize,
    /// Emit `calm` after this many consecutive quiet windows following a cry.
    #[arg(long, default_value_t = 3)]
    pub calm_windows: usize,
}

impl DetectorArgs {
    fn config(&self) -> Result<DetectorConfig, UsageError> {
        if !(self.hop.is_finite() && self.hop > 0.0) {
            return Err(UsageError(
                "--hop must be a positive number of seconds".into(),
            ));
        }
        let config = DetectorConfig {
            hop_samples: (self.hop * SAMPLE_RATE_HZ as f32).round() as usize,
            gate_dbfs: self.gate_dbfs,
            smoothing: self.smooth,
            debounce: self.debounce,
            calm_windows: self.calm_windows,
        };
        config.validate().map_err(UsageError)?;
        Ok(config)
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

/// Arguments that parse but do not make sense together.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit status for an error, by what it is about.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    let is = |f: &dyn Fn(&(dyn std::error::Error + 'static)) -> bool| err.chain().any(f);
    if is(&|e| e.is::<UsageError>()) {
        EXIT_USAGE
    } else if is(&|e| {
        e.downcast_ref::<EngineError>()
            .is_some_and(|e| !matches!(e, EngineError::Run(_)))
            || e.downcast_ref::<DetectorError>()
                .is_some_and(|e| matches!(e, DetectorError::Engine(inner) if !matches!(inner, EngineError::Run(_))))
    }) {
        EXIT_MODEL
    } else if is(&|e| {
        e.is::<AudioError>()
            || e.downcast_ref::<SourceError>()
                .is_some_and(|e| !matches!(e, SourceError::DeviceLost(_)))
            || e.downcast_ref::<DetectorError>()
                .is_some_and(|e| matches!(e, DetectorError::Source(inner) if !matches!(inner, SourceError::DeviceLost(_))))
            || e.is::<FilesFailed>()
    }) {
        EXIT_AUDIO
    } else if is(&|e| e.is::<CaptureError>()) {
        EXIT_DEVICE
    } else {
        EXIT_FAILURE
    }
}

/// Some files given to `classify` could not be classified.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} file(s) could not be classified (reported on stdout)")]
pub struct FilesFailed {
    failed: usize,
    total: usize,
}

/// Runs a parsed command line; returns the exit status.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Classify(args) => classify(&args),
        Command::Stream(args) => stream(&args),
        Command::Listen(args) => listen(&args),
        Command::Devices(args) => devices(&args),
        Command::Bench(args) => bench_command(&args),
    }
}

#[derive(Serialize)]
struct ClassifyLine<'a> {
    file: String,
    label: &'a str,
    confidence: f32,
    probabilities: std::collections::BTreeMap<&'a str, f32>,
    windows: usize,
    seconds: f64,
}

fn classify(args: &ClassifyArgs) -> anyhow::Result<i32> {
    let engine = args.model.load()?;
    let labels = &engine.metadata().labels;
    let mut session = engine.session()?;
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0;
    for path in &args.files {
        let clip = match load_clip(path, &LoadOptions::default()) {
            Ok(clip) => clip,
            Err(err) => {
                log::error!("skipped {err}");
                failed += 1;
                let line = serde_json::json!({"file": path.display().to_string(), "error": err.kind.to_string()});
                writeln!(stdout, "{line}")?;
                continue;
            }
        };
        let score = score_clip(&mut session, &clip.samples)?;
        let line = ClassifyLine {
            file: path.display().to_string(),
            label: &labels[score.label],
            confidence: score.probabilities[score.label],
            probabilities: labels
                .iter()
                .map(String::as_str)
                .zip(score.probabilities.iter().copied())
                .collect(),
            windows: score.windows,
            seconds: clip.samples.len() as f64 / f64::from(SAMPLE_RATE_HZ),
        };
        writeln!(stdout, "{}", serde_json::to_string(&line)?)?;
    }
    if failed > 0 {
        return Err(FilesFailed {
            failed,
            total: args.files.len(),
        }
        .into());
    }
    Ok(EXIT_OK)
}

/// Raised by SIGINT: the streaming loops finish their window, print a summary and exit 0.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_interrupt_handler() -> anyhow::Result<()> {
    ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the user wants out now.
            std::process::exit(130);
        }
    })
    .context("cannot install the SIGINT handler")
}

fn stream(args: &StreamArgs) -> anyhow::Result<i32> {
    let config = args.pipeline.detector.config()?;
    let raw = args.format.is_some() || args.rate.is_some() || args.channels.is_some();
    let (source, pace): (Box<dyn AudioSource + Send>, Pace) = if args.input == "-" {
        let format = Format {
            sample_rate: args.rate.unwrap_or(SAMPLE_RATE_HZ),
            channels: args.channels.unwrap_or(1),
        };
        if format.sample_rate == 0 || format.channels == 0 {
            return Err(UsageError("--rate and --channels must be positive".into()).into());
        }
        let encoding = match args.format.unwrap_or(RawFormat::S16le) {
            RawFormat::S16le => PcmEncoding::S16le,
            RawFormat::F32le => PcmEncoding::F32le,
        };
        let source = PcmSource::new(std::io::stdin(), "stdin", format, encoding);
        (Box::new(source), pace(args.realtime))
    } else {
        if raw {
            return Err(UsageError(
                "--format, --rate and --channels describe raw PCM on stdin (--input -); a WAV \
                 file carries its own"
                    .into(),
            )
            .into());
        }
        let source = WavFileSource::open(Path::new(&args.input))?;
        (Box::new(source), pace(args.realtime))
    };
    let engine = args.pipeline.model.load()?;
    install_interrupt_handler()?;
    // The feeder thread is not joined: after Ctrl-C it may be blocked reading stdin, and it
    // ends with the process.
    let (mut ring, _feeder) = spawn_feeder(source, pace, args.pipeline.ring_seconds);
    let mut detector =
        Detector::new(engine.session()?, &engine.metadata().labels, config).map_err(UsageError)?;
    let mut stdout = std::io::stdout().lock();
    let stop = detector.run(&mut ring, &mut stdout, &STOP)?;
    detector.write_summary(stop, &mut stdout)?;
    Ok(EXIT_OK)
}

fn pace(realtime: bool) -> Pace {
    if realtime {
        Pace::Realtime
    } else {
        Pace::FullSpeed
    }
}

fn listen(args: &ListenArgs) -> anyhow::Result<i32> {
    let config = args.pipeline.detector.config()?;
    let engine = args.pipeline.model.load()?;
    install_interrupt_handler()?;
    let mut capture = capture::open(args.device.as_deref(), args.pipeline.ring_seconds)?;
    log::info!(
        "listening on `{}` ({} Hz, {} ch); Ctrl-C stops",
        capture.device,
        capture.source.format().sample_rate,
        capture.source.format().channels
    );
    let mut detector =
        Detector::new(engine.session()?, &engine.metadata().labels, config).map_err(UsageError)?;
    let mut stdout = std::io::stdout().lock();
    loop {
        match detector.run(&mut capture.source, &mut stdout, &STOP) {
            Ok(stop) => {
                detector.write_summary(stop, &mut stdout)?;
                return Ok(EXIT_OK);
            }
            Err(DetectorError::Source(SourceError::DeviceLost(reason))) => {
                log::warn!("{reason}; reopening");
                drop(capture);
                match reopen(args, &STOP) {
                    Some(again) => {
                        capture = again;
                        detector.reset_audio();
                        log::info!("capturing again from `{}`", capture.device);
                    }
                    None => {
                        detector.write_summary(Stop::Interrupted, &mut stdout)?;
                        return Ok(EXIT_OK);
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Retries opening the device with exponential backoff (0.5 s to 30 s) until it works or the
/// user interrupts.
fn reopen(args: &ListenArgs, stop: &AtomicBool) -> Option<capture::Capture> {
    let mut wait = Duration::from_millis(500);
    loop {
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        match capture::open(args.device.as_deref(), args.pipeline.ring_seconds) {
            Ok(capture) => return Some(capture),
            Err(e) => log::warn!(
                "{e}; retrying in {:.1} s",
                (wait * 2).min(Duration::from_secs(30)).as_secs_f32()
            ),
        }
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

fn devices(args: &DevicesArgs) -> anyhow::Result<i32> {
    let devices = capture::input_devices()?;
    let mut stdout = std::io::stdout().lock();
    if devices.is_empty() {
        log::warn!("no audio input devices found");
    }
    for d in devices {
        if args.json {
            let line = serde_json::json!({"name": d.name, "id": d.id, "default": d.default, "config": d.config});
            writeln!(stdout, "{line}")?;
        } else {
            writeln!(
                stdout,
                "{} {}  [{}]  id: {}",
                if d.default { "*" } else { " " },
                d.name,
                d.config,
                d.id
            )?;
        }
    }
    Ok(EXIT_OK)
}

fn bench_command(args: &BenchArgs) -> anyhow::Result<i32> {
    if args.iters == 0 {
        return Err(UsageError("--iters must be at least 1".into()).into());
    }
    let engine = args.model.load()?;
    let report = bench::run(
        &engine,
        &BenchConfig {
            iters: args.iters,
            warmup: args.warmup,
            profile: args.profile,
        },
    )?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(stdout, "{}", report.to_text())?;
    }
    Ok(EXIT_OK)
}
