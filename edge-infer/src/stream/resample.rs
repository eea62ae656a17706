//! Streaming conversion of mono audio from the device rate to the model rate.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// Input frames per resampler call: ~20 ms at 48 kHz.
const CHUNK_FRAMES: usize = 1024;

/// A band-limited resampler for a continuous stream (rubato's FFT resampler, as `cry-core`
/// uses for files), with its filter delay trimmed so output lines up with input. Buffers are
/// allocated once; [`StreamResampler::process`] does not allocate.
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
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, String> {
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
        .map_err(|e| format!("cannot resample {from_hz} Hz to {to_hz} Hz: {e}"))?;
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

    /// Feeds `input` and hands every block of output to `emit`, in order.
    pub fn process(
        &mut self,
        mut input: &[f32],
        mut emit: impl FnMut(&[f32]),
    ) -> Result<(), String> {
        let Some(inner) = self.inner.as_mut() else {
            emit(input);
            return Ok(());
        };
        while !input.is_empty() {
            let need = inner.input_frames_next();
            let take = (need - self.filled).min(input.len());
            self.pending[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled < need {
                break;
            }
            let frames_out = inner.output_frames_next();
            let source =
                InterleavedSlice::new(&self.pending[..need], 1, need).map_err(|e| e.to_string())?;
            let mut target = InterleavedSlice::new_mut(&mut self.out[..frames_out], 1, frames_out)
                .map_err(|e| e.to_string())?;
            let (_, written) = inner
                .process_into_buffer(&source, &mut target, None)
                .map_err(|e| e.to_string())?;
            self.filled = 0;
            let skipped = self.skip.min(written);
            self.skip -= skipped;
            if written > skipped {
                emit(&self.out[skipped..written]);
            }
        }
        Ok(())
    }

    /// Forgets buffered audio (after a gap in the input).
    pub fn reset(&mut self) {
        if let Some(inner) = self.inner.as_mut() {
            inner.reset();
            self.skip = inner.output_delay();
        }
        self.filled = 0;
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
    fn streamed_output_matches_the_offline_resampler_in_any_chunking() {
        let input = tone(44_100, 440.0, 2.0);
        let offline = cry_core::audio::resample(&input, 44_100, 16_000).unwrap();
        for chunk in [1, 441, 1024, 5000] {
            let mut streaming = StreamResampler::new(44_100, 16_000).unwrap();
            let mut got = Vec::new();
            for piece in input.chunks(chunk) {
                streaming
                    .process(piece, |out| got.extend_from_slice(out))
                    .unwrap();
            }
            // The stream holds back its last partial chunk; compare what it has produced,
            // away from the start where the offline resampler sees the clip's edge too.
            assert!(got.len() > 30_000, "chunk {chunk}: {}", got.len());
            let worst = got[1000..30_000]
                .iter()
                .zip(&offline[1000..30_000])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-3, "chunk {chunk}: max |Δ| {worst}");
        }
    }

    #[test]
    fn equal_rates_pass_through() {
        let mut r = StreamResampler::new(16_000, 16_000).unwrap();
        let mut got = Vec::new();
        r.process(&[0.1, 0.2], |out| got.extend_from_slice(out))
            .unwrap();
        assert_eq!(got, [0.1, 0.2]);
    }
}
