use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpec, WavWriter};

use super::*;

fn spec(channels: u16, rate: u32, bits: u16, format: SampleFormat) -> WavSpec {
    WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    }
}

fn write_int(path: &Path, spec: WavSpec, samples: &[i32]) {
    let mut w = WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

fn write_float(path: &Path, spec: WavSpec, samples: &[f32]) {
    let mut w = WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// A canonical 44-byte-header WAV with any format tag, for encodings hound cannot write.
fn raw_wav(format_tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block_align = channels * bits / 8;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&format_tag.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

fn tmp(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn no_limit() -> LoadOptions {
    LoadOptions {
        max_seconds: None,
        ..LoadOptions::default()
    }
}

fn read_err(path: &Path) -> DecodeError {
    let err = read_wav(path, &no_limit()).expect_err("decoding should fail");
    assert_eq!(err.path, path, "the error names the file");
    err.kind
}

#[test]
fn pcm_depths_scale_to_unit_range() {
    let dir = tempfile::tempdir().unwrap();
    for bits in [8u16, 16, 24, 32] {
        let full = 1i64 << (bits - 1);
        let half = (full / 2) as i32;
        let min = (-full) as i32;
        let path = tmp(&dir, &format!("pcm{bits}.wav"));
        write_int(
            &path,
            spec(1, 8000, bits, SampleFormat::Int),
            &[0, half, min],
        );
        let wav = read_wav(&path, &no_limit()).unwrap();
        assert_eq!(wav.encoding, Encoding::Pcm(bits));
        assert_eq!(wav.samples, vec![0.0, 0.5, -1.0], "{bits}-bit");
    }
}

#[test]
fn float_and_channel_mixdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "stereo.wav");
    write_float(
        &path,
        spec(2, 22_050, 32, SampleFormat::Float),
        &[1.0, 0.0, -0.5, -0.25, 0.2, 0.4],
    );
    let wav = read_wav(&path, &no_limit()).unwrap();
    assert_eq!(wav.encoding, Encoding::Float32);
    assert_eq!(wav.channels, 2);
    assert_eq!(wav.sample_rate, 22_050);
    let expected = [0.5, -0.375, 0.3];
    assert_eq!(wav.samples.len(), 3);
    for (got, want) in wav.samples.iter().zip(expected) {
        assert!((got - want).abs() < 1e-7, "{got} vs {want}");
    }

    let path = tmp(&dir, "six.wav");
    write_int(&path, spec(6, 8000, 16, SampleFormat::Int), &[6000; 12]);
    let wav = read_wav(&path, &no_limit()).unwrap();
    assert_eq!(wav.samples.len(), 2);
    assert!((wav.samples[0] - 6000.0 / 32768.0).abs() < 1e-7);
}

#[test]
fn text_and_empty_files_are_not_wav() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "notes.wav");
    std::fs::write(&path, "this is a text file, not audio\n").unwrap();
    assert!(matches!(read_err(&path), DecodeError::NotWav(_)));

    let path = tmp(&dir, "empty.wav");
    std::fs::write(&path, b"").unwrap();
    let kind = read_err(&path);
    assert!(matches!(kind, DecodeError::NotWav(_)));
    assert!(kind.to_string().contains("empty"), "{kind}");

    let path = tmp(&dir, "riff-avi.wav");
    let mut bytes = raw_wav(1, 1, 8000, 16, &[0; 8]);
    bytes[8..12].copy_from_slice(b"AVI ");
    std::fs::write(&path, bytes).unwrap();
    assert!(matches!(read_err(&path), DecodeError::NotWav(_)));
}

#[test]
fn truncated_header_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let full = raw_wav(1, 1, 8000, 16, &[1; 2000]);

    let path = tmp(&dir, "short-header.wav");
    std::fs::write(&path, &full[..30]).unwrap();
    assert!(matches!(read_err(&path), DecodeError::TruncatedHeader(_)));

    let path = tmp(&dir, "short-data.wav");
    std::fs::write(&path, &full[..44 + 600]).unwrap();
    match read_err(&path) {
        DecodeError::TruncatedData { expected, read } => {
            assert_eq!(expected, 1000);
            assert_eq!(read, 300);
        }
        other => panic!("expected truncated data, got {other}"),
    }
}

#[test]
fn zero_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "silent.wav");
    write_int(&path, spec(1, 16_000, 16, SampleFormat::Int), &[]);
    assert!(matches!(read_err(&path), DecodeError::ZeroSamples));
}

