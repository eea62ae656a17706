//! `--model` and how it runs: the options every subcommand that loads a model shares.

use std::path::PathBuf;

use clap::Args;
use cry_core::audio::Bandwidth;
use cry_core::contract::SAMPLE_RATE_HZ;

use crate::config::ModelConfig;
use crate::engine::{EngineOptions, Precision};
use crate::error::UsageError;

/// Where `--model` points when not given.
pub const DEFAULT_MODEL: &str = "models/cry.onnx";

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
    pub(super) fn into_config(self) -> Result<ModelConfig, UsageError> {
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
