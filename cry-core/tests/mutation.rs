//! Hostile input: a seeded mutation harness over the decoder entry point.
//!
//! Valid files (WAVs written here and the fixtures in `tests/fixtures/`) are corrupted by
//! truncation, byte and bit flips, huge declared sizes (RIFF/data chunk sizes, MP4 box sizes and
//! entry counts, Ogg page fields, FLAC block lengths, ID3 sizes), wrong magic bytes, spliced
//! headers, cut and repeated ranges ([`cry_core::hostile`]). Every case must end in `Ok` or a
//! typed error: no panic, no hang (each case runs on its own thread with a deadline) and no
//! allocation beyond a cap (a counting global allocator in this test binary measures each case's
//! peak, and refuses any single request above the cap).
//!
//! `CRY_MUTATION_CASES` sets the case count (default 300, so `cargo test` stays fast);
//! `CRY_MUTATION_SEED` the seed. A failure names its case number, which reproduces it alone with
//! `CRY_MUTATION_ONLY=<case>`.

use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use cry_core::audio::{AudioStream, DecodeError, clip_from_decoded, decode_audio, decode_wav};
use cry_core::hostile::{self, Budget, CountingAlloc};

/// No case may hold more than this at once, nor ask for more in one request.
const MEMORY_CAP: usize = 256 << 20;
/// No case may take longer than this.
const DEADLINE: Duration = Duration::from_secs(2);
/// The decoder's default cut, as `load_clip` applies it.
const MAX_SECONDS: f32 = 30.0;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc::new(MEMORY_CAP);

/// The valid files every case starts from.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let wavs = [
        (1u16, 16_000u32, 16u16, hound::SampleFormat::Int),
        (2, 44_100, 24, hound::SampleFormat::Int),
        (1, 8000, 8, hound::SampleFormat::Int),
        (2, 22_050, 32, hound::SampleFormat::Float),
    ];
    for (channels, rate, bits, format) in wavs {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        };
        let mut bytes = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut bytes, spec).unwrap();
        for i in 0..(rate / 20) * u32::from(channels) {
            let x = (f64::from(i) * 0.05).sin() * 0.5;
            match format {
                hound::SampleFormat::Float => w.write_sample(x as f32).unwrap(),
                hound::SampleFormat::Int => w
                    .write_sample((x * f64::from((1u32 << (bits - 1)) - 1)) as i32)
                    .unwrap(),
            }
        }
        w.finalize().unwrap();
        out.push((
            format!("wav-{channels}ch-{rate}hz-{bits}bit"),
            bytes.into_inner(),
        ));
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("tone-"))
        .collect();
    names.sort();
    for name in names {
        let bytes = std::fs::read(fixtures.join(&name)).unwrap();
        out.push((name, bytes));
    }
    out
}

/// Markers near which containers keep sizes and counts.
const MARKERS: [&[u8]; 22] = [
    b"RIFF",
    b"WAVE",
    b"fmt ",
    b"data",
    b"LIST",
    b"OggS",
    b"vorbis",
    b"OpusHead",
    b"fLaC",
    b"ID3",
    b"Xing",
    b"Info",
    b"ftyp",
    b"moov",
    b"trak",
    b"mdia",
    b"stsd",
    b"stts",
    b"stsc",
    b"stsz",
    b"stco",
    b"mdat",
];

/// What one case ended in: "ok" or the error variant's name, and the message.
fn decode(bytes: Vec<u8>) -> (String, String) {
    let wav = decode_wav(Cursor::new(bytes.clone()), Some(MAX_SECONDS));
    let any = AudioStream::open(Cursor::new(bytes))
        .and_then(|s| decode_audio(s, Some(MAX_SECONDS)))
        .and_then(|d| clip_from_decoded(d, 16_000));
    if let (Ok(w), Ok(_)) = (&wav, &any) {
        assert!(w.samples.iter().all(|v| v.is_finite()));
    }
    match any {
        Ok(clip) => {
            assert!(clip.samples.iter().all(|v| v.is_finite()));
            ("ok".into(), String::new())
        }
        Err(e) => (variant(&e).into(), e.to_string()),
    }
}

fn variant(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::NotWav(_) => "not_wav",
        DecodeError::NotAudio(_) => "not_audio",
        DecodeError::TruncatedHeader(_) => "truncated_header",
        DecodeError::TruncatedData { .. } => "truncated_data",
        DecodeError::TruncatedStream { .. } => "truncated_stream",
        DecodeError::Malformed(_) => "malformed",
        DecodeError::Corrupt { .. } => "corrupt",
        DecodeError::ZeroSamples => "zero_samples",
        DecodeError::NonFinite { .. } => "non_finite",
        DecodeError::OutOfRange { .. } => "out_of_range",
        DecodeError::UnsupportedEncoding(_) => "unsupported",
        DecodeError::Resample { .. } => "resample",
        DecodeError::Io(_) => "io",
    }
}

#[test]
fn hostile_files_end_in_typed_errors_within_time_and_memory() {
    let budget = Budget::from_env("CRY_MUTATION", 300, DEADLINE, MEMORY_CAP);
    let seeds = seeds();
    let tally = hostile::run(
        &budget,
        &seeds,
        &MARKERS,
        |_, _, _| None,
        |_, bytes| decode(bytes),
    );
    tally.print("decoder", &budget);
    assert!(tally.ran > 0 || budget.only.is_some());
}
