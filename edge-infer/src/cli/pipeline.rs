//! What `stream` and `listen` share: the ring, the model, the detector and every output.

use clap::Args;

use super::alerts::{AlertArgs, WebhookArgs};
use super::config_file::ConfigArg;
use super::detector::DetectorArgs;
use super::history::HistoryArgs;
use super::http::HttpArgs;
use super::model::ModelArgs;
use crate::config::PipelineConfig;
use crate::error::UsageError;
use crate::stream::DetectorConfig;

/// What `stream` and `listen` share: the capture ring, the model, the detector and the alerts.
#[derive(Debug, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub config: ConfigArg,
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
    pub(super) fn into_config(self) -> Result<PipelineConfig, UsageError> {
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
