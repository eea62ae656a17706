//! The analysis windows of a clip: the same on the host (evaluation) and the edge (`classify`).
//!
//! A clip is scored by averaging the logits of its windows. Windows are [`WINDOW_SAMPLES`]
//! long and start every [`HOP_SAMPLES`]; when the hops do not end exactly at the end of the clip,
//! one more window, aligned to the end, covers the tail. A clip shorter than a window is one
//! window, zero-padded at the end.
//!
//! [`WINDOW_SAMPLES`]: crate::contract::WINDOW_SAMPLES
//! [`HOP_SAMPLES`]: crate::contract::HOP_SAMPLES

/// Start offsets of the windows of a clip of `len` samples.
///
/// # Panics
/// If `window` or `hop` is zero.
pub fn window_starts(len: usize, window: usize, hop: usize) -> Vec<usize> {
    assert!(window > 0 && hop > 0, "window and hop must be positive");
    if len <= window {
        return vec![0];
    }
    let last = len - window;
    let mut starts: Vec<usize> = (0..=last).step_by(hop).collect();
    if starts.last() != Some(&last) {
        starts.push(last);
    }
    starts
}

/// Copies the window starting at `start` into `out` (of the window's length), zero-padding past
/// the end of `samples`. Does not allocate.
pub fn copy_window(samples: &[f32], start: usize, out: &mut [f32]) {
    let available = samples.len().saturating_sub(start).min(out.len());
    out[..available].copy_from_slice(&samples[start..start + available]);
    out[available..].fill(0.0);
}

/// Start offsets of the windows a stream of `len` samples yields: the first once a whole window
/// has arrived, then one every hop, and none for a stream shorter than a window. This is what
/// the edge's streaming sees; the host replays held-out clips through the alert logic with it.
///
/// # Panics
/// If `window` or `hop` is zero.
pub fn stream_window_starts(len: usize, window: usize, hop: usize) -> Vec<usize> {
    assert!(window > 0 && hop > 0, "window and hop must be positive");
    if len < window {
        return Vec::new();
    }
    (0..=len - window).step_by(hop).collect()
}

/// Whether the scoring window starting at `start` (of [`window_starts`] with this `hop`) is one a
/// stream also sees: on the hop grid, not the end-aligned tail window. A clip shorter than a
/// window keeps its one zero-padded window. The host's evaluation and the edge's `classify`
/// replay alerts over exactly these windows.
pub fn on_stream_grid(start: usize, hop: usize) -> bool {
    start % hop == 0
}

/// Stream time (seconds) at the end of the window of `window` samples starting at `start`: the
/// time the edge stamps on the window's events.
pub fn window_end_seconds(start: usize, window: usize) -> f64 {
    (start + window) as f64 / f64::from(crate::contract::SAMPLE_RATE_HZ)
}

/// RMS level in dB relative to full scale (a full-scale square wave is 0 dBFS; silence is
/// -200): the edge's power-saving gate and the host's energy-gate baseline measure it alike.
pub fn rms_dbfs(samples: &[f32]) -> f64 {
    let energy: f64 = samples.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
    let rms = (energy / samples.len().max(1) as f64).sqrt();
    20.0 * rms.max(1e-10).log10()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{HOP_SAMPLES, LEGACY_HOP_SAMPLES, WINDOW_SAMPLES};

    #[test]
    fn starts_cover_the_clip_and_end_aligned() {
        assert_eq!(window_starts(10, 4, 2), [0, 2, 4, 6]);
        assert_eq!(
            window_starts(11, 4, 2),
            [0, 2, 4, 6, 7],
            "tail window aligned to the end"
        );
        assert_eq!(window_starts(4, 4, 2), [0]);
        assert_eq!(window_starts(3, 4, 2), [0], "short clip: one padded window");
        // A 7 s Donate-a-cry clip at 16 kHz with the contract's 3 s window and 2 s hop; the
        // 1 s hop of older models.
        let starts = window_starts(7 * 16_000, WINDOW_SAMPLES, HOP_SAMPLES);
        assert_eq!(starts, [0, 32_000, 64_000]);
        let starts = window_starts(7 * 16_000, WINDOW_SAMPLES, LEGACY_HOP_SAMPLES);
        assert_eq!(starts, [0, 16_000, 32_000, 48_000, 64_000]);
        // 6.5 s: the tail window is end-aligned, off the grid.
        let starts = window_starts(104_000, WINDOW_SAMPLES, HOP_SAMPLES);
        assert_eq!(starts, [0, 32_000, 56_000]);
        for len in [1, 47_999, 48_000, 48_001, 100_000, 111_999] {
            let s = window_starts(len, WINDOW_SAMPLES, HOP_SAMPLES);
            assert_eq!(s[0], 0);
            assert!(
                *s.last().unwrap() + WINDOW_SAMPLES >= len,
                "tail covered for {len}"
            );
            assert!(
                s.windows(2)
                    .all(|w| w[1] > w[0] && w[1] - w[0] <= HOP_SAMPLES)
            );
        }
    }

    #[test]
    fn a_stream_yields_whole_windows_only() {
        assert_eq!(stream_window_starts(10, 4, 2), [0, 2, 4, 6]);
        assert_eq!(stream_window_starts(11, 4, 2), [0, 2, 4, 6]);
        assert_eq!(stream_window_starts(4, 4, 2), [0]);
        assert!(stream_window_starts(3, 4, 2).is_empty());
        let starts = stream_window_starts(7 * 16_000, WINDOW_SAMPLES, HOP_SAMPLES);
        assert_eq!(starts, [0, 32_000, 64_000]);
    }

    #[test]
    fn stream_grid_and_window_ends() {
        let starts = window_starts(104_000, WINDOW_SAMPLES, HOP_SAMPLES);
        let streamed: Vec<usize> = starts
            .iter()
            .copied()
            .filter(|&s| on_stream_grid(s, HOP_SAMPLES))
            .collect();
        assert_eq!(
            streamed,
            stream_window_starts(104_000, WINDOW_SAMPLES, HOP_SAMPLES)
        );
        assert_eq!(window_end_seconds(32_000, WINDOW_SAMPLES), 5.0);
    }

    #[test]
    fn levels_in_dbfs() {
        assert_eq!(rms_dbfs(&[1.0, -1.0]), 0.0);
        assert!((rms_dbfs(&[0.5; 8]) + 6.0206).abs() < 1e-3);
        assert_eq!(rms_dbfs(&[0.0; 4]), -200.0);
        assert_eq!(rms_dbfs(&[]), -200.0);
    }

    #[test]
    fn copy_pads_with_zeros() {
        let samples = [1.0, 2.0, 3.0];
        let mut out = [9.0; 5];
        copy_window(&samples, 1, &mut out);
        assert_eq!(out, [2.0, 3.0, 0.0, 0.0, 0.0]);
        copy_window(&samples, 0, &mut out[..2]);
        assert_eq!(out[..2], [1.0, 2.0]);
    }
}
