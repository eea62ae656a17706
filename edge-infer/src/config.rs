//! Validated configurations of the commands, built from the command line by [`crate::cli`]:
//! once a command has its config, its input has been checked.

use std::path::PathBuf;

use cry_core::ModelMetadata;
use cry_core::alerts::AlertPolicy;
use cry_core::audio::Bandwidth;

use crate::bench::BenchConfig;
use crate::engine::{Engine, EngineError, EngineOptions};
use crate::error::UsageError;
use crate::stream::DetectorConfig;
use crate::stream::Format;
use crate::stream::feed::Pace;
use crate::stream::readers::PcmEncoding;

/// The model to load.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// The exported ONNX file.
    pub path: PathBuf,
    /// Threads and other load options.
    pub options: EngineOptions,
    /// Audio is limited to this band before the model sees it (`--bandwidth`).
    pub bandwidth: Option<Bandwidth>,
    /// `--cry-threshold`, over the model's stored threshold.
    pub cry_threshold: Option<f32>,
    /// `--hop` in samples, over the model's stored hop.
    pub hop_samples: Option<usize>,
}

impl ModelConfig {
    /// Loads and checks the model.
    pub fn load(&self) -> Result<Engine, EngineError> {
        Engine::load(&self.path, &self.options)
    }

    /// The band for a loaded model: `--bandwidth`, else the one it was trained with.
    pub fn bandwidth_for(&self, metadata: &ModelMetadata) -> Result<Option<Bandwidth>, UsageError> {
        let stored = metadata
            .bandwidth_hz
            .map(Bandwidth::new)
            .transpose()
            .map_err(|e| UsageError(format!("{}: {e}", self.path.display())))?;
        match (self.bandwidth, stored) {
            (Some(given), Some(trained)) if given != trained => {
                log::warn!(
                    "--bandwidth {} Hz, but {} was trained on audio limited to {} Hz",
                    given.hz(),
                    self.path.display(),
                    trained.hz()
                );
                Ok(Some(given))
            }
            (Some(given), _) => Ok(Some(given)),
            (None, stored) => {
                if let Some(b) = stored {
                    log::info!("limiting audio to {} Hz, as the model was trained", b.hz());
                }
                Ok(stored)
            }
        }
    }

    /// The hop for a loaded model: `--hop`, else the one stored with it. A two-head model's
    /// debounce and calm are counted in windows of its stored hop, so another hop changes how
    /// long they last (a warning says so).
    pub fn hop_for(&self, metadata: &ModelMetadata) -> usize {
        let stored = metadata.hop_samples;
        match self.hop_samples {
            Some(given) if given != stored && metadata.alert.is_some() => {
                log::warn!(
                    "--hop {} s, but {}'s alert policy was chosen at a {} s hop: its debounce and \
                     calm windows last {:.2}x as long",
                    given as f64 / f64::from(cry_core::contract::SAMPLE_RATE_HZ),
                    self.path.display(),
                    stored as f64 / f64::from(cry_core::contract::SAMPLE_RATE_HZ),
                    given as f64 / stored as f64
                );
                given
            }
            Some(given) => given,
            None => stored,
        }
    }

    /// The cry threshold for a loaded model: `--cry-threshold`, else the stored one; `None`
    /// for a single-output model (and `--cry-threshold` with one is refused).
    pub fn cry_threshold_for(&self, metadata: &ModelMetadata) -> Result<Option<f32>, UsageError> {
        match (&metadata.alert, self.cry_threshold) {
            (None, Some(_)) => Err(UsageError(format!(
                "--cry-threshold: {} has no cry head (a single-output model); export a two-head \
                 model (trained with not_cry clips) to use one",
                self.path.display()
            ))),
            (None, None) => Ok(None),
            (Some(policy), given) => Ok(Some(given.unwrap_or(policy.threshold))),
        }
    }
}

