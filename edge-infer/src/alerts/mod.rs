//! Alerts that leave the device: MQTT ([`mqtt`]), with Home Assistant discovery ([`topics`]),
//! to a broker named by a URL ([`target`]). The pipeline hands events to [`Alerting`], which
//! prints them and passes them to the publisher's thread without waiting on the network.

pub mod mqtt;
pub mod suspension;
pub mod target;
pub mod topics;
pub mod webhook;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub use mqtt::{DeliveryStats, MqttAlerts, MqttError, MqttSettings};
pub use suspension::{SuspensionChange, SuspensionEvent};
pub use target::{MqttTarget, PASSWORD_ENV, Secret, TargetError};
pub use topics::{AlertEvent, AlertKind, Discovery, Topics};
pub use webhook::{Webhook, WebhookError, WebhookSettings, WebhookStats};

use crate::clock::unix_now;
use crate::http::metrics::{SinkCounts, SinkLabels};
use crate::output::EventSink;
use crate::stream::decision::Event;

/// `--mqtt` and the options that go with it, validated (the labels come with the model).
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// Broker, credentials, TLS, discovery, queue.
    pub mqtt: MqttSettings,
    /// `--ha-remove`: delete the Home Assistant entities and exit.
    pub ha_remove: bool,
}

impl AlertsConfig {
    /// The publisher's settings for a model with these class names.
    pub fn settings_for(&self, labels: &[String]) -> MqttSettings {
        MqttSettings {
            labels: labels.to_vec(),
            ..self.mqtt.clone()
        }
    }
}

/// Builds the alert settings from the flags; the password from `password_file` or the
/// environment.
#[allow(clippy::too_many_arguments)]
pub fn alerts_config(
    url: &str,
    password_file: Option<&std::path::Path>,
    ca_file: Option<PathBuf>,
    client_id: Option<String>,
    queue_events: usize,
    health_seconds: u64,
    ha: Option<(String, String)>,
    ha_remove: bool,
) -> Result<AlertsConfig, TargetError> {
    let target = MqttTarget::parse(url)?;
    let password = target::read_password(&target, password_file, std::env::var(PASSWORD_ENV).ok())?;
    let discovery = ha.map(|(prefix, name)| Discovery::new(prefix, &target.prefix, name));
    let client_id =
        client_id.unwrap_or_else(|| format!("edge-infer-{}", topics::sanitize_id(&target.prefix)));
    Ok(AlertsConfig {
        mqtt: MqttSettings {
            target,
            password,
            ca_file,
            client_id,
            discovery,
            queue_events,
            health_every: Duration::from_secs(health_seconds.max(1)),
            labels: Vec::new(),
        },
        ha_remove,
    })
}

/// The JSON lines, the event history, and the MQTT publisher and the HTTP API's live state
/// when there are. A cry or calm becomes one [`AlertEvent`], written to the history before
/// anyone else sees it (so everything printed or published is in it), then handed to each.
pub struct Alerting<'a, S> {
    /// Where events are printed.
    pub lines: S,
    /// The model's class names.
    pub labels: &'a [String],
    /// The history of cry and calm events.
    pub history: Option<&'a crate::history::History>,
    /// The publisher.
    pub mqtt: Option<&'a MqttAlerts>,
    /// The HTTP API's live state.
    pub http: Option<&'a crate::http::LiveHub>,
    /// `--webhook`s.
    pub webhooks: &'a [Webhook],
    /// `/metrics`' names of the sinks: MQTT's first when there is one, then the webhooks'.
    pub sink_labels: &'a [SinkLabels],
}

impl<S> Alerting<'_, S> {
    /// Every alert sink's counts into `/metrics` (a lock per sink, no allocation).
    fn report_sinks(&self, metrics: &crate::http::Metrics) {
        let mut labels = self.sink_labels.iter();
        if let Some(mqtt) = self.mqtt
            && let Some(label) = labels.next()
        {
            metrics.sink(label, mqtt.stats().into());
        }
        for (webhook, label) in self.webhooks.iter().zip(labels) {
            metrics.sink(label, webhook.stats().into());
        }
    }
}

