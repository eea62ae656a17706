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

/// A linear chirp from `f0` to `f1` Hz.
pub fn chirp(f0: f64, f1: f64, sample_rate: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
    let n = (seconds * f64::from(sample_rate)).round() as usize;
    let rate = f64::from(sample_rate);
    let k = (f1 - f0) / seconds;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            (amplitude * (2.0 * PI * (f0 * t + 0.5 * k * t * t)).sin()) as f32
        })
        .collect()
}

/// The classes of [`pattern_dataset`]: a low steady tone, a high tone pulsed at 4 Hz, and a
/// rising chirp.
pub const PATTERN_CLASSES: [&str; 3] = ["low_tone", "pulsed_high", "chirp"];

/// Writes a learnability dataset under `root`: [`PATTERN_CLASSES`], `groups` groups per class
/// (each group its own base frequency and loudness, as a recording session would be), and
/// `clips` clips per group with Gaussian noise, at 16 kHz, plus `manifest.csv` naming each
/// clip's group. With `shuffle_labels` the manifest's labels are permuted across clips (a
/// control: nothing is left to learn).
pub fn pattern_dataset(
    root: &Path,
    groups: usize,
    clips: usize,
    seconds: f64,
    seed_value: u64,
    shuffle_labels: bool,
) -> std::io::Result<()> {
    use rand::Rng;
    use rand::seq::SliceRandom;

    const RATE: u32 = 16_000;
    let mut rng = crate::seed::rng(seed_value, &[crate::seed::tag("pattern-dataset")]);
    let mut rows: Vec<(String, String, String)> = Vec::new();
    std::fs::create_dir_all(root.join("clips"))?;
    for (c, class) in PATTERN_CLASSES.iter().enumerate() {
        for g in 0..groups {
            let base: f64 = rng.random_range(0.8..1.25);
            let loud: f64 = rng.random_range(0.15..0.4);
            let group = format!("{class}-session{g}");
            for i in 0..clips {
                let jitter: f64 = rng.random_range(0.97..1.03);
                let f = base * jitter;
                let mut samples = match c {
                    0 => tone(300.0 * f, RATE, seconds, loud),
                    1 => {
                        let mut s = tone(2500.0 * f, RATE, seconds, loud);
                        for (j, v) in s.iter_mut().enumerate() {
                            let phase = (j as f64 / f64::from(RATE) * 4.0).fract();
                            if phase >= 0.5 {
                                *v = 0.0;
                            }
                        }
                        s
                    }
                    _ => chirp(400.0 * f, 3500.0 * f, RATE, seconds, loud),
                };
                for v in &mut samples {
                    *v += 0.03 * standard_normal(&mut rng) as f32;
                }
                let rel = format!("clips/{group}-{i}.wav");
                write_wav(&root.join(&rel), &samples, RATE, 1, WavFormat::Pcm(16))
                    .map_err(std::io::Error::other)?;
                rows.push((rel, class.to_string(), group.clone()));
            }
        }
    }
    if shuffle_labels {
        let mut labels: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
        labels.shuffle(&mut rng);
        for (row, label) in rows.iter_mut().zip(labels) {
            row.1 = label;
        }
    }
    let mut csv = String::from("path,label,group\n");
    for (path, label, group) in rows {
        csv.push_str(&format!("{path},{label},{group}\n"));
    }
    std::fs::write(root.join("manifest.csv"), csv)
}

/// The classes of [`detection_dataset`]: two cry reasons, cries of unknown reason, and sounds
/// that are not cries.
pub const DETECTION_CLASSES: [&str; 4] = ["hungry", "tired", "cry", "not_cry"];

