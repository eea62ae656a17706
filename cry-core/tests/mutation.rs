//! Hostile input: a seeded mutation harness over the decoder entry point.
//!
//! Valid files (WAVs written here and the fixtures in `tests/fixtures/`) are corrupted by
//! truncation, byte and bit flips, huge declared sizes (RIFF/data chunk sizes, MP4 box sizes and
//! entry counts, Ogg page fields, FLAC block lengths, ID3 sizes), wrong magic bytes, spliced
//! headers, cut and repeated ranges. Every case must end in `Ok` or a typed error: no panic, no
//! hang (each case runs on its own thread with a deadline) and no allocation beyond a cap (a
//! counting global allocator in this test binary measures each case's peak, and refuses any single
//! request above the cap).
//!
//! `CRY_MUTATION_CASES` sets the case count (default 300, so `cargo test` stays fast);
//! `CRY_MUTATION_SEED` the seed. A failure names its case number, which reproduces it alone with
//! `CRY_MUTATION_ONLY=<case>`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cry_core::audio::{AudioStream, DecodeError, clip_from_decoded, decode_audio, decode_wav};

/// No case may hold more than this at once, nor ask for more in one request.
const MEMORY_CAP: usize = 256 << 20;
/// No case may take longer than this.
const DEADLINE: Duration = Duration::from_secs(2);
/// The decoder's default cut, as `load_clip` applies it.
const MAX_SECONDS: f32 = 30.0;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static OVERSIZED: AtomicUsize = AtomicUsize::new(0);

struct Counting;