/// The detector flags given on the command line, over a two-head model's stored policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertOverrides {
    /// `--smooth`.
    pub smoothing: Option<usize>,
    /// `--debounce`.
    pub debounce: Option<usize>,
    /// `--calm-windows`.
    pub calm_windows: Option<usize>,
}

/// `classify`: score whole files.
#[derive(Debug, Clone)]
pub struct ClassifyConfig {
    /// WAV files, any rate and channel count.
    pub files: Vec<PathBuf>,
    /// The model.
    pub model: ModelConfig,
}

/// What `stream` and `listen` share: the capture ring, the model and the detector.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Capacity of the capture ring in seconds.
    pub ring_seconds: f32,
    /// The model.
    pub model: ModelConfig,
    /// How windows become events (for a single-output model; see
    /// [`PipelineConfig::detector_for`]).
    pub detector: DetectorConfig,
    /// The detector flags that were given, over a two-head model's stored policy.
    pub overrides: AlertOverrides,
    /// `--mqtt` and its options.
    pub alerts: Option<crate::alerts::AlertsConfig>,
    /// `--http` and its options.
    pub http: Option<crate::http::HttpConfig>,
    /// `--state-dir` and the history's options.
    pub history: crate::history::HistoryConfig,
    /// `--webhook`s.
    pub webhooks: Vec<crate::alerts::WebhookSettings>,
}

impl PipelineConfig {
    /// The detector for a loaded model, at [`ModelConfig::hop_for`]'s hop. A two-head model
    /// runs in cry-head mode under its stored alert policy, with `--cry-threshold` (the release kept at the same fraction of it),
    /// `--smooth`, `--debounce` and `--calm-windows` over it. A single-output model runs in
    /// today's gate mode, with a warning. The band is [`ModelConfig::bandwidth_for`]'s.
    pub fn detector_for(&self, metadata: &ModelMetadata) -> Result<DetectorConfig, UsageError> {
        let mut config = DetectorConfig {
            bandwidth: self.model.bandwidth_for(metadata)?,
            hop_samples: self.model.hop_for(metadata),
            ..self.detector.clone()
        };
        let threshold = self.model.cry_threshold_for(metadata)?;
        match (metadata.alert, threshold) {
            (Some(stored), Some(threshold)) => {
                let o = &self.overrides;
                let policy = AlertPolicy {
                    smoothing: o.smoothing.unwrap_or(stored.smoothing),
                    debounce: o.debounce.unwrap_or(stored.debounce),
                    calm_windows: o.calm_windows.unwrap_or(stored.calm_windows),
                    ..stored.with_threshold(threshold)
                };
                policy.validate().map_err(|e| UsageError(e.to_string()))?;
                config.alert = Some(policy);
            }
            _ => {
                log::warn!(
                    "{} has no cry head (a single-output model): gate mode, where any sound \
                     above {} dBFS for {} windows is reported as a cry; export a two-head model \
                     to tell cries from other sounds",
                    self.model.path.display(),
                    config.gate_dbfs,
                    config.debounce
                );
            }
        }
        Ok(config)
    }
}

/// Where `stream` reads.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamInput {
    /// An audio file in any format `cry-core` decodes (it carries its own format).
    File {
        /// The file.
        path: PathBuf,
        /// `--loop`: played again from its start each time it ends.
        looped: bool,
    },
    /// Raw interleaved PCM on stdin.
    Stdin {
        /// Rate and channels.
        format: Format,
        /// Sample encoding.
        encoding: PcmEncoding,
    },
}

/// `stream`: a file or stdin through the streaming pipeline.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The input.
    pub input: StreamInput,
    /// As fast as the detector takes, or paced like a device.
    pub pace: Pace,
    /// Ring, model and detector.
    pub pipeline: PipelineConfig,
}

/// `listen`: a microphone through the streaming pipeline.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Device name or id; the default input when `None`.
    pub device: Option<String>,
    /// Ring, model and detector.
    pub pipeline: PipelineConfig,
}

