//! The streaming pipeline: an [`AudioSource`] feeds a [`Detector`].
//!
//! The microphone, a WAV file and raw PCM on stdin all arrive the same way: a producer pushes
//! interleaved samples into a lock-free SPSC ring ([`ring`]) and the detector reads the other
//! end. For the microphone the producer is cpal's callback; for files and stdin it is a
//! [`feed`] thread, paced like a device with `--realtime` or as fast as the detector takes.

pub mod detector;
pub mod feed;
pub mod json;
pub mod readers;
pub mod resample;
pub mod ring;
mod source;

pub use detector::{Detector, DetectorConfig, Summary};
pub use source::{AudioSource, Format, Read, SourceError};
