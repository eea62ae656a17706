//! `edge-infer stream`: a WAV file or raw PCM on stdin through the streaming pipeline.

use std::sync::Arc;

use crate::alerts;
use crate::config::{StreamConfig, StreamInput};
use crate::error::Error;
use crate::interrupt;
use crate::pipeline::{self, Outputs};
use crate::stream::feed::spawn_feeder;
use crate::stream::readers::{FileSource, LoopedFile, PcmSource};
use crate::stream::{AudioSource, Pump};

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
        StreamInput::File {
            path,
            looped: false,
        } => Box::new(FileSource::open(path)?),
        StreamInput::File { path, looped: true } => Box::new(LoopedFile::open(path)?),
    };
    let pipeline = &config.pipeline;
    if let Some(removed) = alerts::remove_if_asked(pipeline.alerts.as_ref()) {
        return Ok(removed?);
    }
    let engine = Arc::new(pipeline.model.load()?);
    let stop = interrupt::install()?;
    // The feeder thread is not joined: after Ctrl-C it may be blocked reading stdin, and it
    // ends with the process.
    let (mut ring, _feeder) = spawn_feeder(source, config.pace, pipeline.ring_seconds);
    let history = pipeline::history(pipeline)?;
    let (mut detector, cry_head) = pipeline::detector(pipeline, &engine, &history)?;
    let mut outputs = Outputs::start(pipeline, &engine, history, "stream", READY)?;
    let mut out = outputs.sink(cry_head);
    let pumped = Pump::default().run(&mut ring, &mut detector, &mut out, stop);
    out.fatal()?;
    out.stopped(detector.summary(), pumped?)?;
    drop(out);
    outputs.finish()
}