/// `serve`: classification of uploads over HTTP, no audio source.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The model.
    pub model: ModelConfig,
    /// Where and how to serve.
    pub http: crate::http::HttpConfig,
}

/// `devices`: list the inputs.
#[derive(Debug, Clone)]
pub struct DevicesConfig {
    /// One JSON object per device instead of a table.
    pub json: bool,
}

/// `health`: ask a running monitor whether it is healthy.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    /// Its `/healthz`.
    pub url: String,
    /// How long to wait for the answer.
    pub timeout: std::time::Duration,
}

/// `bench`: measure a model on this machine.
#[derive(Debug, Clone)]
pub struct BenchCommandConfig {
    /// The model.
    pub model: ModelConfig,
    /// What to measure.
    pub bench: BenchConfig,
    /// One JSON object instead of text.
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(cry_threshold: Option<f32>, overrides: AlertOverrides) -> PipelineConfig {
        PipelineConfig {
            ring_seconds: 2.0,
            model: ModelConfig {
                path: PathBuf::from("m.onnx"),
                options: EngineOptions::default(),
                bandwidth: None,
                cry_threshold,
                hop_samples: None,
            },
            detector: DetectorConfig::default(),
            overrides,
            alerts: None,
            http: None,
            history: crate::history::HistoryConfig::default(),
            webhooks: Vec::new(),
        }
    }

    fn two_head() -> ModelMetadata {
        let mut m = ModelMetadata::new(vec!["a".into(), "b".into()], true, "h".into());
        m.alert = Some(AlertPolicy {
            threshold: 0.7,
            release: 0.35,
            debounce: 3,
            calm_windows: 4,
            smoothing: 5,
        });
        m.bandwidth_hz = Some(4000.0);
        m
    }

    #[test]
    fn a_two_head_model_runs_its_stored_policy_under_the_flags_given() {
        let config = pipeline(None, AlertOverrides::default())
            .detector_for(&two_head())
            .unwrap();
        assert_eq!(config.alert, two_head().alert);
        assert_eq!(config.bandwidth.map(|b| b.hz()), Some(4000.0));

        let overrides = AlertOverrides {
            debounce: Some(1),
            ..AlertOverrides::default()
        };
        let policy = pipeline(Some(0.9), overrides)
            .detector_for(&two_head())
            .unwrap()
            .alert
            .unwrap();
        // The release stays at the stored fraction of the threshold (0.35 / 0.7).
        assert_eq!((policy.threshold, policy.debounce), (0.9, 1));
        assert!((policy.release - 0.45).abs() < 1e-6);
        assert_eq!((policy.calm_windows, policy.smoothing), (4, 5));
    }

    #[test]
    fn the_hop_is_the_models_unless_given() {
        let mut stored = two_head();
        stored.hop_samples = 32_000;
        let config = pipeline(None, AlertOverrides::default())
            .detector_for(&stored)
            .unwrap();
        assert_eq!(config.hop_samples, 32_000);
        let mut given = pipeline(None, AlertOverrides::default());
        given.model.hop_samples = Some(8_000);
        assert_eq!(given.detector_for(&stored).unwrap().hop_samples, 8_000);
        let mut legacy = two_head();
        legacy.hop_samples = cry_core::contract::LEGACY_HOP_SAMPLES;
        assert_eq!(
            pipeline(None, AlertOverrides::default())
                .detector_for(&legacy)
                .unwrap()
                .hop_samples,
            16_000
        );
    }

    #[test]
    fn a_single_output_model_runs_in_gate_mode_and_refuses_a_cry_threshold() {
        let old = ModelMetadata::new(vec!["a".into(), "b".into()], true, "h".into());
        let config = pipeline(None, AlertOverrides::default())
            .detector_for(&old)
            .unwrap();
        assert_eq!(config.alert, None);
        assert_eq!(config.bandwidth, None);
        let err = pipeline(Some(0.5), AlertOverrides::default())
            .detector_for(&old)
            .unwrap_err();
        assert!(err.0.contains("no cry head"), "{err}");
    }
}
