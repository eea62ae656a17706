//! Typed audio errors.

use std::path::PathBuf;

/// Why a WAV stream could not be turned into samples.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a RIFF/WAVE file at all (wrong magic, empty file, text, …).
    #[error("not a WAV file: {0}")]
    NotWav(String),
    /// The header is cut short before the sample data starts.
    #[error("truncated header: {0}")]
    TruncatedHeader(String),
    /// The data chunk promises more samples than the file holds.
    #[error("truncated data: header announces {expected} samples but the file ends after {read}")]
    TruncatedData {
        /// Samples (over all channels) the header announces.
        expected: u64,
        /// Samples actually present.
        read: u64,
    },
    /// The header is readable but inconsistent.
    #[error("malformed WAV header: {0}")]
    Malformed(String),
    /// A valid WAV that holds no samples.
    #[error("the file holds zero samples")]
    ZeroSamples,
    /// A float WAV holding NaN or an infinity.
    #[error("non-finite sample ({value}) at frame {frame}")]
    NonFinite {
        /// Frame (sample index per channel) of the first bad sample.
        frame: u64,
        /// The bad value as text (`NaN`, `inf`, `-inf`).
        value: String,
    },
    /// A sample encoding this project does not decode (compressed formats, 64-bit float, …).
    #[error("unsupported encoding: {0}")]
    UnsupportedEncoding(String),
    /// Resampling to the model rate failed.
    #[error("failed to resample from {from_hz} Hz to {to_hz} Hz: {reason}")]
    Resample {
        /// Source rate.
        from_hz: u32,
        /// Target rate.
        to_hz: u32,
        /// The resampler's message.
        reason: String,
    },
    /// The file could not be read.
    #[error("failed to read: {0}")]
    Io(#[from] std::io::Error),
}

/// A [`DecodeError`] together with the file it happened to.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct AudioError {
    /// The file that failed.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: DecodeError,
}
