//! Every supported format decodes through one entry point, by content, with typed errors.
//! Fixtures: `tests/fixtures/README.md` (tones we synthesized).

use std::f64::consts::PI;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use cry_core::audio::{
    AudioFormat, AudioStream, DecodeError, Encoding, LoadOptions, load_clip, read_audio, read_wav,
    sniff_file,
};

struct Fixture {
    file: &'static str,
    format: AudioFormat,
    encoding: Encoding,
    rate: u32,
    channels: u16,
    tone_hz: f64,
    /// FFmpeg's `sine` source plays at 1/8 of full scale; `-ac 2` copies it to both channels
    /// 3 dB down, and the mix-down keeps that.
    amplitude: f64,
}

const FIXTURES: [Fixture; 4] = [
    Fixture {
        file: "tone-440hz-22050hz-mono.ogg",
        format: AudioFormat::Ogg,
        encoding: Encoding::Vorbis,
        rate: 22_050,
        channels: 1,
        tone_hz: 440.0,
        amplitude: 0.125,
    },
    Fixture {
        file: "tone-1000hz-16000hz-stereo.flac",
        format: AudioFormat::Flac,
        encoding: Encoding::Flac(16),
        rate: 16_000,
        channels: 2,
        tone_hz: 1000.0,
        amplitude: 0.125 * std::f64::consts::FRAC_1_SQRT_2,
    },
    Fixture {
        file: "tone-660hz-44100hz-mono.mp3",
        format: AudioFormat::Mp3,
        encoding: Encoding::Mp3,
        rate: 44_100,
        channels: 1,
        tone_hz: 660.0,
        amplitude: 0.125,
    },
    Fixture {
        file: "tone-880hz-48000hz-stereo.m4a",
        format: AudioFormat::Mp4,
        encoding: Encoding::Aac,
        rate: 48_000,
        channels: 2,
        tone_hz: 880.0,
        amplitude: 0.125 * std::f64::consts::FRAC_1_SQRT_2,
    },
];

/// Every fixture is 0.5 s. Ogg Vorbis, FLAC and MP3 (LAME's Info frame) decode to exactly that;
/// MP4 AAC keeps its 1024 frames of encoder priming (symphonia 0.6 does not apply MP4 edit
/// lists), so the tolerance is one codec frame: 1152 samples, MP3's, is the largest.
const SECONDS: f64 = 0.5;
const MAX_FRAME: f64 = 1152.0;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn no_limit() -> LoadOptions {
    LoadOptions {
        max_seconds: None,
        ..LoadOptions::default()
    }
}

/// Amplitude of the `freq` component of `x` (single-bin DFT) over its middle 80 %.
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

/// The strongest frequency among 100..=2000 Hz in 20 Hz steps.
fn dominant_hz(x: &[f32], rate: u32) -> f64 {
    (5..=100)
        .map(|k| f64::from(k) * 20.0)
        .max_by(|&a, &b| amplitude_at(x, a, rate).total_cmp(&amplitude_at(x, b, rate)))
        .unwrap()
}

#[test]
fn every_format_decodes_to_its_tone() {
    for f in &FIXTURES {
        let path = fixture(f.file);
        assert_eq!(sniff_file(&path).unwrap(), f.format, "{}", f.file);
        let audio = read_audio(&path, &no_limit()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(audio.sample_rate, f.rate, "{}", f.file);
        assert_eq!(audio.channels, f.channels, "{}", f.file);
        assert_eq!(audio.encoding, f.encoding, "{}", f.file);
        assert_eq!(audio.cut_from_frames, None);
        let frames = audio.samples.len() as f64;
        let expected = SECONDS * f64::from(f.rate);
        assert!(
            (frames - expected).abs() <= MAX_FRAME,
            "{}: {frames} frames, expected {expected}",
            f.file
        );
        assert_eq!(dominant_hz(&audio.samples, f.rate), f.tone_hz, "{}", f.file);
        let amplitude = amplitude_at(&audio.samples, f.tone_hz, f.rate);
        assert!(
            (amplitude - f.amplitude).abs() < 0.1 * f.amplitude,
            "{}: amplitude {amplitude}",
            f.file
        );
    }
}

#[test]
fn clips_are_resampled_to_the_model_rate() {
    for f in &FIXTURES {
        let clip = load_clip(&fixture(f.file), &LoadOptions::default()).unwrap();
        assert_eq!(clip.sample_rate, 16_000);
        assert_eq!(clip.source.sample_rate, f.rate);
        assert_eq!(clip.source.encoding, f.encoding);
        assert!((clip.samples.len() as f64 - 8000.0).abs() <= MAX_FRAME * 16_000.0 / 22_050.0);
        assert_eq!(dominant_hz(&clip.samples, 16_000), f.tone_hz, "{}", f.file);
    }
}

#[test]
fn streaming_matches_whole_file_decoding() {
    for f in &FIXTURES {
        let whole = read_audio(&fixture(f.file), &no_limit()).unwrap();
        let mut stream = AudioStream::open_file(&fixture(f.file)).unwrap();
        assert_eq!(stream.format(), f.format);
        assert_eq!(stream.sample_rate(), f.rate);
        assert_eq!(stream.channels(), f.channels);
        let channels = usize::from(f.channels);
        // An odd buffer size, so reads straddle packet boundaries.
        let mut buf = vec![0.0; 333 * channels];
        let mut mono = Vec::new();
        loop {
            let n = stream.read_interleaved(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert_eq!(n % channels, 0);
            mono.extend(
                buf[..n]
                    .chunks_exact(channels)
                    .map(|fr| fr.iter().sum::<f32>() / channels as f32),
            );
        }
        assert_eq!(mono, whole.samples, "{}", f.file);
    }
}

#[test]
fn streams_can_move_to_another_thread() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<AudioStream>();
}

#[test]
fn the_content_picks_the_decoder_not_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let ogg_as_wav = dir.path().join("clip.wav");
    std::fs::copy(fixture(FIXTURES[0].file), &ogg_as_wav).unwrap();
    let audio = read_audio(&ogg_as_wav, &no_limit()).unwrap();
    assert_eq!(audio.encoding, Encoding::Vorbis);
    assert_eq!(sniff_file(&ogg_as_wav).unwrap(), AudioFormat::Ogg);

    let wav_as_txt = dir.path().join("notes.txt");
    let mut wav = hound::WavWriter::create(
        &wav_as_txt,
        hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .unwrap();
    for i in 0..4000 {
        let v = 8000.0 * (2.0 * PI * 500.0 * f64::from(i) / 8000.0).sin();
        wav.write_sample(v as i16).unwrap();
    }
    wav.finalize().unwrap();
    let audio = read_audio(&wav_as_txt, &no_limit()).unwrap();
    assert_eq!(audio.encoding, Encoding::Pcm(16));
    assert_eq!(
        audio.samples,
        read_wav(&wav_as_txt, &no_limit()).unwrap().samples
    );
    assert_eq!(dominant_hz(&audio.samples, 8000), 500.0);
}

#[test]
fn files_that_are_not_audio_say_how_they_start() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("cry.mp3");
    std::fs::write(&text, "this is a text file, not audio\n").unwrap();
    let err = read_audio(&text, &no_limit()).unwrap_err();
    assert_eq!(err.path, text);
    assert!(matches!(err.kind, DecodeError::NotAudio(_)));
    assert_eq!(
        err.kind.to_string(),
        "not an audio file: starts with \"this is a te\""
    );
    assert_eq!(
        sniff_file(&text).unwrap_err().kind.to_string(),
        err.kind.to_string()
    );

    let empty = dir.path().join("empty.flac");
    std::fs::write(&empty, b"").unwrap();
    let err = read_audio(&empty, &no_limit()).unwrap_err();
    assert_eq!(err.kind.to_string(), "not an audio file: the file is empty");

    let png = dir.path().join("cover.ogg");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR").unwrap();
    let err = read_audio(&png, &no_limit()).unwrap_err();
    assert!(err.kind.to_string().contains("89 50 4e 47"), "{}", err.kind);
}

