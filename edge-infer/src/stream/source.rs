//! The one interface every audio input implements.

/// Rate and channel layout of a source's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
}

/// What one [`AudioSource::read`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// This many interleaved samples (whole frames) were written.
    Samples(usize),
    /// Nothing yet; the source waited briefly. Call again (after checking for a stop request).
    Pending,
    /// The input has ended.
    End,
}

/// Why a source failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file or stream could not be decoded.
    #[error("{origin}: {problem}")]
    Decode {
        /// The file, `stdin` or the device.
        origin: String,
        /// What was wrong.
        problem: cry_core::DecodeError,
    },
    /// The bytes do not match the format the user declared.
    #[error("{origin}: {problem}")]
    Format {
        /// `stdin` or the file.
        origin: String,
        /// What does not match.
        problem: String,
    },
    /// The capture device went away.
    #[error("audio device lost: {0}")]
    DeviceLost(String),
    /// Reading failed.
    #[error("{origin}: {error}")]
    Io {
        /// The file or `stdin`.
        origin: String,
        /// The I/O error.
        error: std::io::Error,
    },
}

/// A source of interleaved `f32` samples in [-1, 1]: a microphone, a file, stdin, a generator.
pub trait AudioSource {
    /// The format of the samples [`AudioSource::read`] returns.
    fn format(&self) -> Format;

    /// Fills the start of `out` with whole frames. Blocks at most briefly.
    fn read(&mut self, out: &mut [f32]) -> Result<Read, SourceError>;

    /// Samples lost before they reached the reader (a full ring), in total so far.
    fn dropped_samples(&self) -> u64 {
        0
    }
}

impl<S: AudioSource + ?Sized> AudioSource for Box<S> {
    fn format(&self) -> Format {
        (**self).format()
    }

    fn read(&mut self, out: &mut [f32]) -> Result<Read, SourceError> {
        (**self).read(out)
    }

    fn dropped_samples(&self) -> u64 {
        (**self).dropped_samples()
    }
}