impl From<DeliveryStats> for SinkCounts {
    fn from(s: DeliveryStats) -> Self {
        Self {
            delivered: s.delivered,
            queued: s.queued,
            overflowed: s.overflowed,
            refused: 0,
        }
    }
}

impl From<WebhookStats> for SinkCounts {
    fn from(s: WebhookStats) -> Self {
        Self {
            delivered: s.delivered,
            queued: s.queued,
            overflowed: s.overflowed,
            refused: s.refused,
        }
    }
}

impl<S: EventSink> EventSink for Alerting<'_, S> {
    fn write(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Window(window) => {
                if let Some(hub) = self.http {
                    hub.window(window);
                    self.report_sinks(hub.metrics());
                }
                if let Some(mqtt) = self.mqtt {
                    mqtt.window(window);
                }
            }
            Event::Cry { .. } | Event::Calm { .. } => {
                let alert = AlertEvent::from_event(event, self.labels, unix_now())
                    .expect("a cry or calm is an alert");
                if let Some(history) = self.history {
                    history.append(&alert);
                }
                if let Some(hub) = self.http {
                    hub.alert(&alert);
                }
                if let Some(mqtt) = self.mqtt {
                    mqtt.alert(&alert);
                }
                // Suspending alerts silences the pushes, never MQTT or the history.
                if !self.http.is_some_and(crate::http::LiveHub::suspended) {
                    for webhook in self.webhooks {
                        webhook.alert(&alert);
                    }
                }
            }
        }
        if let Some(fatal) = self.mqtt.and_then(MqttAlerts::fatal) {
            return Err(io::Error::other(fatal));
        }
        self.lines.write(event)
    }

    /// Records the suspensions requested over HTTP (and their ends) in the history and on the
    /// live stream, numbered after the events already written. The log says each.
    fn end_of_batch(&mut self) -> io::Result<()> {
        let (Some(hub), Some(history)) = (self.http, self.history) else {
            return Ok(());
        };
        while let Some((change, unix_time, t)) = hub.next_suspension_change(unix_now()) {
            let event = SuspensionEvent {
                seq: history.sequence().take(),
                change,
                t,
                unix_time,
            };
            history.append(&event);
            hub.suspension(&event);
            match change {
                SuspensionChange::Suspended { minutes, .. } => {
                    log::info!("alerts suspended for {minutes} min (event {})", event.seq);
                }
                SuspensionChange::Resumed { expired } => log::info!(
                    "alerts resumed{} (event {})",
                    if expired {
                        ": the suspension ran out"
                    } else {
                        ""
                    },
                    event.seq
                ),
            }
        }
        self.lines.end_of_batch()
    }
}

/// Publishes the empty retained configs that delete a monitor's Home Assistant entities, and
/// waits (up to `timeout`) until the broker has them.
pub fn remove_discovery(settings: &MqttSettings, timeout: Duration) -> Result<(), RemoveError> {
    let removals = settings
        .discovery
        .as_ref()
        .map(Discovery::removals)
        .unwrap_or_default();
    mqtt::publish_once(settings, removals, timeout)
}

/// Why `--ha-remove` did not finish.
pub type RemoveError = mqtt::OnceError;

/// How long a stopping stream waits for queued alerts to reach the broker.
pub const FLUSH: Duration = Duration::from_secs(5);

/// With `--ha-remove`: removes the entities and says so (`Some`); otherwise `None`.
pub fn remove_if_asked(config: Option<&AlertsConfig>) -> Option<Result<(), RemoveError>> {
    let config = config.filter(|c| c.ha_remove)?;
    let result = remove_discovery(&config.mqtt, Duration::from_secs(10));
    if result.is_ok() {
        log::info!(
            "removed the Home Assistant entities of {} (node {})",
            config.mqtt.target,
            config
                .mqtt
                .discovery
                .as_ref()
                .map_or("", |d| d.node_id.as_str())
        );
    }
    Some(result)
}