#[test]
fn truncated_files_are_truncation_errors() {
    for f in &FIXTURES {
        let bytes = std::fs::read(fixture(f.file)).unwrap();
        for keep in [bytes.len() / 2, bytes.len() * 9 / 10, 40] {
            let err = AudioStream::open(Cursor::new(bytes[..keep].to_vec()))
                .and_then(|s| cry_core::audio::decode_audio(s, None))
                .expect_err(&format!("{} cut to {keep} bytes decoded", f.file));
            let truncated = matches!(
                err,
                DecodeError::TruncatedHeader(_)
                    | DecodeError::TruncatedData { .. }
                    | DecodeError::TruncatedStream { .. }
            );
            // 40 bytes can end before the probe has seen a whole MPEG frame header, and then no
            // stream is found at all.
            let no_stream = keep == 40 && matches!(err, DecodeError::Malformed(_));
            assert!(
                truncated || no_stream,
                "{} cut to {keep} bytes: {err}",
                f.file
            );
        }
    }
}

#[test]
fn unsupported_codecs_are_named() {
    let err = read_audio(&fixture("tone-500hz-48000hz-mono.opus"), &no_limit()).unwrap_err();
    assert!(matches!(err.kind, DecodeError::UnsupportedEncoding(_)));
    assert_eq!(err.kind.to_string(), "unsupported encoding: Opus in Ogg");

    let dir = tempfile::tempdir().unwrap();
    let alaw = dir.path().join("alaw.wav");
    std::fs::write(&alaw, wav_bytes(6, 1, 8000, 8, &[0xD5; 800])).unwrap();
    let err = read_audio(&alaw, &no_limit()).unwrap_err();
    assert!(matches!(err.kind, DecodeError::UnsupportedEncoding(_)));
    assert!(err.kind.to_string().contains("A-law"), "{}", err.kind);
}

#[test]
fn header_sample_rates_outside_the_decoded_range_are_refused() {
    for (rate, unsupported) in [(0, false), (7, true), (1_000_000, true)] {
        let bytes = wav_bytes(1, 1, rate, 16, &[0; 64]);
        let err = AudioStream::open(Cursor::new(bytes))
            .and_then(|s| cry_core::audio::decode_audio(s, None))
            .unwrap_err();
        match err {
            DecodeError::UnsupportedEncoding(_) if unsupported => {}
            DecodeError::Malformed(_) if !unsupported => {}
            other => panic!("{rate} Hz: {other}"),
        }
    }
}

#[test]
fn long_compressed_clips_are_cut_and_their_length_reported() {
    for f in &FIXTURES {
        let options = LoadOptions {
            max_seconds: Some(0.25),
            ..LoadOptions::default()
        };
        let full = read_audio(&fixture(f.file), &no_limit()).unwrap();
        let cut = read_audio(&fixture(f.file), &options).unwrap();
        let limit = (0.25 * f64::from(f.rate)).ceil() as usize;
        assert_eq!(cut.samples.len(), limit, "{}", f.file);
        assert_eq!(cut.samples[..], full.samples[..cut.samples.len()]);
        assert_eq!(
            cut.cut_from_frames,
            Some(full.samples.len() as u64),
            "{}",
            f.file
        );
    }
}

/// A canonical 44-byte-header WAV with any format tag.
fn wav_bytes(format_tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block_align = channels * bits / 8;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&format_tag.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.wrapping_mul(u32::from(block_align)).to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}
