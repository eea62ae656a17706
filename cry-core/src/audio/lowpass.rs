//! A linear-phase low-pass filter for `--bandwidth`: a windowed sinc (Blackman window) whose stop
//! band begins at the bandwidth, applied causally so that a stream filtered block by block on
//! the edge and a clip filtered whole on the host give the same samples.

use std::f64::consts::PI;

use crate::contract::SAMPLE_RATE_HZ;

/// Taps of every band-limiting filter: at 16 kHz a transition band of about 345 Hz and a stop
/// band below -74 dB (the Blackman window's), for 255 multiply-adds per sample.
pub const LOWPASS_TAPS: usize = 255;

/// A band that is not below the Nyquist frequency.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "a bandwidth of {bandwidth_hz} Hz is not in ({min_hz}, {nyquist_hz}) Hz for {sample_rate} Hz audio"
)]
pub struct BandwidthError {
    /// The requested bandwidth.
    pub bandwidth_hz: f32,
    /// The lowest bandwidth the filter can make.
    pub min_hz: f32,
    /// Half the sample rate.
    pub nyquist_hz: f32,
    /// The sample rate.
    pub sample_rate: u32,
}

/// `--bandwidth`: a band every clip is limited to before anything else, checked against the
/// model rate once, so applying it cannot fail later.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "f32", into = "f32")]
pub struct Bandwidth(f32);

impl Bandwidth {
    /// A band of `hz`, which a filter at [`SAMPLE_RATE_HZ`] can make.
    pub fn new(hz: f32) -> Result<Self, BandwidthError> {
        LowPass::new(hz, SAMPLE_RATE_HZ)?;
        Ok(Self(hz))
    }

    /// The band's upper edge in Hz.
    pub fn hz(self) -> f32 {
        self.0
    }

    /// A fresh filter for audio at `sample_rate`, or `None` when that audio cannot hold anything
    /// above the band (its Nyquist frequency is at or below it).
    pub fn filter(self, sample_rate: u32) -> Option<LowPass> {
        if f64::from(self.0) >= f64::from(sample_rate) / 2.0 {
            return None;
        }
        // The band passed the check at the model rate; a lower rate only narrows the transition
        // band's lower limit, a higher one the check already covers.
        LowPass::new(self.0, sample_rate).ok()
    }

    /// `samples` at `sample_rate` limited to the band, as a stream from its start would be.
    pub fn apply(self, samples: &[f32], sample_rate: u32) -> Vec<f32> {
        match self.filter(sample_rate) {
            Some(mut filter) => {
                let mut out = Vec::with_capacity(samples.len());
                filter.process(samples, &mut out);
                out
            }
            None => samples.to_vec(),
        }
    }
}

impl TryFrom<f32> for Bandwidth {
    type Error = BandwidthError;

    fn try_from(hz: f32) -> Result<Self, Self::Error> {
        Self::new(hz)
    }
}

impl From<Bandwidth> for f32 {
    fn from(b: Bandwidth) -> f32 {
        b.0
    }
}

/// A causal FIR low-pass with its state: feed a stream in blocks of any size.
#[derive(Debug, Clone)]
pub struct LowPass {
    taps: Vec<f32>,
    /// The last `taps.len() - 1` inputs, oldest first.
    history: Vec<f32>,
}

impl LowPass {
    /// A filter passing what is below `bandwidth_hz` of `sample_rate` audio and stopping what is
    /// above it (the transition band lies just below the bandwidth).
    pub fn new(bandwidth_hz: f32, sample_rate: u32) -> Result<Self, BandwidthError> {
        let rate = f64::from(sample_rate);
        let transition = 5.5 * rate / LOWPASS_TAPS as f64;
        let nyquist = rate / 2.0;
        let bandwidth = f64::from(bandwidth_hz);
        if !(bandwidth > transition && bandwidth < nyquist) {
            return Err(BandwidthError {
                bandwidth_hz,
                min_hz: transition as f32,
                nyquist_hz: nyquist as f32,
                sample_rate,
            });
        }
        let cutoff = (bandwidth - transition / 2.0) / rate;
        let mid = (LOWPASS_TAPS - 1) as f64 / 2.0;
        let mut taps: Vec<f64> = (0..LOWPASS_TAPS)
            .map(|i| {
                let x = i as f64 - mid;
                let sinc = if x == 0.0 {
                    2.0 * cutoff
                } else {
                    (2.0 * PI * cutoff * x).sin() / (PI * x)
                };
                let phase = 2.0 * PI * i as f64 / (LOWPASS_TAPS - 1) as f64;
                let window = 0.42 - 0.5 * phase.cos() + 0.08 * (2.0 * phase).cos();
                sinc * window
            })
            .collect();
        let gain: f64 = taps.iter().sum();
        for t in &mut taps {
            *t /= gain;
        }
        Ok(Self {
            taps: taps.into_iter().map(|t| t as f32).collect(),
            history: vec![0.0; LOWPASS_TAPS - 1],
        })
    }

