//! The streaming pipeline: an [`AudioSource`] is pumped into a [`Detector`], whose events an
//! [`crate::output::EventWriter`] prints.
//!
//! The microphone, a WAV file and raw PCM on stdin all arrive the same way: a producer pushes
//! interleaved samples into a lock-free SPSC ring ([`ring`]) and the [`Pump`] reads the other
//! end. For the microphone the producer is cpal's callback; for files and stdin it is a
//! [`feed`] thread, paced like a device with `--realtime` or as fast as the detector takes.
//!
//! The detector is pushed into, never pulls: [`window`] assembles model-rate windows,
//! the engine classifies those above the gate, and [`decision`] turns them into [`Event`]s.

pub mod decision;
pub mod detector;
pub mod feed;
pub mod pump;
pub mod readers;
pub mod ring;
mod source;
pub mod window;

pub use decision::{DetectorConfig, DetectorConfigError, Event, Sequence, Verdict, WindowReport};
pub use detector::{Detector, DetectorError, Summary};
pub use pump::{Pump, PumpError, Stop};
pub use source::{AudioSource, Format, Read, SourceError};
