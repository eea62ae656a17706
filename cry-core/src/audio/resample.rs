//! Band-limited sample-rate conversion.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::error::DecodeError;

/// Frames per FFT chunk: long enough for a sharp anti-aliasing filter, short enough to stay cheap.
const CHUNK_FRAMES: usize = 1024;

/// Converts mono `samples` from `from_hz` to `to_hz` with an FFT-based band-limited resampler.
///
/// The output has `ceil(len * to_hz / from_hz)` samples, aligned with the input (the filter delay
/// is removed). Content above the lower of the two Nyquist frequencies is filtered out, not
/// aliased; the pass band reaches about 0.9 of the output Nyquist frequency.
pub fn resample(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, DecodeError> {
    if from_hz == to_hz {
        return Ok(samples.to_vec());
    }
    let fail = |reason: String| DecodeError::Resample {
        from_hz,
        to_hz,
        reason,
    };
    let mut resampler = Fft::<f32>::new(
        from_hz as usize,
        to_hz as usize,
        CHUNK_FRAMES,
        1,
        FixedSync::Input,
    )
    .map_err(|e| fail(e.to_string()))?;
    let input =
        InterleavedSlice::new(samples, 1, samples.len()).map_err(|e| fail(e.to_string()))?;
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| fail(e.to_string()))?;
    Ok(output.take_data())
}
