//! Band-limited sample-rate conversion: one streaming resampler, used for whole clips and for
//! live streams alike.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::error::DecodeError;

/// Input frames per FFT chunk: long enough for a sharp anti-aliasing filter, short enough to stay
/// cheap (~20 ms at 48 kHz).
pub const CHUNK_FRAMES: usize = 1024;

/// Why a resampler could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// rubato refused the pair of rates.
    #[error("cannot resample {from_hz} Hz to {to_hz} Hz")]
    Rates {
        /// Source rate.
        from_hz: u32,
        /// Target rate.
        to_hz: u32,
        /// rubato's error.
        #[source]
        source: rubato::ResamplerConstructionError,
    },
    /// rubato failed on a chunk.
    #[error("resampling failed")]
    Process(#[from] rubato::ResampleError),
    /// The chunk buffers did not fit rubato's adapters (a bug in this module).
    #[error("resampler buffer mismatch")]
    Buffer(#[from] rubato::audioadapter_buffers::SizeError),
}

/// A band-limited mono resampler for a continuous stream (rubato's FFT resampler), with its
/// filter delay trimmed so that output sample `i` lines up with input time `i / to_hz`.
///
/// Input is collected into chunks of [`CHUNK_FRAMES`]; each full chunk is converted and handed
/// on. Buffers are allocated once: [`StreamResampler::process`] does not allocate.
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    filled: usize,
    out: Vec<f32>,
    /// Output samples still to discard (the filter delay).
    skip: usize,
}

impl StreamResampler {
    /// A resampler from `from_hz` to `to_hz` (a pass-through when they are equal).
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, ResampleError> {
        if from_hz == to_hz {
            return Ok(Self {
                inner: None,
                pending: Vec::new(),
                filled: 0,
                out: Vec::new(),
                skip: 0,
            });
        }
        let inner = Fft::<f32>::new(
            from_hz as usize,
            to_hz as usize,
            CHUNK_FRAMES,
            1,
            FixedSync::Input,
        )
        .map_err(|source| ResampleError::Rates {
            from_hz,
            to_hz,
            source,
        })?;
        let pending = vec![0.0; inner.input_frames_max()];
        let out = vec![0.0; inner.output_frames_max()];
        let skip = inner.output_delay();
        Ok(Self {
            inner: Some(inner),
            pending,
            filled: 0,
            out,
            skip,
        })
    }

    /// Feeds `input` and hands every block of output to `emit`, in order. A partial chunk is
    /// kept for the next call.
    pub fn process(
        &mut self,
        mut input: &[f32],
        mut emit: impl FnMut(&[f32]),
    ) -> Result<(), ResampleError> {
        let Some(inner) = self.inner.as_ref() else {
            emit(input);
            return Ok(());
        };
        let need = inner.input_frames_next();
        while !input.is_empty() {
            let take = (need - self.filled).min(input.len());
            self.pending[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled < need {
                break;
            }
            self.convert_pending(&mut emit)?;
        }
        Ok(())
    }

    /// Ends a clip: converts the held-back partial chunk, padded with silence as rubato pads
    /// its last chunk, then silence until `wanted` samples have come out in all (`produced`
    /// already had). The last block may run past `wanted`; [`resample`] cuts it.
    fn finish(
        &mut self,
        mut produced: usize,
        wanted: usize,
        mut emit: impl FnMut(&[f32]),
    ) -> Result<(), ResampleError> {
        let Some(inner) = self.inner.as_ref() else {
            return Ok(());
        };
        let need = inner.input_frames_next();
        while self.filled > 0 || produced < wanted {
            self.pending[self.filled..need].fill(0.0);
            self.filled = need;
            self.convert_pending(&mut |block: &[f32]| {
                produced += block.len();
                emit(block);
            })?;
        }
        Ok(())
    }

    fn convert_pending(&mut self, emit: &mut impl FnMut(&[f32])) -> Result<(), ResampleError> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let need = self.filled;
        let frames_out = inner.output_frames_next();
        let source = InterleavedSlice::new(&self.pending[..need], 1, need)?;
        let mut target = InterleavedSlice::new_mut(&mut self.out[..frames_out], 1, frames_out)?;
        let (_, written) = inner.process_into_buffer(&source, &mut target, None)?;
        self.filled = 0;
        let skipped = self.skip.min(written);
        self.skip -= skipped;
        if written > skipped {
            emit(&self.out[skipped..written]);
        }
        Ok(())
    }

    /// Forgets buffered audio and the filter's state (after a gap in the input).
    pub fn reset(&mut self) {
        if let Some(inner) = self.inner.as_mut() {
            inner.reset();
            self.skip = inner.output_delay();
        }
        self.filled = 0;
    }
}