#[test]
fn non_finite_samples() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bad) in [
        ("nan", f32::NAN),
        ("inf", f32::INFINITY),
        ("-inf", f32::NEG_INFINITY),
    ] {
        let path = tmp(&dir, &format!("{name}.wav"));
        write_float(
            &path,
            spec(2, 16_000, 32, SampleFormat::Float),
            &[0.0, 0.1, 0.2, bad],
        );
        match read_err(&path) {
            DecodeError::NonFinite { frame, value } => {
                assert_eq!(frame, 1);
                assert_eq!(value.to_lowercase(), name.to_lowercase());
            }
            other => panic!("expected non-finite, got {other}"),
        }
    }
}

#[test]
fn samples_far_beyond_full_scale_are_refused() {
    // Two finite samples near f32::MAX would average to infinity and overflow the resampler.
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "huge.wav");
    write_float(
        &path,
        spec(2, 16_000, 32, SampleFormat::Float),
        &[0.0, 0.5, 3.0e38, 3.0e38],
    );
    match read_err(&path) {
        DecodeError::OutOfRange { frame, value } => {
            assert_eq!(frame, 1);
            assert_eq!(value, 3.0e38);
        }
        other => panic!("expected out of range, got {other}"),
    }
    // Loud but plausible float audio (int16-scaled floats) still decodes.
    write_float(&path, spec(1, 16_000, 32, SampleFormat::Float), &[32_767.0]);
    assert_eq!(read_wav(&path, &no_limit()).unwrap().samples, [32_767.0]);
}

#[test]
fn unsupported_encodings() {
    let dir = tempfile::tempdir().unwrap();
    // Format tag 6 is A-law, a compressed encoding.
    let path = tmp(&dir, "alaw.wav");
    std::fs::write(&path, raw_wav(6, 1, 8000, 8, &[0; 16])).unwrap();
    assert!(matches!(
        read_err(&path),
        DecodeError::UnsupportedEncoding(_)
    ));
    // Format tag 3 with 64-bit samples is IEEE double.
    let path = tmp(&dir, "f64.wav");
    std::fs::write(&path, raw_wav(3, 1, 8000, 64, &[0; 16])).unwrap();
    assert!(matches!(
        read_err(&path),
        DecodeError::UnsupportedEncoding(_)
    ));
}

#[test]
fn missing_file_is_io_error_naming_it() {
    let path = Path::new("/nonexistent/clip.wav");
    let err = read_wav(path, &no_limit()).unwrap_err();
    assert!(matches!(err.kind, DecodeError::Io(_)));
    assert!(err.to_string().starts_with("/nonexistent/clip.wav: "));
}

#[test]
fn long_clips_are_cut_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "long.wav");
    write_int(
        &path,
        spec(1, 8000, 16, SampleFormat::Int),
        &vec![100; 8000 * 5],
    );
    let opts = LoadOptions {
        max_seconds: Some(2.0),
        ..LoadOptions::default()
    };
    let clip = load_clip(&path, &opts).unwrap();
    assert!(clip.cut);
    assert_eq!(clip.source.frames, 40_000);
    assert_eq!(clip.samples.len(), 32_000, "2 s at 16 kHz");

    let clip = load_clip(&path, &LoadOptions::default()).unwrap();
    assert!(!clip.cut, "5 s is under the default 30 s limit");
    assert_eq!(clip.samples.len(), 80_000);
}