/// A cry stand-in: a harmonic tone (fundamental `f0`, five partials at 1/k amplitude) with a
/// 5 Hz vibrato, switched on and off at `pulse_hz` when given.
pub fn harmonic_cry(
    f0: f64,
    pulse_hz: Option<f64>,
    sample_rate: u32,
    seconds: f64,
    amplitude: f64,
) -> Vec<f32> {
    let rate = f64::from(sample_rate);
    let n = (seconds * rate).round() as usize;
    let norm: f64 = (1..=5).map(|k| 1.0 / f64::from(k)).sum();
    let mut phase = 0.0;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let f = f0 * (1.0 + 0.03 * (2.0 * PI * 5.0 * t).sin());
            phase += 2.0 * PI * f / rate;
            let v: f64 = (1..=5)
                .map(|k| (f64::from(k) * phase).sin() / f64::from(k))
                .sum::<f64>()
                / norm;
            let on = pulse_hz.is_none_or(|p| (t * p).fract() < 0.6);
            if on { (amplitude * v) as f32 } else { 0.0 }
        })
        .collect()
}

/// Writes a cry-detection dataset under `root` with `manifest.csv`: [`DETECTION_CLASSES`],
/// `groups` groups per class, `clips` clips per group, 16 kHz. Cries are harmonic tones
/// ([`harmonic_cry`]: `hungry` near 380 Hz, steady; `tired` near 520 Hz, pulsed; `cry` near
/// 450 Hz); `not_cry` clips are noises (white, brown, or a 50 Hz hum with its harmonics under
/// white noise; the kinds alternate within a group), each group its own loudness.
pub fn detection_dataset(
    root: &Path,
    groups: usize,
    clips: usize,
    seconds: f64,
    seed_value: u64,
) -> std::io::Result<()> {
    use rand::Rng;

    const RATE: u32 = 16_000;
    let mut rng = crate::seed::rng(seed_value, &[crate::seed::tag("detection-dataset")]);
    let mut csv = String::from("path,label,group\n");
    std::fs::create_dir_all(root.join("clips"))?;
    for class in DETECTION_CLASSES {
        for g in 0..groups {
            let base: f64 = rng.random_range(0.92..1.08);
            let loud: f64 = rng.random_range(0.1..0.4);
            let group = format!("{class}-session{g}");
            for i in 0..clips {
                let f = base * rng.random_range(0.98..1.02);
                let mut samples = match class {
                    "hungry" => harmonic_cry(380.0 * f, None, RATE, seconds, loud),
                    "tired" => harmonic_cry(520.0 * f, Some(2.0), RATE, seconds, loud),
                    "cry" => harmonic_cry(450.0 * f, Some(1.5), RATE, seconds, loud),
                    _ => noise((g + i) % 3, RATE, seconds, loud, &mut rng),
                };
                for v in &mut samples {
                    *v += 0.01 * standard_normal(&mut rng) as f32;
                }
                let rel = format!("clips/{group}-{i}.wav");
                write_wav(&root.join(&rel), &samples, RATE, 1, WavFormat::Pcm(16))
                    .map_err(std::io::Error::other)?;
                csv.push_str(&format!("{rel},{class},{group}\n"));
            }
        }
    }
    std::fs::write(root.join("manifest.csv"), csv)
}

/// White (`kind` 0), brown (1) or hum-under-noise (2) audio at about `loud` peak.
fn noise(
    kind: usize,
    sample_rate: u32,
    seconds: f64,
    loud: f64,
    rng: &mut impl rand::Rng,
) -> Vec<f32> {
    let n = (seconds * f64::from(sample_rate)).round() as usize;
    let rate = f64::from(sample_rate);
    let mut brown = 0.0;
    (0..n)
        .map(|i| {
            let white = standard_normal(rng);
            let v = match kind {
                0 => 0.35 * white,
                1 => {
                    brown = 0.995 * brown + 0.1 * white;
                    brown
                }
                _ => {
                    let t = i as f64 / rate;
                    let hum: f64 = (1..=4)
                        .map(|k| (2.0 * PI * 50.0 * f64::from(k) * t).sin() / f64::from(k))
                        .sum();
                    0.4 * hum + 0.1 * white
                }
            };
            (loud * v).clamp(-1.0, 1.0) as f32
        })
        .collect()
}

/// A standard normal draw (Box–Muller), so no distribution crate is needed.
fn standard_normal(rng: &mut impl rand::Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}