    /// Samples by which the output lags the input.
    pub fn delay(&self) -> usize {
        (self.taps.len() - 1) / 2
    }

    /// Filters the next block of the stream into `out` (cleared first; same length as `input`).
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        out.clear();
        let k = self.taps.len();
        for (n, _) in input.iter().enumerate() {
            let mut acc = 0.0f32;
            // Tap j weighs the input j samples back; those before this block are in history.
            for (j, &tap) in self.taps.iter().enumerate() {
                let back = n as isize - j as isize;
                let x = if back >= 0 {
                    input[back as usize]
                } else {
                    self.history[(k - 1) as isize as usize - (-back) as usize]
                };
                acc += tap * x;
            }
            out.push(acc);
        }
        if input.len() >= k - 1 {
            self.history
                .copy_from_slice(&input[input.len() - (k - 1)..]);
        } else {
            self.history.drain(..input.len());
            self.history.extend_from_slice(input);
        }
    }

    /// Forgets the stream (as after a gap).
    pub fn reset(&mut self) {
        self.history.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * PI * freq * i as f64 / 16_000.0).sin() as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn passes_below_and_stops_above_the_bandwidth() {
        for (freq, passes) in [
            (500.0, true),
            (3000.0, true),
            (4300.0, false),
            (7000.0, false),
        ] {
            let x = tone(freq, 16_000);
            let y = Bandwidth::new(4000.0).unwrap().apply(&x, 16_000);
            let ratio = rms(&y[LOWPASS_TAPS..]) / rms(&x[LOWPASS_TAPS..]);
            if passes {
                assert!((ratio - 1.0).abs() < 0.01, "{freq} Hz: {ratio}");
            } else {
                assert!(ratio < 1e-3, "{freq} Hz: {ratio}");
            }
        }
    }

    #[test]
    fn a_stream_in_blocks_equals_the_whole_clip() {
        let x: Vec<f32> = tone(440.0, 5000)
            .iter()
            .zip(tone(6100.0, 5000))
            .map(|(a, b)| a + b)
            .collect();
        let whole = Bandwidth::new(3000.0).unwrap().apply(&x, 16_000);
        let mut filter = LowPass::new(3000.0, 16_000).unwrap();
        let (mut streamed, mut out) = (Vec::new(), Vec::new());
        for block in [7usize, 1, 300, 254, 255, 256, 1000, 2927] {
            let start = streamed.len();
            filter.process(&x[start..start + block], &mut out);
            streamed.extend_from_slice(&out);
        }
        assert_eq!(streamed.len(), x.len());
        assert_eq!(streamed, whole);
        assert_eq!(filter.delay(), 127);
    }

    #[test]
    fn a_bandwidth_is_checked_once_and_applies_at_any_rate() {
        assert!(Bandwidth::new(9000.0).is_err());
        let band = Bandwidth::new(4000.0).unwrap();
        let x = tone(6000.0, 4000);
        assert!(rms(&band.apply(&x, 16_000)[LOWPASS_TAPS..]) < 1e-3);
        // 8 kHz audio holds nothing above 4 kHz: left as it is.
        assert!(band.filter(8000).is_none());
        assert_eq!(band.apply(&x, 8000), x);
        let json = serde_json::to_string(&band).unwrap();
        assert_eq!(json, "4000.0");
        assert!(serde_json::from_str::<Bandwidth>("9000.0").is_err());
    }

    #[test]
    fn impossible_bands_are_refused() {
        assert!(LowPass::new(8000.0, 16_000).is_err());
        assert!(LowPass::new(100.0, 16_000).is_err());
        assert!(LowPass::new(f32::NAN, 16_000).is_err());
        let err = LowPass::new(9000.0, 16_000).unwrap_err().to_string();
        assert!(
            err.contains("9000 Hz") && err.contains("16000 Hz audio"),
            "{err}"
        );
    }
}
