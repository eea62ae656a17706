//! Window assembly: interleaved audio of any rate and channel count becomes mono model-rate
//! audio (downmix, then `cry-core`'s streaming resampler), of which the last window is kept and
//! handed out once per hop.

use cry_core::audio::{Bandwidth, LowPass, ResampleError, StreamResampler};
use cry_core::contract::SAMPLE_RATE_HZ;

use super::source::Format;

/// Input frames downmixed and resampled in one step; bounds what one step adds to the buffer.
pub const STEP_FRAMES: usize = 4096;

/// Why input in some format cannot be assembled into windows.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// A rate or channel count of zero.
    #[error("unusable input format: {sample_rate} Hz, {channels} channel(s)")]
    Unusable {
        /// Frames per second.
        sample_rate: u32,
        /// Channels.
        channels: u16,
    },
    /// Samples that do not make whole frames.
    #[error("{samples} samples are not whole frames of {channels} channel(s)")]
    PartialFrame {
        /// Samples given.
        samples: usize,
        /// Channels per frame.
        channels: u16,
    },
    /// The resampler to the model rate failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// The model-rate audio of one stream, kept from the start of the next window on.
pub struct WindowAssembler {
    window: usize,
    hop: usize,
    format: Format,
    resampler: StreamResampler,
    mono: Vec<f32>,
    /// Model-rate samples from absolute index `buffer_start` to `total`.
    buffer: Vec<f32>,
    buffer_start: u64,
    total: u64,
    next_end: u64,
    band: Option<LowPass>,
    filtered: Vec<f32>,
}

impl WindowAssembler {
    /// Windows of `window` model-rate samples every `hop` samples (`hop` > 0), from input in
    /// the model's own format (mono at the model rate) until [`WindowAssembler::set_format`].
    pub fn new(window: usize, hop: usize) -> Self {
        Self {
            window,
            hop: hop.max(1),
            format: Format {
                sample_rate: SAMPLE_RATE_HZ,
                channels: 1,
            },
            resampler: StreamResampler::new(SAMPLE_RATE_HZ, SAMPLE_RATE_HZ)
                .expect("equal rates pass through"),
            mono: vec![0.0; STEP_FRAMES],
            // A window, a hop, and the most one step can add after resampling from 4 kHz.
            buffer: Vec::with_capacity(window + hop + 4 * STEP_FRAMES + 8192),
            buffer_start: 0,
            total: 0,
            next_end: window as u64,
            band: None,
            filtered: Vec::with_capacity(4 * STEP_FRAMES + 8192),
        }
    }

    /// Limits the model-rate audio to `band` (when given) before windows are cut, as the host
    /// limits every clip (`--bandwidth`).
    pub fn with_bandwidth(mut self, band: Option<Bandwidth>) -> Self {
        self.band = band.and_then(|b| b.filter(SAMPLE_RATE_HZ));
        self
    }

    /// The format [`WindowAssembler::push`] expects.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Takes input in `format` from now on (buffered model-rate audio is kept).
    pub fn set_format(&mut self, format: Format) -> Result<(), FormatError> {
        if self.format == format {
            return Ok(());
        }
        if format.channels == 0 || format.sample_rate == 0 {
            return Err(FormatError::Unusable {
                sample_rate: format.sample_rate,
                channels: format.channels,
            });
        }
        self.resampler = StreamResampler::new(format.sample_rate, SAMPLE_RATE_HZ)?;
        self.format = format;
        Ok(())
    }

    /// Adds interleaved frames: up to [`STEP_FRAMES`] of them without allocating.
    pub fn push(&mut self, interleaved: &[f32]) -> Result<(), FormatError> {
        let channels = usize::from(self.format.channels);
        if interleaved.len() % channels != 0 {
            return Err(FormatError::PartialFrame {
                samples: interleaved.len(),
                channels: self.format.channels,
            });
        }
        let frames = interleaved.len() / channels;
        if frames > self.mono.len() {
            self.mono.resize(frames, 0.0);
        }
        downmix(interleaved, channels, &mut self.mono[..frames]);
        let buffer = &mut self.buffer;
        let first_new = buffer.len();
        let mut added = 0u64;
        self.resampler.process(&self.mono[..frames], |block| {
            buffer.extend_from_slice(block);
            added += block.len() as u64;
        })?;
        if let Some(band) = &mut self.band {
            band.process(&self.buffer[first_new..], &mut self.filtered);
            self.buffer[first_new..].copy_from_slice(&self.filtered);
        }
        self.total += added;
        Ok(())
    }

    /// The next complete window, if there is one: the absolute model-rate index of its end,
    /// and its samples. [`WindowAssembler::advance`] moves on to the next.
    pub fn ready(&self) -> Option<(u64, &[f32])> {
        if self.total < self.next_end {
            return None;
        }
        let start = (self.next_end - self.window as u64 - self.buffer_start) as usize;
        Some((self.next_end, &self.buffer[start..start + self.window]))
    }

