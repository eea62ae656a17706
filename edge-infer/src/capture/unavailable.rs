//! Capture in a build without the `mic` feature: every call says how to get it.

use super::{CaptureError, DeviceInfo};
use crate::stream::ring::RingSource;

/// A running capture stream (never made in this build).
pub struct Capture {
    /// Where the samples arrive.
    pub source: RingSource,
    /// The device's name.
    pub device: String,
}

/// Fails: this build has no microphone support.
pub fn input_devices() -> Result<Vec<DeviceInfo>, CaptureError> {
    Err(CaptureError::NotBuilt)
}

/// Fails: this build has no microphone support.
pub fn open(_name: Option<&str>, _ring_seconds: f32) -> Result<Capture, CaptureError> {
    Err(CaptureError::NotBuilt)
}
