//! Typed audio errors.

use std::path::PathBuf;

/// Why an audio file could not be turned into samples.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a RIFF/WAVE file at all (wrong magic, empty file, text, …); from the
    /// WAV-only readers.
    #[error("not a WAV file: {0}")]
    NotWav(String),
    /// The bytes start like none of the decoded formats (text, an image, an empty file, …).
    #[error("not an audio file: {0}")]
    NotAudio(String),
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
    /// A compressed stream ends in the middle of a packet, or before the frame count its header
    /// announces.
    #[error("truncated data: the file ends inside the stream after {read} samples")]
    TruncatedStream {
        /// Samples (over all channels) decoded before the end.
        read: u64,
    },
    /// The header is readable but inconsistent.
    #[error("malformed header: {0}")]
    Malformed(String),
    /// A compressed packet that the codec rejects.
    #[error("corrupt data at frame {frame}: {reason}")]
    Corrupt {
        /// Frames decoded before the bad packet.
        frame: u64,
        /// The codec's message.
        reason: String,
    },
    /// A valid WAV that holds no samples.
    #[error("the file holds zero samples")]
    ZeroSamples,
    /// Samples that are NaN or an infinity (a float WAV, or a codec fed hostile data).
    #[error("non-finite sample ({value}) at frame {frame}")]
    NonFinite {
        /// Frame (sample index per channel) of the first bad sample.
        frame: u64,
        /// The bad value as text (`NaN`, `inf`, `-inf`).
        value: String,
    },
    /// A float sample so far beyond full scale (more than ±1e6) that it cannot be audio, and that
    /// would overflow the mix-down or the resampler.
    #[error("sample {value} at frame {frame} is out of range (beyond ±1e6)")]
    OutOfRange {
        /// Frame (sample index per channel) of the first bad sample.
        frame: u64,
        /// The bad value.
        value: f32,
    },
    /// A sample encoding or codec this project does not decode (A-law, 64-bit float, Opus,
    /// ALAC, …), named in the message; also sample rates outside the decoded range.
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
