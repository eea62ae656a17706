//! How windows become events: the energy gate, smoothing, debounce and calm.

use clap::Args;
use cry_core::contract::SAMPLE_RATE_HZ;

use crate::config::AlertOverrides;
use crate::error::UsageError;
use crate::stream::decision::MAX_SMOOTHING;
use crate::stream::{DetectorConfig, DetectorConfigError};

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
    pub(super) fn into_config(self) -> Result<DetectorConfig, UsageError> {
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

    pub(super) fn overrides(&self) -> AlertOverrides {
        AlertOverrides {
            smoothing: self.smooth,
            debounce: self.debounce,
            calm_windows: self.calm_windows,
        }
    }
}
