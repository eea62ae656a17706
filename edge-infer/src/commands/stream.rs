//! `edge-infer stream`: a WAV file or raw PCM on stdin through the streaming pipeline.

use crate::config::{StreamConfig, StreamInput};
use crate::error::Error;
use crate::interrupt;
use crate::output::EventWriter;
use crate::stream::feed::spawn_feeder;
use crate::stream::readers::{FileSource, PcmSource};
use crate::stream::{AudioSource, Detector, Pump};

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
    let engine = pipeline.model.load()?;
    let stop = interrupt::install()?;
    // The feeder thread is not joined: after Ctrl-C it may be blocked reading stdin, and it
    // ends with the process.
    let (mut ring, _feeder) = spawn_feeder(source, config.pace, pipeline.ring_seconds);
    let detector_config = pipeline.detector_for(engine.metadata())?;
    let cry_head = detector_config.alert.is_some();
    let mut detector = Detector::new(engine.session()?, detector_config)?;
    let mut out = EventWriter::new(std::io::stdout().lock(), &engine.metadata().labels)
        .with_cry_head(cry_head);
    let stopped = Pump::default().run(&mut ring, &mut detector, &mut out, stop)?;
    out.write_summary(detector.summary(), stopped)?;
    Ok(())
}