    /// Moves one hop on and drops the audio no window needs any more.
    pub fn advance(&mut self) {
        self.next_end += self.hop as u64;
        let keep_from = self.next_end.saturating_sub(self.window as u64);
        let drop = keep_from.saturating_sub(self.buffer_start) as usize;
        let drop = drop.min(self.buffer.len());
        self.buffer.drain(..drop);
        self.buffer_start += drop as u64;
    }

    /// Model-rate samples received so far.
    pub fn samples(&self) -> u64 {
        self.total
    }

    /// Forgets buffered audio: the next window is a full window of new audio. Stream time keeps
    /// counting.
    pub fn reset(&mut self) {
        self.resampler.reset();
        if let Some(band) = &mut self.band {
            band.reset();
        }
        self.buffer.clear();
        self.buffer_start = self.total;
        self.next_end = self.total + self.window as u64;
    }
}

/// Averages interleaved frames to mono.
fn downmix(interleaved: &[f32], channels: usize, mono: &mut [f32]) {
    if channels == 1 {
        mono.copy_from_slice(interleaved);
        return;
    }
    let inv = 1.0 / channels as f32;
    for (m, frame) in mono.iter_mut().zip(interleaved.chunks_exact(channels)) {
        *m = frame.iter().sum::<f32>() * inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn windows_end_every_hop_after_the_first_window() {
        let mut windows = WindowAssembler::new(100, 40);
        let ramp: Vec<f32> = (0..300).map(|i| i as f32).collect();
        let mut ends = Vec::new();
        for piece in ramp.chunks(70) {
            windows.push(piece).unwrap();
            while let Some((end, samples)) = windows.ready() {
                assert_eq!(samples[0], (end - 100) as f32);
                assert_eq!(samples[99], (end - 1) as f32);
                ends.push(end);
                windows.advance();
            }
        }
        assert_eq!(ends, [100, 140, 180, 220, 260, 300]);
        assert_eq!(windows.samples(), 300);
    }

    #[test]
    fn a_bandwidth_filters_the_stream_as_the_host_filters_a_clip() {
        let input: Vec<f32> = tone(SAMPLE_RATE_HZ, 440.0, 2.0)
            .iter()
            .zip(tone(SAMPLE_RATE_HZ, 6000.0, 2.0))
            .map(|(a, b)| a + b)
            .collect();
        let band = Bandwidth::new(4000.0).unwrap();
        let offline = band.apply(&input, SAMPLE_RATE_HZ);
        for chunk in [1, 333, 4096] {
            let mut windows = WindowAssembler::new(16_000, 8_000).with_bandwidth(Some(band));
            let mut got = Vec::new();
            for piece in input.chunks(chunk) {
                windows.push(piece).unwrap();
                while let Some((end, samples)) = windows.ready() {
                    got.push((end, samples.to_vec()));
                    windows.advance();
                }
            }
            assert_eq!(got.len(), 3, "chunk {chunk}");
            for (end, samples) in got {
                let end = end as usize;
                assert_eq!(samples, offline[end - 16_000..end], "chunk {chunk}");
            }
        }
    }

    #[test]
    fn stereo_is_averaged_and_a_partial_frame_refused() {
        let mut windows = WindowAssembler::new(2, 2);
        windows
            .set_format(Format {
                sample_rate: SAMPLE_RATE_HZ,
                channels: 2,
            })
            .unwrap();
        windows.push(&[1.0, 0.0, 0.5, 0.5]).unwrap();
        assert_eq!(windows.ready().unwrap().1, [0.5, 0.5]);
        assert!(matches!(
            windows.push(&[1.0]),
            Err(FormatError::PartialFrame { .. })
        ));
        assert!(matches!(
            windows.set_format(Format {
                sample_rate: 0,
                channels: 1
            }),
            Err(FormatError::Unusable { .. })
        ));
    }

    #[test]
    fn resampled_windows_match_the_offline_resampler_in_any_chunking() {
        let input = tone(44_100, 440.0, 3.0);
        let offline = cry_core::audio::resample(&input, 44_100, SAMPLE_RATE_HZ).unwrap();
        for chunk in [1, 441, 1024, 4096] {
            let mut windows = WindowAssembler::new(16_000, 8_000);
            windows
                .set_format(Format {
                    sample_rate: 44_100,
                    channels: 1,
                })
                .unwrap();
            let mut seen = 0;
            for piece in input.chunks(chunk) {
                windows.push(piece).unwrap();
                while let Some((end, samples)) = windows.ready() {
                    let start = end as usize - samples.len();
                    let worst = samples
                        .iter()
                        .zip(&offline[start..end as usize])
                        .skip(if start == 0 { 1000 } else { 0 })
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0f32, f32::max);
                    assert!(
                        worst < 1e-3,
                        "chunk {chunk}, window to {end}: max |Δ| {worst}"
                    );
                    seen += 1;
                    windows.advance();
                }
            }
            // 3 s less the held-back partial chunk: windows end at 1, 1.5, 2 and 2.5 s.
            assert_eq!(seen, 4, "chunk {chunk}");
        }
    }
}
