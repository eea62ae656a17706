//! Microphone capture: the device's callback only pushes into the lock-free ring
//! ([`crate::stream::ring`]); a lost device is reopened with backoff ([`reconnect`]).
//!
//! The cpal backend needs the system's ALSA library, so it is behind the cargo feature `mic`.
//! Without it the same functions exist and fail with [`CaptureError::NotBuilt`], which says how
//! to build with it.

#[cfg(feature = "mic")]
mod microphone;
pub mod reconnect;
#[cfg(not(feature = "mic"))]
mod unavailable;

#[cfg(feature = "mic")]
pub use microphone::{Capture, input_devices, open};
#[cfg(not(feature = "mic"))]
pub use unavailable::{Capture, input_devices, open};

/// The command that builds `edge-infer` with microphone support.
pub const BUILD_WITH_MIC: &str = "cargo build --release -p edge-infer --features mic";

/// True when this binary was built with microphone support (feature `mic`).
pub const AVAILABLE: bool = cfg!(feature = "mic");

/// Why capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// This binary has no microphone support.
    #[error(
        "this edge-infer was built without microphone support (cargo feature `mic`); rebuild it \
         with `{BUILD_WITH_MIC}` (needs the ALSA headers: `apt-get install libasound2-dev`), or \
         for the Raspberry Pi with `cross build --release --target aarch64-unknown-linux-gnu -p \
         edge-infer --features mic`"
    )]
    NotBuilt,
    /// No default input device.
    #[error(
        "no default audio input device (see `edge-infer devices`; on Linux check ALSA: `arecord -l`)"
    )]
    NoDefault,
    /// No device matches the requested name.
    #[error("no audio input device named `{name}`; available: {}", list(.available))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The input devices found.
        available: Vec<String>,
    },
    /// The audio backend refused.
    #[error("audio device `{device}`: {reason}")]
    Backend {
        /// The device.
        device: String,
        /// cpal's message.
        reason: String,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Fails with [`CaptureError::NotBuilt`] when this binary has no microphone support.
pub fn ensure_available() -> Result<(), CaptureError> {
    if AVAILABLE {
        Ok(())
    } else {
        Err(CaptureError::NotBuilt)
    }
}

/// An input device as listed by `devices`.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// Display name (what `--device` matches).
    pub name: String,
    /// Stable backend identifier (also accepted by `--device`).
    pub id: String,
    /// The host's default input.
    pub default: bool,
    /// Default capture configuration, e.g. `48000 Hz, 2 ch, f32`.
    pub config: String,
}
