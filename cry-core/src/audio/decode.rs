//! WAV decoding (hound) to `f32` at the file's own rate.

use std::io::Read;

use hound::{SampleFormat, WavReader};

use super::error::DecodeError;

/// Sample encoding (codec) of a decoded file, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Linear PCM integers of the given bit depth (8, 16, 24 or 32), in WAV.
    Pcm(u16),
    /// IEEE 754 32-bit float, in WAV.
    Float32,
    /// Vorbis (in Ogg).
    Vorbis,
    /// FLAC of the given bit depth.
    Flac(u16),
    /// MPEG-1/2 audio layer III.
    Mp3,
    /// AAC (in MP4/M4A or ADTS).
    Aac,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encoding::Pcm(bits) => write!(f, "{bits}-bit PCM"),
            Encoding::Float32 => f.write_str("32-bit float"),
            Encoding::Vorbis => f.write_str("Vorbis"),
            Encoding::Flac(bits) => write!(f, "{bits}-bit FLAC"),
            Encoding::Mp3 => f.write_str("MP3"),
            Encoding::Aac => f.write_str("AAC"),
        }
    }
}

/// A decoded file: channels averaged to mono, still at the source rate.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// Mono samples in [-1, 1] (integers are scaled by 2^(bits-1)).
    pub samples: Vec<f32>,
    /// The file's sample rate in Hz.
    pub sample_rate: u32,
    /// The file's channel count.
    pub channels: u16,
    /// The file's sample encoding.
    pub encoding: Encoding,
    /// Frames in the file, when it was longer than the limit and only the start was read.
    pub cut_from_frames: Option<u64>,
}

/// The name [`DecodedAudio`] had when only WAV was decoded.
pub type DecodedWav = DecodedAudio;

/// A WAV stream decoded incrementally: interleaved `f32` samples in [-1, 1] at the file's own
/// rate and channel count. [`decode_wav`] reads a whole file through it; the edge streams long
/// recordings through it without holding them in memory.
pub struct WavStream<R: Read> {
    wav: WavReader<R>,
    encoding: Encoding,
    /// Samples (over all channels) still to read.
    remaining: u64,
    /// Samples announced by the header.
    announced: u64,
    scale: f32,
}

