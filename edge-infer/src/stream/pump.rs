//! The read loop on the caller's side: reads an [`AudioSource`], pushes into a [`Detector`] and
//! writes its events, until the source ends or a stop is requested.

use std::sync::atomic::{AtomicBool, Ordering};

use super::decision::Event;
use super::detector::{Detector, DetectorError};
use super::source::{AudioSource, Read, SourceError};
use crate::engine::Classifier;
use crate::output::EventSink;

/// Interleaved samples read from the source per call.
const READ_SAMPLES: usize = 4096;

/// Why [`Pump::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The source ended.
    EndOfInput,
    /// The stop flag was raised (SIGINT).
    Interrupted,
}

/// Why [`Pump::run`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    /// The audio input failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The detector failed (format, model).
    #[error(transparent)]
    Detector(#[from] DetectorError),
    /// Writing the events failed (e.g. a closed pipe).
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
}

/// The buffers of the read loop, allocated once and reused across runs (a device reopened
/// after it was lost runs the same pump again).
pub struct Pump {
    read: Vec<f32>,
    events: Vec<Event>,
}

impl Default for Pump {
    fn default() -> Self {
        Self {
            read: vec![0.0; READ_SAMPLES],
            events: Vec::with_capacity(64),
        }
    }
}

impl Pump {
    /// Reads `source` until it ends or `stop` is raised, pushing into `detector` and writing its
    /// events to `out`.
    pub fn run<C: Classifier>(
        &mut self,
        source: &mut dyn AudioSource,
        detector: &mut Detector<C>,
        out: &mut impl EventSink,
        stop: &AtomicBool,
    ) -> Result<Stop, PumpError> {
        detector.set_format(source.format())?;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(Stop::Interrupted);
            }
            let n = match source.read(&mut self.read)? {
                Read::Samples(n) => n,
                Read::Pending => {
                    out.end_of_batch().map_err(PumpError::Output)?;
                    continue;
                }
                Read::End => return Ok(Stop::EndOfInput),
            };
            detector.set_dropped_samples(source.dropped_samples());
            self.events.clear();
            // Events before a failing window are still written.
            let pushed = detector.push(&self.read[..n], &mut self.events);
            for event in &self.events {
                out.write(event).map_err(PumpError::Output)?;
            }
            out.end_of_batch().map_err(PumpError::Output)?;
            pushed?;
        }
    }
}