/// Converts mono `samples` from `from_hz` to `to_hz` with the band-limited [`StreamResampler`].
///
/// The output has `ceil(len * to_hz / from_hz)` samples, aligned with the input (the filter delay
/// is removed). Content above the lower of the two Nyquist frequencies is filtered out, not
/// aliased; the pass band reaches about 0.9 of the output Nyquist frequency.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, DecodeError> {
    if from_hz == to_hz {
        return Ok(samples.to_vec());
    }
    let fail = |e: ResampleError| DecodeError::Resample {
        from_hz,
        to_hz,
        reason: error_chain(&e),
    };
    let wanted = (f64::from(to_hz) / f64::from(from_hz) * samples.len() as f64).ceil() as usize;
    let mut resampler = StreamResampler::new(from_hz, to_hz).map_err(fail)?;
    let mut output = Vec::with_capacity(wanted + resampler.out.len());
    resampler
        .process(samples, |block| output.extend_from_slice(block))
        .map_err(fail)?;
    let produced = output.len();
    resampler
        .finish(produced, wanted, |block| output.extend_from_slice(block))
        .map_err(fail)?;
    output.truncate(wanted);
    Ok(output)
}

/// `error: cause: cause…`, for the one place where a typed error must become text.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rubato's own whole-clip conversion, as `resample` did it before it went through the
    /// streaming resampler.
    fn rubato_process_all(samples: &[f32], from_hz: u32, to_hz: u32) -> Vec<f32> {
        let mut resampler = Fft::<f32>::new(
            from_hz as usize,
            to_hz as usize,
            CHUNK_FRAMES,
            1,
            FixedSync::Input,
        )
        .unwrap();
        let input = InterleavedSlice::new(samples, 1, samples.len()).unwrap();
        resampler
            .process_all(&input, samples.len(), None)
            .unwrap()
            .take_data()
    }

    fn signal(rate: u32, frames: usize, seed: u64) -> Vec<f32> {
        let mut state = seed | 1;
        (0..frames)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                let t = i as f32 / rate as f32;
                0.4 * (std::f32::consts::TAU * 440.0 * t).sin() + 0.2 * noise
            })
            .collect()
    }

    #[test]
    fn whole_clips_are_bit_identical_to_rubatos_process_all() {
        for (from_hz, frames) in [
            (8_000, 0),
            (8_000, 1),
            (8_000, 1023),
            (8_000, 1024),
            (8_000, 1025),
            (8_000, 54_880),
            (44_100, 500),
            (44_100, 2048),
            (44_100, 88_200),
            (48_000, 3000),
            (48_000, 96_001),
            (22_050, 30_000),
        ] {
            let input = signal(from_hz, frames, frames as u64 + 7);
            let ours = resample(&input, from_hz, 16_000).unwrap();
            let theirs = rubato_process_all(&input, from_hz, 16_000);
            assert_eq!(ours.len(), theirs.len(), "{from_hz} Hz, {frames} frames");
            assert!(
                ours.iter()
                    .zip(&theirs)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{from_hz} Hz, {frames} frames differ"
            );
        }
    }

    #[test]
    fn streamed_output_matches_the_whole_clip_in_any_chunking() {
        let input = signal(44_100, 88_200, 3);
        let offline = resample(&input, 44_100, 16_000).unwrap();
        for chunk in [1, 441, 1024, 5000] {
            let mut streaming = StreamResampler::new(44_100, 16_000).unwrap();
            let mut got = Vec::new();
            for piece in input.chunks(chunk) {
                streaming
                    .process(piece, |out| got.extend_from_slice(out))
                    .unwrap();
            }
            // The stream holds back its last partial chunk; what it produced is the clip's.
            assert!(got.len() > 30_000, "chunk {chunk}: {}", got.len());
            assert_eq!(got[..], offline[..got.len()], "chunk {chunk}");
        }
    }

    #[test]
    fn equal_rates_pass_through() {
        let mut r = StreamResampler::new(16_000, 16_000).unwrap();
        let mut got = Vec::new();
        r.process(&[0.1, 0.2], |out| got.extend_from_slice(out))
            .unwrap();
        assert_eq!(got, [0.1, 0.2]);
        assert_eq!(resample(&[0.1, 0.2], 16_000, 16_000).unwrap(), [0.1, 0.2]);
    }

    #[test]
    fn reset_starts_a_new_stream() {
        let input = signal(8_000, 8_000, 5);
        let mut once = Vec::new();
        let mut r = StreamResampler::new(8_000, 16_000).unwrap();
        r.process(&input, |out| once.extend_from_slice(out))
            .unwrap();
        r.reset();
        let mut again = Vec::new();
        r.process(&input, |out| again.extend_from_slice(out))
            .unwrap();
        assert_eq!(once, again);
    }
}