impl<R: Read> WavStream<R> {
    /// Reads and checks the header.
    pub fn open(reader: R) -> Result<Self, DecodeError> {
        let wav = WavReader::new(reader).map_err(header_error)?;
        let spec = wav.spec();
        let encoding = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => Encoding::Pcm(bits),
            (SampleFormat::Float, 32) => Encoding::Float32,
            (format, bits) => {
                return Err(DecodeError::UnsupportedEncoding(format!(
                    "{bits}-bit {}",
                    match format {
                        SampleFormat::Int => "integer PCM",
                        SampleFormat::Float => "float",
                    }
                )));
            }
        };
        check_sample_rate(spec.sample_rate)?;
        let announced = u64::from(wav.len());
        if announced == 0 {
            return Err(DecodeError::ZeroSamples);
        }
        let scale = match encoding {
            Encoding::Pcm(bits) => 1.0 / (1u64 << (bits - 1)) as f32,
            _ => 1.0,
        };
        Ok(Self {
            wav,
            encoding,
            remaining: announced,
            announced,
            scale,
        })
    }

    /// The file's sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.wav.spec().sample_rate
    }

    /// The file's channel count.
    pub fn channels(&self) -> u16 {
        self.wav.spec().channels
    }

    /// The file's sample encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Frames the header announces.
    pub fn total_frames(&self) -> u64 {
        u64::from(self.wav.duration())
    }

    /// Reads up to `out.len()` interleaved samples (rounded down to whole frames; `out` must hold
    /// at least one frame); returns how many were written, 0 at the end of the data. Does not
    /// allocate.
    pub fn read_interleaved(&mut self, out: &mut [f32]) -> Result<usize, DecodeError> {
        let channels = usize::from(self.channels());
        let wanted = (out.len() / channels * channels).min(self.remaining as usize);
        let done = self.announced - self.remaining;
        let mut n = 0;
        match self.encoding {
            Encoding::Pcm(_) => {
                for sample in self.wav.samples::<i32>().take(wanted) {
                    let value = sample.map_err(|e| data_error(e, self.announced, done, n))?;
                    out[n] = value as f32 * self.scale;
                    n += 1;
                }
            }
            _ => {
                for sample in self.wav.samples::<f32>().take(wanted) {
                    let value = sample.map_err(|e| data_error(e, self.announced, done, n))?;
                    if !value.is_finite() {
                        return Err(DecodeError::NonFinite {
                            frame: (done + n as u64) / channels as u64,
                            value: value.to_string(),
                        });
                    }
                    if value.abs() > MAX_SAMPLE_MAGNITUDE {
                        return Err(DecodeError::OutOfRange {
                            frame: (done + n as u64) / channels as u64,
                            value,
                        });
                    }
                    out[n] = value;
                    n += 1;
                }
            }
        }
        if n < wanted {
            return Err(DecodeError::TruncatedData {
                expected: self.announced,
                read: done + n as u64,
            });
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Float samples beyond this magnitude are refused: a file holding them is not audio, and they
/// would overflow the mix-down and the resampler's FFT.
pub(super) const MAX_SAMPLE_MAGNITUDE: f32 = 1.0e6;

/// Decodes a WAV stream, reading at most `max_seconds` of it (the rest is left unread).
pub fn decode_wav<R: Read>(
    reader: R,
    max_seconds: Option<f32>,
) -> Result<DecodedAudio, DecodeError> {
    let mut stream = WavStream::open(reader)?;
    let total_frames = stream.total_frames();
    let limit = frame_limit(max_seconds, stream.sample_rate());
    let samples = read_mono(&mut stream, limit.min(total_frames))?;
    Ok(DecodedAudio {
        samples,
        sample_rate: stream.sample_rate(),
        channels: stream.channels(),
        encoding: stream.encoding(),
        cut_from_frames: (limit < total_frames).then_some(total_frames),
    })
}

/// Decoding stops here whatever a header claims; 768 kHz is the highest rate audio interfaces
/// record at, and rates below 1 kHz would make the resampler's FFT grow without bound.
pub const SAMPLE_RATES_HZ: std::ops::RangeInclusive<u32> = 1000..=768_000;

pub(super) fn check_sample_rate(rate: u32) -> Result<(), DecodeError> {
    if rate == 0 {
        return Err(DecodeError::Malformed("sample rate is 0 Hz".into()));
    }
    if !SAMPLE_RATES_HZ.contains(&rate) {
        return Err(DecodeError::UnsupportedEncoding(format!(
            "a sample rate of {rate} Hz (decoded: {}..={} Hz)",
            SAMPLE_RATES_HZ.start(),
            SAMPLE_RATES_HZ.end()
        )));
    }
    Ok(())
}

/// Frames in `max_seconds` at `sample_rate`; no limit when `None`.
pub(super) fn frame_limit(max_seconds: Option<f32>, sample_rate: u32) -> u64 {
    max_seconds.map_or(u64::MAX, |seconds| {
        (f64::from(seconds) * f64::from(sample_rate)).ceil() as u64
    })
}

/// Something [`read_mono`] can pull interleaved frames from.
pub(super) trait Interleaved {
    fn channel_count(&self) -> usize;
    fn read_into(&mut self, out: &mut [f32]) -> Result<usize, DecodeError>;
}

impl<R: Read> Interleaved for WavStream<R> {
    fn channel_count(&self) -> usize {
        usize::from(self.channels())
    }

    fn read_into(&mut self, out: &mut [f32]) -> Result<usize, DecodeError> {
        self.read_interleaved(out)
    }
}

/// Samples read per step: the output grows with the data actually present, never with what a
/// header announces.
const CHUNK_SAMPLES: usize = 16 * 1024;

/// Reads up to `max_frames` frames and averages each frame's channels.
pub(super) fn read_mono(
    stream: &mut impl Interleaved,
    max_frames: u64,
) -> Result<Vec<f32>, DecodeError> {
    let channels = stream.channel_count();
    let mut chunk = vec![0.0; CHUNK_SAMPLES.max(channels) / channels * channels];
    let mut samples = Vec::new();
    let mut frames = 0u64;
    let inv = 1.0 / channels as f32;
    while frames < max_frames {
        let want = (max_frames - frames).min((chunk.len() / channels) as u64) as usize * channels;
        let n = stream.read_into(&mut chunk[..want])?;
        if n == 0 {
            break;
        }
        if channels == 1 {
            samples.extend_from_slice(&chunk[..n]);
        } else {
            samples.extend(
                chunk[..n]
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() * inv),
            );
        }
        frames += (n / channels) as u64;
    }
    Ok(samples)
}

fn header_error(err: hound::Error) -> DecodeError {
    match err {
        hound::Error::FormatError(msg @ ("no RIFF tag found" | "no WAVE tag found")) => {
            DecodeError::NotWav(msg.into())
        }
        hound::Error::FormatError("bits per sample is not 32") => {
            DecodeError::UnsupportedEncoding("float samples that are not 32-bit".into())
        }
        hound::Error::FormatError(msg) => DecodeError::Malformed(msg.into()),
        hound::Error::IoError(io) if is_short_read(&io) => {
            DecodeError::TruncatedHeader("the file ends before the sample data starts".into())
        }
        hound::Error::IoError(io) => DecodeError::Io(io),
        hound::Error::Unsupported => DecodeError::UnsupportedEncoding(
            "compressed or unknown format tag (only PCM and IEEE float are decoded)".into(),
        ),
        other => DecodeError::Malformed(other.to_string()),
    }
}

fn data_error(err: hound::Error, expected: u64, done: u64, read: usize) -> DecodeError {
    match err {
        hound::Error::IoError(io) if is_short_read(&io) => DecodeError::TruncatedData {
            expected,
            read: done + read as u64,
        },
        hound::Error::IoError(io) => DecodeError::Io(io),
        other => DecodeError::Malformed(other.to_string()),
    }
}

/// hound reports a short read either as `UnexpectedEof` or as its own "Failed to read enough
/// bytes." error.
fn is_short_read(io: &std::io::Error) -> bool {
    io.kind() == std::io::ErrorKind::UnexpectedEof
        || io.to_string().contains("Failed to read enough bytes")
}
