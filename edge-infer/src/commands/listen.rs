//! `edge-infer listen`: a microphone through the streaming pipeline, reopened when it is lost.

use std::sync::Arc;

use crate::alerts;
use crate::capture::{self, reconnect};
use crate::config::ListenConfig;
use crate::error::Error;
use crate::interrupt;
use crate::pipeline::{self, Outputs};
use crate::stream::{AudioSource, Pump, PumpError, SourceError, Stop};

const READY: &str = "listening";

/// Listens until Ctrl-C and prints events and a summary as JSON lines.
pub fn run(config: &ListenConfig) -> Result<(), Error> {
    let pipeline = &config.pipeline;
    if let Some(removed) = alerts::remove_if_asked(pipeline.alerts.as_ref()) {
        return Ok(removed?);
    }
    capture::ensure_available()?;
    let engine = Arc::new(pipeline.model.load()?);
    let stop = interrupt::install()?;
    let device = config.device.as_deref();
    let mut capture = capture::open(device, pipeline.ring_seconds)?;
    log::info!(
        "listening on `{}` ({} Hz, {} ch); Ctrl-C stops",
        capture.device,
        capture.source.format().sample_rate,
        capture.source.format().channels
    );
    let history = pipeline::history(pipeline)?;
    let (mut detector, cry_head) = pipeline::detector(pipeline, &engine, &history)?;
    let mut outputs = Outputs::start(pipeline, &engine, history, "listen", READY)?;
    let mut out = outputs.sink(cry_head);
    let mut pump = Pump::default();
    let stopped = loop {
        let pumped = pump.run(&mut capture.source, &mut detector, &mut out, stop);
        out.fatal()?;
        match pumped {
            Ok(stopped) => break stopped,
            Err(PumpError::Source(SourceError::DeviceLost(reason))) => {
                log::warn!("{reason}; reopening");
                drop(capture);
                match reconnect::reopen(device, pipeline.ring_seconds, stop) {
                    Some(again) => {
                        capture = again;
                        detector.reset_audio();
                        log::info!("capturing again from `{}`", capture.device);
                    }
                    None => break Stop::Interrupted,
                }
            }
            Err(e) => return Err(e.into()),
        }
    };
    out.stopped(detector.summary(), stopped)?;
    drop(out);
    outputs.finish()
}
