//! Synthetic audio and WAV writing, for tests, demos and learnability checks.

use std::f64::consts::PI;
use std::path::Path;

use hound::{SampleFormat, WavSpec, WavWriter};

/// Sample encoding for [`write_wav`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// Integer PCM with the given bit depth (8, 16, 24 or 32).
    Pcm(u16),
    /// 32-bit IEEE float.
    Float32,
}

/// Writes interleaved `samples` in [-1, 1] as a WAV file.
pub fn write_wav(
    path: &Path,
    samples: &[f32],
    sample_rate: u32,
    channels: u16,
    format: WavFormat,
) -> Result<(), hound::Error> {
    let (bits, sample_format) = match format {
        WavFormat::Pcm(bits) => (bits, SampleFormat::Int),
        WavFormat::Float32 => (32, SampleFormat::Float),
    };
    let spec = WavSpec {
        channels,
        sample_rate,
        bits_per_sample: bits,
        sample_format,
    };
    let mut writer = WavWriter::create(path, spec)?;
    for &s in samples {
        match format {
            WavFormat::Pcm(bits) => {
                let full = ((1i64 << (bits - 1)) - 1) as f64;
                writer.write_sample((f64::from(s.clamp(-1.0, 1.0)) * full).round() as i32)?;
            }
            WavFormat::Float32 => writer.write_sample(s)?,
        }
    }
    writer.finalize()
}

/// A sine tone of `freq` Hz.
pub fn tone(freq: f64, sample_rate: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
    let n = (seconds * f64::from(sample_rate)).round() as usize;
    (0..n)
        .map(|i| (amplitude * (2.0 * PI * freq * i as f64 / f64::from(sample_rate)).sin()) as f32)
        .collect()
}