impl Counting {
    fn grow(size: usize) {
        let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    /// Refuses (and records) a request over the cap; otherwise counts it.
    fn admit(size: usize) -> bool {
        if size > MEMORY_CAP {
            OVERSIZED.store(size, Ordering::Relaxed);
            eprintln!(
                "mutation harness: one allocation of {size} bytes asked for (cap {MEMORY_CAP})"
            );
            return false;
        }
        Self::grow(size);
        true
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::admit(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::admit(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MEMORY_CAP {
            OVERSIZED.store(new_size, Ordering::Relaxed);
            eprintln!(
                "mutation harness: one allocation of {new_size} bytes asked for (cap {MEMORY_CAP})"
            );
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from `alloc` with `layout`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            Self::grow(new_size);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// SplitMix64: small, seedable, and enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

const HUGE: [u32; 6] = [
    0xFFFF_FFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0x00FF_FFFF,
    0x0100_0000,
    0xFFFF_FFF0,
];

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, donors: &[(String, Vec<u8>)]) -> String {
    let len = bytes.len();
    match rng.below(9) {
        0 => {
            let keep = rng.below(len + 1);
            bytes.truncate(keep);
            format!("truncate to {keep}")
        }
        1 => {
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let at = rng.below(len);
                bytes[at] = rng.next() as u8;
            }
            format!("{n} random bytes")
        }
        2 => {
            let n = 1 + rng.below(16);
            for _ in 0..n {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
            format!("{n} bit flips")
        }
        3 | 4 => {
            // A huge size or count next to a container marker.
            let hits: Vec<(usize, &[u8])> = MARKERS
                .iter()
                .flat_map(|m| {
                    bytes
                        .windows(m.len())
                        .enumerate()
                        .filter(move |(_, w)| w == m)
                        .map(move |(i, _)| (i, *m))
                })
                .collect();
            if hits.is_empty() {
                return "no marker".into();
            }
            let (at, marker) = hits[rng.below(hits.len())];
            let offsets: [isize; 8] = [-4, 4, 6, 8, 12, 16, 18, 22];
            let off = offsets[rng.below(offsets.len())];
            let pos = at as isize + off;
            if pos < 0 || pos as usize + 4 > bytes.len() {
                return "marker at the edge".into();
            }
            let pos = pos as usize;
            let value = if rng.below(4) == 0 {
                rng.next() as u32
            } else {
                HUGE[rng.below(HUGE.len())]
            };
            let big_endian = rng.below(2) == 0;
            let raw = if big_endian {
                value.to_be_bytes()
            } else {
                value.to_le_bytes()
            };
            bytes[pos..pos + 4].copy_from_slice(&raw);
            format!(
                "{value:#x} ({}) at {:?}{off:+}",
                if big_endian { "BE" } else { "LE" },
                String::from_utf8_lossy(marker)
            )
        }
        5 => {
            // Another format's header in front of this body, or this header on another body.
            let (name, donor) = &donors[rng.below(donors.len())];
            let cut = rng.below(donor.len().min(256) + 1);
            let keep_from = rng.below(len.min(256) + 1);
            let mut spliced = donor[..cut].to_vec();
            spliced.extend_from_slice(&bytes[keep_from..]);
            *bytes = spliced;
            format!("{cut} bytes of {name} over the first {keep_from}")
        }
        6 => {
            let from = rng.below(len);
            let to = (from + 1 + rng.below(512)).min(len);
            bytes.drain(from..to);
            format!("cut {from}..{to}")
        }
        7 => {
            let from = rng.below(len);
            let to = (from + 1 + rng.below(4096)).min(len);
            let times = 1 + rng.below(16);
            let range = bytes[from..to].to_vec();
            for _ in 0..times {
                bytes.splice(to..to, range.iter().copied());
            }
            format!("repeat {from}..{to} x{times}")
        }
        _ => {
            let from = rng.below(len);
            let to = (from + 1 + rng.below(1024)).min(len);
            let fill = [0x00, 0xFF][rng.below(2)];
            bytes[from..to].fill(fill);
            format!("fill {from}..{to} with {fill:#04x}")
        }
    }
}

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
    let cases = env_u64("CRY_MUTATION_CASES", 300);
    let seed = env_u64("CRY_MUTATION_SEED", 13);
    let only = std::env::var("CRY_MUTATION_ONLY")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let seeds = seeds();
    let started = Instant::now();
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut examples: BTreeMap<String, String> = BTreeMap::new();
    let mut slowest = (Duration::ZERO, String::new());
    let mut peak_max = 0usize;
    let mut ran = 0u64;
    for case in 0..cases {
        if only.is_some_and(|o| o != case) {
            continue;
        }
        let mut rng = Rng(seed ^ case.wrapping_mul(0xA076_1D64_78BD_642F));
        let (name, original) = &seeds[rng.below(seeds.len())];
        let mut bytes = original.clone();
        let mut steps = Vec::new();
        for _ in 0..1 + rng.below(3) {
            if bytes.is_empty() {
                break;
            }
            steps.push(mutate(&mut rng, &mut bytes, &seeds));
        }
        let what = format!("case {case} (seed {seed}): {name}: {}", steps.join("; "));

        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let t0 = Instant::now();
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(|| decode(bytes));
            let _ = tx.send(outcome);
        });
        let (outcome, message) = match rx.recv_timeout(DEADLINE) {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => panic!("{what}: panicked"),
            Err(_) => panic!("{what}: still running after {DEADLINE:?}"),
        };
        let took = t0.elapsed();
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        assert_eq!(OVERSIZED.load(Ordering::Relaxed), 0, "{what}");
        assert!(peak < MEMORY_CAP, "{what}: peak {peak} bytes");
        if took > slowest.0 {
            slowest = (took, what);
        }
        examples.entry(outcome.clone()).or_insert(message);
        peak_max = peak_max.max(peak);
        *outcomes.entry(outcome).or_default() += 1;
        ran += 1;
    }
    eprintln!(
        "mutation harness: {ran} cases in {:.1} s (seed {seed}); largest peak {:.1} MiB; \
         outcomes {outcomes:?}\nslowest {:.0} ms: {}",
        started.elapsed().as_secs_f64(),
        peak_max as f64 / (1 << 20) as f64,
        slowest.0.as_secs_f64() * 1000.0,
        slowest.1
    );
    for (outcome, message) in &examples {
        eprintln!("  e.g. {outcome}: {message}");
    }
    assert!(ran > 0 || only.is_some());
}
