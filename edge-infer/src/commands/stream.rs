//! `edge-infer stream`: a WAV file or raw PCM on stdin through the streaming pipeline.

use crate::alerts::{self, Alerting, MqttAlerts};
use crate::config::{StreamConfig, StreamInput};
use crate::error::Error;
use crate::interrupt;
use crate::output::EventWriter;
use crate::service::{Notifier, Watched};
use crate::stream::feed::spawn_feeder;
use crate::stream::readers::{FileSource, PcmSource};
use crate::stream::{AudioSource, Detector, Pump};

const READY: &str = "streaming";

/// Streams the input to the end (or Ctrl-C) and prints events and a summary as JSON lines.
pub fn run(config: &StreamConfig) -> Result<(), Error> {
    let source: Box<dyn AudioSource + Send> = match &config.input {
        StreamInput::Stdin { format, encoding } => Box::new(PcmSource::new(
            std::io::stdin(),
            "stdin",
            *format,
            *encoding,
        )),
        StreamInput::File(path) => Box::new(FileSource::open(path)?),
    };
    let pipeline = &config.pipeline;
    if let Some(removed) = alerts::remove_if_asked(pipeline.alerts.as_ref()) {
        return Ok(removed?);
    }
    let engine = pipeline.model.load()?;
    let stop = interrupt::install()?;
    // The feeder thread is not joined: after Ctrl-C it may be blocked reading stdin, and it
    // ends with the process.
    let (mut ring, _feeder) = spawn_feeder(source, config.pace, pipeline.ring_seconds);
    let detector_config = pipeline.detector_for(engine.metadata())?;
    let cry_head = detector_config.alert.is_some();
    let mut detector = Detector::new(engine.session()?, detector_config)?;
    let labels = &engine.metadata().labels;
    let mqtt = match &pipeline.alerts {
        Some(a) => Some(MqttAlerts::start(a.settings_for(labels))?),
        None => None,
    };
    let mut notifier = Notifier::from_env();
    notifier.ready(READY);
    let mut out = Watched {
        inner: Alerting {
            lines: EventWriter::new(std::io::stdout().lock(), labels).with_cry_head(cry_head),
            mqtt: mqtt.as_ref(),
        },
        notifier: &mut notifier,
    };
    let pumped = Pump::default().run(&mut ring, &mut detector, &mut out, stop);
    if let Some(fatal) = mqtt.as_ref().and_then(MqttAlerts::fatal) {
        return Err(fatal.into());
    }
    out.inner.lines.write_summary(detector.summary(), pumped?)?;
    out.notifier.stopping();
    alerts::finish(mqtt)?;
    Ok(())
}
