//! Audio ingest: WAV (PCM or float), Ogg Vorbis, FLAC, MP3 or MP4/M4A AAC in, picked by
//! content; mono `f32` at the model rate out.

mod codec;
mod decode;
mod error;
mod format;
mod lowpass;
mod resample;
mod stream;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

pub use decode::{DecodedAudio, DecodedWav, Encoding, SAMPLE_RATES_HZ, WavStream, decode_wav};
pub use error::{AudioError, DecodeError};
pub use format::{AudioFormat, SNIFF_LEN, describe_head, sniff};
pub use lowpass::{Bandwidth, BandwidthError, LOWPASS_TAPS, LowPass};
pub use resample::{CHUNK_FRAMES, ResampleError, StreamResampler, resample};
pub use stream::{AudioStream, decode_audio, sniff_file};

use crate::contract::{DEFAULT_MAX_CLIP_SECONDS, SAMPLE_RATE_HZ};

/// How clips are loaded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadOptions {
    /// Clips longer than this many seconds are cut to it (with a warning); `None` keeps all.
    pub max_seconds: Option<f32>,
    /// Rate the samples are converted to.
    pub target_rate: u32,
    /// Every clip is limited to this band after resampling (`--bandwidth`), in training,
    /// evaluation and on the edge alike.
    pub bandwidth: Option<Bandwidth>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_seconds: Some(DEFAULT_MAX_CLIP_SECONDS),
            target_rate: SAMPLE_RATE_HZ,
            bandwidth: None,
        }
    }
}

/// What a clip was before conversion, for reports.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceInfo {
    /// Sample rate of the file in Hz.
    pub sample_rate: u32,
    /// Channel count of the file.
    pub channels: u16,
    /// Sample encoding of the file.
    pub encoding: Encoding,
    /// Frames in the file (before any cut).
    pub frames: u64,
}

/// A clip ready for a model: mono, at [`LoadOptions::target_rate`].
#[derive(Debug, Clone)]
pub struct Clip {
    /// Mono samples at `sample_rate`.
    pub samples: Vec<f32>,
    /// Rate of `samples` in Hz.
    pub sample_rate: u32,
    /// The file as it was.
    pub source: SourceInfo,
    /// True when the clip was longer than [`LoadOptions::max_seconds`] and was cut.
    pub cut: bool,
}

/// Reads and decodes a WAV file to mono at its own rate, cut to `options.max_seconds`.
///
/// WAV only (anything else is [`DecodeError::NotWav`]); [`read_audio`] reads every format. A cut
/// is logged as a warning. The target rate in `options` is not applied here.
pub fn read_wav(path: &Path, options: &LoadOptions) -> Result<DecodedAudio, AudioError> {
    let with_path = |kind| AudioError {
        path: path.to_path_buf(),
        kind,
    };
    let file = File::open(path).map_err(|e| with_path(DecodeError::Io(e)))?;
    let len = file
        .metadata()
        .map_err(|e| with_path(DecodeError::Io(e)))?
        .len();
    if len == 0 {
        return Err(with_path(DecodeError::NotWav("the file is empty".into())));
    }
    let decoded = decode_wav(BufReader::new(file), options.max_seconds).map_err(with_path)?;
    warn_if_cut(path, &decoded, options);
    Ok(decoded)
}

/// Reads and decodes any supported file (the format is picked from its first bytes, not its
/// name) to mono at its own rate, cut to `options.max_seconds`.
///
/// A cut is logged as a warning. The target rate in `options` is not applied here.
pub fn read_audio(path: &Path, options: &LoadOptions) -> Result<DecodedAudio, AudioError> {
    let stream = AudioStream::open_file(path)?;
    let decoded = decode_audio(stream, options.max_seconds).map_err(|kind| AudioError {
        path: path.to_path_buf(),
        kind,
    })?;
    warn_if_cut(path, &decoded, options);
    Ok(decoded)
}

fn warn_if_cut(path: &Path, decoded: &DecodedAudio, options: &LoadOptions) {
    if let Some(frames) = decoded.cut_from_frames {
        log::warn!(
            "{}: {:.1} s long, cut to the first {:.1} s",
            path.display(),
            frames as f64 / f64::from(decoded.sample_rate),
            options.max_seconds.unwrap_or_default()
        );
    }
}

/// Loads any supported file as a model-ready [`Clip`]: decoded, mixed to mono, cut to the
/// length limit, resampled (band-limited) to the target rate, and limited to
/// [`LoadOptions::bandwidth`] when one is set.
pub fn load_clip(path: &Path, options: &LoadOptions) -> Result<Clip, AudioError> {
    let decoded = read_audio(path, options)?;
    model_ready(decoded, options).map_err(|kind| AudioError {
        path: path.to_path_buf(),
        kind,
    })
}

/// Loads a file held in memory (an upload) as a model-ready [`Clip`], exactly as [`load_clip`]
/// loads one from disk; errors say what is wrong with the bytes.
pub fn load_clip_from_bytes(bytes: Vec<u8>, options: &LoadOptions) -> Result<Clip, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::NotAudio("no bytes".into()));
    }
    let stream = AudioStream::open(std::io::Cursor::new(bytes))?;
    let decoded = decode_audio(stream, options.max_seconds)?;
    if let Some(frames) = decoded.cut_from_frames {
        log::warn!(
            "an upload of {:.1} s, cut to the first {:.1} s",
            frames as f64 / f64::from(decoded.sample_rate),
            options.max_seconds.unwrap_or_default()
        );
    }
    model_ready(decoded, options)
}

fn model_ready(decoded: DecodedAudio, options: &LoadOptions) -> Result<Clip, DecodeError> {
    let mut clip = clip_from_decoded(decoded, options.target_rate)?;
    if let Some(band) = options.bandwidth {
        clip.samples = band.apply(&clip.samples, clip.sample_rate);
    }
    Ok(clip)
}

/// Resamples a decoded file to `target_rate`.
pub fn clip_from_decoded(decoded: DecodedAudio, target_rate: u32) -> Result<Clip, DecodeError> {
    let source = SourceInfo {
        sample_rate: decoded.sample_rate,
        channels: decoded.channels,
        encoding: decoded.encoding,
        frames: decoded
            .cut_from_frames
            .unwrap_or(decoded.samples.len() as u64),
    };
    let samples = resample(&decoded.samples, decoded.sample_rate, target_rate)?;
    Ok(Clip {
        samples,
        sample_rate: target_rate,
        source,
        cut: decoded.cut_from_frames.is_some(),
    })
}

#[cfg(test)]
mod tests;