fn tone(freq: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
    let n = (seconds * f64::from(rate)) as usize;
    (0..n)
        .map(|i| (amplitude * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// Amplitude of the `freq` component of `x` (single-bin DFT), ignoring the edges.
fn amplitude_at(x: &[f32], freq: f64, rate: u32) -> f64 {
    let x = &x[x.len() / 10..x.len() * 9 / 10];
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let phase = 2.0 * PI * freq * i as f64 / f64::from(rate);
        re += f64::from(v) * phase.cos();
        im += f64::from(v) * phase.sin();
    }
    2.0 * (re * re + im * im).sqrt() / x.len() as f64
}

fn resampled_tone(freq: f64) -> Vec<f32> {
    let out = resample(&tone(freq, 44_100, 1.0, 0.5), 44_100, 16_000).unwrap();
    assert_eq!(out.len(), 16_000);
    out
}

#[test]
fn a_4khz_tone_stays_at_4khz() {
    let out = resampled_tone(4000.0);
    let peak = (0..=160)
        .map(|k| f64::from(k) * 50.0)
        .max_by(|&a, &b| amplitude_at(&out, a, 16_000).total_cmp(&amplitude_at(&out, b, 16_000)))
        .unwrap();
    assert_eq!(peak, 4000.0);
    let amp = amplitude_at(&out, 4000.0, 16_000);
    assert!((amp - 0.5).abs() < 0.005, "amplitude {amp}");
}

#[test]
fn tones_above_the_new_nyquist_are_removed_not_aliased() {
    // 9 kHz would alias to 7 kHz and 12 kHz to 4 kHz if the resampler were not band-limited.
    for (freq, alias) in [(9000.0, 7000.0), (12_000.0, 4000.0)] {
        let out = resampled_tone(freq);
        let middle = &out[1600..14_400];
        let rms = (middle.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / middle.len() as f64)
            .sqrt();
        assert!(rms < 1e-3, "{freq} Hz leaves rms {rms}");
        assert!(amplitude_at(&out, alias, 16_000) < 1e-3);
    }
}

#[test]
fn a_7khz_tone_is_inside_the_pass_band() {
    // 7 kHz is below the 8 kHz Nyquist frequency of 16 kHz audio; HuBERT was pre-trained on
    // audio with content up to there, so the filter must keep it.
    let amp = amplitude_at(&resampled_tone(7000.0), 7000.0, 16_000);
    assert!(amp > 0.45, "7 kHz attenuated to {amp}");
}

#[test]
fn upsampling_8k_keeps_timing_and_content() {
    let x = tone(1000.0, 8000, 0.5, 0.8);
    let out = resample(&x, 8000, 16_000).unwrap();
    assert_eq!(out.len(), 8000);
    assert!((amplitude_at(&out, 1000.0, 16_000) - 0.8).abs() < 0.01);
    // Aligned: sample 2i of the output is close to sample i of the input away from the edges.
    for i in 500..3500 {
        assert!((out[2 * i] - x[i]).abs() < 0.01, "misaligned at {i}");
    }
}

#[test]
fn a_bandwidth_limits_every_loaded_clip() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "mix.wav");
    let rate: u32 = 44_100;
    let samples: Vec<f32> = (0..rate)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            (0.3 * (2.0 * PI * 1000.0 * t).sin() + 0.3 * (2.0 * PI * 6000.0 * t).sin()) as f32
        })
        .collect();
    write_float(&path, spec(1, rate, 32, SampleFormat::Float), &samples);
    let energy_at = |clip: &Clip, freq: f64| {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for (i, s) in clip.samples.iter().enumerate().skip(1000) {
            let phase = 2.0 * PI * freq * i as f64 / 16_000.0;
            re += f64::from(*s) * phase.cos();
            im += f64::from(*s) * phase.sin();
        }
        (re * re + im * im).sqrt() / clip.samples.len() as f64
    };
    let full = load_clip(&path, &LoadOptions::default()).unwrap();
    let limited = load_clip(
        &path,
        &LoadOptions {
            bandwidth: Some(Bandwidth::new(4000.0).unwrap()),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(full.samples.len(), limited.samples.len());
    assert!(
        energy_at(&full, 6000.0) > 0.1,
        "{}",
        energy_at(&full, 6000.0)
    );
    assert!(
        energy_at(&limited, 6000.0) < 1e-4,
        "{}",
        energy_at(&limited, 6000.0)
    );
    let kept = energy_at(&limited, 1000.0) / energy_at(&full, 1000.0);
    assert!((kept - 1.0).abs() < 0.02, "{kept}");
}

#[test]
fn an_upload_in_memory_loads_as_its_file_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp(&dir, "tone.wav");
    let samples: Vec<f32> = (0..12_000)
        .map(|i| (2.0 * PI * 440.0 * f64::from(i) / 8_000.0).sin() as f32 * 0.5)
        .collect();
    write_float(&path, spec(2, 8_000, 32, SampleFormat::Float), &samples);
    let options = LoadOptions {
        bandwidth: Some(Bandwidth::new(3_000.0).unwrap()),
        ..LoadOptions::default()
    };
    let from_file = load_clip(&path, &options).unwrap();
    let from_bytes = load_clip_from_bytes(std::fs::read(&path).unwrap(), &options).unwrap();
    assert_eq!(from_bytes.samples, from_file.samples);
    assert_eq!(from_bytes.source, from_file.source);
    assert_eq!(from_bytes.sample_rate, SAMPLE_RATE_HZ);

    assert!(matches!(
        load_clip_from_bytes(Vec::new(), &options),
        Err(DecodeError::NotAudio(_))
    ));
    let text = load_clip_from_bytes(b"hello, this is not audio".to_vec(), &options).unwrap_err();
    assert!(matches!(text, DecodeError::NotAudio(_)), "{text}");
}
