//! What `stream` and `listen` share once the model is loaded: the detector for it, where its
//! events go (JSON lines on stdout, the MQTT publisher, the HTTP API, the service manager's
//! watchdog), and how a run ends.

use std::io::StdoutLock;
use std::sync::Arc;

use crate::alerts::{self, Alerting, MqttAlerts, Webhook};
use crate::clips::ClipClassifier;
use crate::config::PipelineConfig;
use crate::engine::{Engine, Session};
use crate::error::Error;
use crate::history::History;
use crate::http::metrics::SinkLabels;
use crate::http::{Classify, HttpServer, LiveHub, LiveInfo, Metrics};
use crate::output::{EventSink, EventWriter};
use crate::service::{Notifier, Watched};
use crate::stream::decision::Event;
use crate::stream::detector::Summary;
use crate::stream::{Detector, Stop};

/// The event history in `--state-dir` (or `$STATE_DIRECTORY`, or memory).
pub fn history(pipeline: &PipelineConfig) -> Result<Arc<History>, Error> {
    let history = History::open(&pipeline.history)?;
    log::info!(
        "event history: {} (the next event is seq {})",
        if pipeline.history.dir.is_some() {
            history.path().display().to_string()
        } else {
            "in memory for this run (no --state-dir or STATE_DIRECTORY)".into()
        },
        history.next_seq()
    );
    Ok(Arc::new(history))
}

/// The model's detector, under the pipeline's flags, numbering its events on from the
/// history's last, and whether it runs the cry head.
pub fn detector<'e>(
    pipeline: &PipelineConfig,
    engine: &'e Engine,
    history: &History,
) -> Result<(Detector<Session<'e>>, bool), Error> {
    let config = pipeline.detector_for(engine.metadata())?;
    let cry_head = config.alert.is_some();
    let mut detector = Detector::new(engine.session()?, config)?;
    detector.number_with(history.sequence().clone());
    Ok((detector, cry_head))
}

/// The publisher, the HTTP server and the service manager's notifier of one run.
pub struct Outputs {
    history: Arc<History>,
    labels: Vec<String>,
    mqtt: Option<MqttAlerts>,
    webhooks: Vec<Webhook>,
    sink_labels: Vec<SinkLabels>,
    http: Option<(HttpServer, Arc<LiveHub>)>,
    notifier: Notifier,
}

impl Outputs {
    /// Starts the MQTT publisher when `--mqtt` was given and the HTTP server when `--http` was
    /// (`mode` is the command, for the state), then tells the service manager the run is ready,
    /// with `status`.
    pub fn start(
        pipeline: &PipelineConfig,
        engine: &Arc<Engine>,
        history: Arc<History>,
        mode: &'static str,
        status: &str,
    ) -> Result<Self, Error> {
        let labels = &engine.metadata().labels;
        let mqtt = match &pipeline.alerts {
            Some(a) => Some(MqttAlerts::start(a.settings_for(labels))?),
            None => None,
        };
        let webhooks = pipeline
            .webhooks
            .iter()
            .map(|w| Webhook::start(w.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let sink_labels = mqtt
            .iter()
            .map(|_| "mqtt".to_string())
            .chain((1..=webhooks.len()).map(|i| format!("webhook{i}")))
            .map(|sink| SinkLabels { sink })
            .collect();
        let http = match &pipeline.http {
            Some(config) => {
                let clips = ClipClassifier::new(&pipeline.model, engine)?;
                let metrics = Arc::new(Metrics::new());
                let hub = LiveHub::new(
                    LiveInfo {
                        mode,
                        model: pipeline
                            .model
                            .path
                            .file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                        labels: labels.clone(),
                        cry_threshold: clips.cry_threshold(),
                        gate_dbfs: pipeline.detector.gate_dbfs,
                    },
                    metrics.clone(),
                );
                let classify = Arc::new(Classify::new(engine.clone(), clips));
                let server = HttpServer::start(
                    config,
                    Some(hub.clone()),
                    Some(history.clone()),
                    classify,
                    metrics,
                )?;
                Some((server, hub))
            }
            None => None,
        };
        let mut notifier = Notifier::from_env();
        notifier.ready(status);
        Ok(Self {
            history,
            labels: labels.clone(),
            mqtt,
            webhooks,
            sink_labels,
            http,
            notifier,
        })
    }

    /// Where the detector's events go: stdout (with `cry_prob` for a cry-head detector), the
    /// publisher, the watchdog.
    pub fn sink(&mut self, cry_head: bool) -> Sink<'_> {
        Sink(Watched {
            inner: Alerting {
                lines: EventWriter::new(std::io::stdout().lock(), &self.labels)
                    .with_cry_head(cry_head),
                labels: &self.labels,
                history: Some(&self.history),
                mqtt: self.mqtt.as_ref(),
                http: self.http.as_ref().map(|(_, hub)| &**hub),
                webhooks: &self.webhooks,
                sink_labels: &self.sink_labels,
            },
            notifier: &mut self.notifier,
        })
    }

    /// Stops the HTTP server and the publisher, flushing what it still holds (after the sink
    /// is gone).
    pub fn finish(self) -> Result<(), Error> {
        if let Some((server, _)) = self.http {
            server.stop();
        }
        alerts::finish_webhooks(self.webhooks);
        Ok(alerts::finish(self.mqtt)?)
    }
}

/// [`Outputs::sink`]: events to stdout, MQTT and the watchdog.
pub struct Sink<'a>(Watched<'a, Alerting<'a, EventWriter<StdoutLock<'static>>>>);

impl Sink<'_> {
    /// The publisher's fatal error (a broker that refuses this configuration), if it has one.
    pub fn fatal(&self) -> Result<(), Error> {
        match self.0.inner.mqtt.and_then(MqttAlerts::fatal) {
            Some(fatal) => Err(fatal.into()),
            None => Ok(()),
        }
    }

    /// Ends the run: the summary line, then STOPPING to the service manager.
    pub fn stopped(&mut self, summary: &Summary, stop: Stop) -> Result<(), Error> {
        self.0.inner.lines.write_summary(summary, stop)?;
        self.0.notifier.stopping();
        Ok(())
    }
}

impl EventSink for Sink<'_> {
    fn write(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.write(event)
    }

    fn end_of_batch(&mut self) -> std::io::Result<()> {
        self.0.end_of_batch()
    }
}
