//! Where events go besides stdout and the HTTP API: MQTT (with Home Assistant discovery) and
//! webhooks.

use std::path::PathBuf;

use clap::Args;

use crate::error::UsageError;

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
    pub(super) fn into_config(self) -> Result<Option<crate::alerts::AlertsConfig>, UsageError> {
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
    pub(super) fn into_config(self) -> Result<Vec<crate::alerts::WebhookSettings>, UsageError> {
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