/// Stops the publisher after the stream ended, flushing for up to [`FLUSH`], and logs the
/// delivery counts; the error when the broker rejected the configuration.
pub fn finish(alerts: Option<MqttAlerts>) -> Result<(), MqttError> {
    let Some(alerts) = alerts else {
        return Ok(());
    };
    let stats = alerts.shutdown(FLUSH)?;
    let line = format!(
        "MQTT: {} alert events delivered, {} undelivered in the queue, {} beyond the queue bound",
        stats.delivered, stats.queued, stats.overflowed
    );
    if stats.queued + stats.overflowed > 0 {
        log::warn!("{line}");
    } else {
        log::info!("{line}");
    }
    Ok(())
}

/// Stops the webhooks, flushing each for up to [`FLUSH`], and logs what each delivered.
pub fn finish_webhooks(webhooks: Vec<Webhook>) {
    for webhook in webhooks {
        let url = webhook.url().to_string();
        let s = webhook.shutdown(FLUSH);
        let line = format!(
            "webhook {url}: {} events delivered, {} refused, {} undelivered in the queue, {} beyond the queue bound",
            s.delivered, s.refused, s.queued, s.overflowed
        );
        if s.queued + s.overflowed + s.refused > 0 {
            log::warn!("{line}");
        } else {
            log::info!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{LiveHub, LiveInfo, Metrics};
    use crate::output::EventWriter;
    use crate::stream::decision::{Verdict, WindowReport};
    use std::sync::Arc;

    #[test]
    fn each_sink_s_counts_reach_the_metrics_under_its_own_name() {
        // A broker that is not there: the cry waits in MQTT's queue.
        let config = alerts_config(
            "mqtt://127.0.0.1:1/t",
            None,
            None,
            None,
            10,
            60,
            None,
            false,
        )
        .unwrap();
        let labels = vec!["hungry".to_string()];
        let mqtt = MqttAlerts::start(config.settings_for(&labels)).unwrap();
        let hook =
            webhook::settings("http://127.0.0.1:1/hook", None, 1).expect("a valid webhook URL");
        let webhooks = vec![Webhook::start(hook).unwrap()];
        let metrics = Arc::new(Metrics::new());
        let hub = LiveHub::new(
            LiveInfo {
                mode: "stream",
                model: "m.onnx".into(),
                labels: labels.clone(),
                cry_threshold: None,
                gate_dbfs: -50.0,
            },
            metrics.clone(),
        );
        let sink_labels = ["mqtt", "webhook1"].map(|s| SinkLabels { sink: s.into() });
        let mut alerting = Alerting {
            lines: EventWriter::new(Vec::new(), &labels),
            labels: &labels,
            history: None,
            mqtt: Some(&mqtt),
            http: Some(&hub),
            webhooks: &webhooks,
            sink_labels: &sink_labels,
        };
        let window = Event::Window(WindowReport {
            t: 1.0,
            rms_dbfs: -70.0,
            verdict: Verdict::Quiet,
            dropped_samples: 0,
        });
        for seq in 0..3 {
            alerting
                .write(&Event::Cry {
                    seq,
                    t: 1.0,
                    label: 0,
                    confidence: 0.9,
                    cry_prob: None,
                })
                .unwrap();
        }
        alerting.write(&window).unwrap();
        let text = metrics.encode();
        // MQTT holds all three (bound 10); the webhook's bound of one overflowed at least once.
        assert!(
            text.contains("edge_infer_alerts_queued{sink=\"mqtt\"} 3"),
            "{text}"
        );
        let overflowed: i64 = text
            .lines()
            .find_map(|l| l.strip_prefix("edge_infer_alerts_overflowed{sink=\"webhook1\"} "))
            .unwrap_or_else(|| panic!("{text}"))
            .parse()
            .unwrap();
        assert!(overflowed >= 1, "{text}");
        drop(webhooks);
    }
}
