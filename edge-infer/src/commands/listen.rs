//! `edge-infer listen`: a microphone through the streaming pipeline, reopened when it is lost.

use crate::capture::{self, reconnect};
use crate::config::ListenConfig;
use crate::error::Error;
use crate::interrupt;
use crate::output::EventWriter;
use crate::stream::{AudioSource, Detector, Pump, PumpError, SourceError, Stop};

/// Listens until Ctrl-C and prints events and a summary as JSON lines.
pub fn run(config: &ListenConfig) -> Result<(), Error> {
    capture::ensure_available()?;
    let pipeline = &config.pipeline;
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
    let mut out = EventWriter::new(std::io::stdout().lock(), &engine.metadata().labels)
        .with_cry_head(cry_head);
    let mut pump = Pump::default();
    loop {
        match pump.run(&mut capture.source, &mut detector, &mut out, stop) {
            Ok(stopped) => {
                out.write_summary(detector.summary(), stopped)?;
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
                        out.write_summary(detector.summary(), Stop::Interrupted)?;
                        return Ok(());
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}
