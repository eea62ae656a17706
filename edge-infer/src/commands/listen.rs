//! `edge-infer listen`: a microphone through the streaming pipeline, reopened when it is lost.

use crate::alerts::{self, Alerting, MqttAlerts};
use crate::capture::{self, reconnect};
use crate::config::ListenConfig;
use crate::error::Error;
use crate::interrupt;
use crate::output::EventWriter;
use crate::service::{Notifier, Watched};
use crate::stream::{AudioSource, Detector, Pump, PumpError, SourceError, Stop};

const READY: &str = "listening";

/// Listens until Ctrl-C and prints events and a summary as JSON lines.
pub fn run(config: &ListenConfig) -> Result<(), Error> {
    let pipeline = &config.pipeline;
    if let Some(removed) = alerts::remove_if_asked(pipeline.alerts.as_ref()) {
        return Ok(removed?);
    }
    capture::ensure_available()?;
    let engine = pipeline.model.load()?;
    let stop = interrupt::install()?;
    let device = config.device.as_deref();
    let mut capture = capture::open(device, pipeline.ring_seconds)?;
    log::info!(
        "listening on `{}` ({} Hz, {} ch); Ctrl-C stops",
        capture.device,
        capture.source.format().sample_rate,
        capture.source.format().channels
    );
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
    let mut pump = Pump::default();
    loop {
        let pumped = pump.run(&mut capture.source, &mut detector, &mut out, stop);
        if let Some(fatal) = mqtt.as_ref().and_then(MqttAlerts::fatal) {
            return Err(fatal.into());
        }
        match pumped {
            Ok(stopped) => {
                out.inner.lines.write_summary(detector.summary(), stopped)?;
                out.notifier.stopping();
                alerts::finish(mqtt)?;
                return Ok(());
            }
            Err(PumpError::Source(SourceError::DeviceLost(reason))) => {
                log::warn!("{reason}; reopening");
                drop(capture);
                match reconnect::reopen(device, pipeline.ring_seconds, stop) {
                    Some(again) => {
                        capture = again;
                        detector.reset_audio();
                        log::info!("capturing again from `{}`", capture.device);
                    }
                    None => {
                        out.inner
                            .lines
                            .write_summary(detector.summary(), Stop::Interrupted)?;
                        out.notifier.stopping();
                        alerts::finish(mqtt)?;
                        return Ok(());
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}
