//! Command-line interface: argument parsing ([`args`]), validation into configurations, and the
//! binary's error with its exit codes ([`error`]).

pub mod args;
pub mod error;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::error::Error;

pub use args::*;
pub use error::{CliError, EXIT_DATA, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError};

use args::config_source;
use error::{EXIT_CODES, usage};

/// Infant-cry classification on raw audio: evaluate, fine-tune and export Lightweight HuBERT.
#[derive(Debug, Parser)]
#[command(name = "host-train", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Score random and majority baselines with nested, leakage-safe cross-validation.
    #[command(after_help = EXIT_CODES)]
    Baselines(BaselinesArgs),
    /// Write the last hidden state (and logits) of a checkpoint for one WAV as `.npy`.
    #[command(after_help = EXIT_CODES)]
    Embed(EmbedArgs),
    /// Write a random-init checkpoint in the Hugging Face format (not pretrained).
    #[command(after_help = EXIT_CODES)]
    Init(InitArgs),
    /// Time forward passes and a fine-tuning step of a full-size random-init model.
    #[command(after_help = EXIT_CODES)]
    Bench(BenchArgs),
    /// Fine-tune and evaluate with nested, leakage-safe cross-validation against the baselines.
    #[command(after_help = EXIT_CODES)]
    NestedCv(NestedCvArgs),
    /// Choose a configuration by CV over all the data, fit it on all of it, save the model.
    #[command(after_help = EXIT_CODES)]
    Train(TrainArgs),
    /// Write a classifier checkpoint as ONNX (fp32 or dynamic int8), verified in tract.
    #[command(after_help = EXIT_CODES)]
    Export(ExportArgs),
    /// Compare an exported ONNX with its checkpoint in tract.
    #[command(name = "verify-onnx", after_help = EXIT_CODES)]
    VerifyOnnx(VerifyOnnxArgs),
    /// Combine outer folds run as separate jobs (`nested-cv --outer-fold k`) into one report.
    #[command(after_help = EXIT_CODES)]
    Merge(MergeArgs),
    /// Lay one outer fold's test clips end to end into a WAV with its truth, and write its
    /// training part as a manifest: the inputs of the end-to-end check of `edge-infer stream`.
    #[command(name = "held-out-recording", after_help = EXIT_CODES)]
    HeldOutRecording(HeldOutRecordingArgs),
    /// Count the alerts `edge-infer stream` raised over a `held-out-recording` against its truth.
    #[command(name = "score-stream", after_help = EXIT_CODES)]
    ScoreStream(ScoreStreamArgs),
}

/// Runs a parsed command line; `command` is the original text, kept in reports.
pub fn run(cli: Cli, command: String) -> Result<(), CliError> {
    match cli.command {
        Command::Baselines(args) => {
            let config = args.into_config(command)?;
            let report = commands::baselines::run(&config)?;
            print!("{}", report.to_markdown());
        }
        Command::Embed(args) => {
            let device = args.device.device.device();
            commands::embed::run(&args.into_config()?, &device)?;
        }
        Command::Bench(args) => {
            let device = args.device.device.device();
            let source = config_source(&args.config)?;
            let (config, preprocessor) = source.load().map_err(Error::from)?;
            let bench = commands::bench::BenchConfig {
                config,
                preprocessor,
                seconds: args.seconds,
                iters: args.iters,
                train_batch: args.train_batch,
                train_seconds: args.train_seconds,
                device_name: format!("{:?}", args.device.device),
            };
            let report = commands::bench::run(&bench, &device)?;
            println!("{}", report.machine);
            for t in &report.timings {
                println!(
                    "{:<60} median {:>8.3} s  min {:>8.3} s  ({} runs)",
                    t.name, t.median_s, t.min_s, t.iters
                );
            }
            if let Some(path) = &args.json {
                crate::report::write_json(path, &report).map_err(Error::from)?;
            }
        }
        Command::Init(args) => {
            let device = args.device.device.device();
            commands::init::run(&args.into_config()?, &device)?;
        }
        Command::NestedCv(args) => {
            let device = args.device.device;
            let config = args.into_config(command)?;
            if let Some(report) = commands::nested_cv::run(&config, device)? {
                print!("{}", report.to_markdown());
            }
        }
        Command::Train(args) => {
            let device = args.device.device;
            let config = args.into_config(command)?;
            let record = commands::train::run(&config, device)?;
            println!(
                "{}: {} (epoch {}), trained on {} clips",
                config.out.display(),
                record.configuration,
                record.best_epoch,
                record.data.clips
            );
            if let Some(w) = &record.warning {
                println!("{w}");
            }
        }
        Command::Export(args) => {
            if !(0.5..=60.0).contains(&args.window_seconds) {
                return Err(usage("--window-seconds", "must be between 0.5 and 60").into());
            }
            let config = commands::export::ExportConfig {
                model: args.model,
                out: args.out,
                int8: args.int8,
                window: (args.window_seconds * f64::from(cry_core::contract::SAMPLE_RATE_HZ))
                    .round() as usize,
                data: args.data,
                force: args.force,
            };
            let v = commands::export::run(&config, &burn::prelude::Device::flex())?;
            println!("{}", pretty(&v)?);
        }
        Command::VerifyOnnx(args) => {
            let v = commands::verify_onnx::run(
                &args.model,
                &args.onnx,
                args.data.as_deref(),
                &burn::prelude::Device::flex(),
            )?;
            println!("{}", pretty(&v)?);
            if !v.passed {
                return Err(Error::from(anyhow::anyhow!(
                    "{} does not match its checkpoint",
                    args.onnx.display()
                ))
                .into());
            }
        }
        Command::Merge(args) => {
            let report = commands::merge::run(&commands::merge::MergeConfig {
                parts: args.parts,
                out: args.out,
            })?;
            print!("{}", report.to_markdown());
        }
        Command::HeldOutRecording(args) => {
            let written = commands::held_out_recording::run(
                &commands::held_out_recording::HeldOutRecordingConfig {
                    run: args.run,
                    outer_fold: args.outer_fold,
                    roots: args.data,
                    max_clip_seconds: args.max_clip_seconds,
                    seed: args.seed,
                    out: args.out,
                },
            )?;
            print!("{}", written.summary());
        }
        Command::ScoreStream(args) => {
            if args.window_seconds.is_nan() || args.window_seconds <= 0.0 {
                return Err(usage("--window-seconds", "must be positive").into());
            }
            let figures =
                commands::score_stream::run(&commands::score_stream::ScoreStreamConfig {
                    truth: args.truth,
                    events: args.events,
                    window_seconds: args.window_seconds,
                    json: args.json,
                })?;
            print!("{}", figures.to_markdown());
        }
    }
    Ok(())
}

fn pretty(value: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string_pretty(value).map_err(|e| anyhow::Error::new(e).into())
}
