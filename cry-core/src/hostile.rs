//! A seeded mutation harness for the parsers of untrusted files: the audio decoder here, the
//! checkpoint loader in host-train. Valid files are corrupted (truncation, byte and bit flips,
//! huge sizes next to container markers, spliced headers, cut and repeated ranges); every case
//! runs on its own thread with a deadline, and a counting global allocator, which the test
//! binary installs, measures its peak memory and refuses any single request above a cap.
//!
//! Test support shared by the crates' tests; nothing in the product calls it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::panic::UnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static OVERSIZED: AtomicUsize = AtomicUsize::new(0);

/// A global allocator that counts live bytes and refuses (with a message) any one request above
/// its cap. Install it in a test binary with `#[global_allocator]`.
pub struct CountingAlloc {
    cap: usize,
}

impl CountingAlloc {
    /// Refuses single requests above `cap` bytes.
    pub const fn new(cap: usize) -> Self {
        Self { cap }
    }

    fn grow(size: usize) {
        let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    /// Refuses (and records) a request over the cap.
    fn admit(&self, size: usize) -> bool {
        if size > self.cap {
            OVERSIZED.store(size, Ordering::Relaxed);
            eprintln!(
                "mutation harness: one allocation of {size} bytes asked for (cap {})",
                self.cap
            );
            return false;
        }
        true
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.admit(layout.size()) {
            return std::ptr::null_mut();
        }
        Self::grow(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.admit(layout.size()) {
            return std::ptr::null_mut();
        }
        Self::grow(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.admit(new_size) {
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

/// SplitMix64: small, seedable, and enough to pick mutations.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Sizes and counts that overflow or exhaust a careless parser.
const HUGE: [u32; 6] = [
    0xFFFF_FFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0x00FF_FFFF,
    0x0100_0000,
    0xFFFF_FFF0,
];

/// Applies one random corruption to `bytes` (non-empty) and says what it did. `markers` are
/// byte strings near which the format keeps sizes and counts; `donors` lend foreign headers.
pub fn mutate(
    rng: &mut Rng,
    bytes: &mut Vec<u8>,
    donors: &[(String, Vec<u8>)],
    markers: &[&[u8]],
) -> String {
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
                bytes[at] = rng.next_u64() as u8;
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
            let hits: Vec<(usize, &[u8])> = markers
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
                rng.next_u64() as u32
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

/// How many cases, from which seed, and the bounds each must keep.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Cases to run.
    pub cases: u64,
    /// Seed of the whole run; case `n` draws from `seed` and `n` only.
    pub seed: u64,
    /// Run only this case (to reproduce a failure).
    pub only: Option<u64>,
    /// No case may take longer.
    pub deadline: Duration,
    /// No case may hold more bytes at once (must not exceed the installed allocator's cap).
    pub memory_cap: usize,
}

impl Budget {
    /// `<PREFIX>_CASES` (default `default_cases`), `<PREFIX>_SEED` and `<PREFIX>_ONLY` from the
    /// environment.
    pub fn from_env(
        prefix: &str,
        default_cases: u64,
        deadline: Duration,
        memory_cap: usize,
    ) -> Self {
        let var = |name: &str| {
            std::env::var(format!("{prefix}_{name}"))
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
        };
        Self {
            cases: var("CASES").unwrap_or(default_cases),
            seed: var("SEED").unwrap_or(13),
            only: var("ONLY"),
            deadline,
            memory_cap,
        }
    }
}

/// Runs `budget.cases` cases. Each picks a seed file, corrupts it one to three times with
/// [`mutate`] (or with `extra`, when it returns a description), and hands it to `parse`, which
/// returns the outcome's name and message. Panics, naming the case, if a case panics, outlives
/// the deadline or exceeds the memory cap; returns the tally of outcomes.
pub fn run<F>(
    budget: &Budget,
    seeds: &[(String, Vec<u8>)],
    markers: &[&[u8]],
    mut extra: impl FnMut(&mut Rng, &str, &mut Vec<u8>) -> Option<String>,
    parse: F,
) -> Tally
where
    F: Fn(String, Vec<u8>) -> (String, String) + Clone + Send + UnwindSafe + 'static,
{
    let mut tally = Tally::default();
    let started = Instant::now();
    for case in 0..budget.cases {
        if budget.only.is_some_and(|o| o != case) {
            continue;
        }
        let mut rng = Rng(budget.seed ^ case.wrapping_mul(0xA076_1D64_78BD_642F));
        let (name, original) = &seeds[rng.below(seeds.len())];
        let mut bytes = original.clone();
        let mut steps = Vec::new();
        for _ in 0..1 + rng.below(3) {
            if bytes.is_empty() {
                break;
            }
            let step = match extra(&mut rng, name, &mut bytes) {
                Some(step) => step,
                None => mutate(&mut rng, &mut bytes, seeds, markers),
            };
            steps.push(step);
        }
        let what = format!(
            "case {case} (seed {}): {name}: {}",
            budget.seed,
            steps.join("; ")
        );

        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let t0 = Instant::now();
        let parse = parse.clone();
        let name = name.clone();
        std::thread::spawn(move || {
            let outcome = std::panic::catch_unwind(move || parse(name, bytes));
            let _ = tx.send(outcome);
        });
        let (outcome, message) = match rx.recv_timeout(budget.deadline) {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => panic!("{what}: panicked"),
            Err(_) => panic!("{what}: still running after {:?}", budget.deadline),
        };
        let took = t0.elapsed();
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        assert_eq!(OVERSIZED.load(Ordering::Relaxed), 0, "{what}");
        assert!(peak < budget.memory_cap, "{what}: peak {peak} bytes");
        if took > tally.slowest.0 {
            tally.slowest = (took, what);
        }
        tally.examples.entry(outcome.clone()).or_insert(message);
        tally.peak_max = tally.peak_max.max(peak);
        *tally.outcomes.entry(outcome).or_default() += 1;
        tally.ran += 1;
    }
    tally.seconds = started.elapsed().as_secs_f64();
    tally
}

/// What a run of cases ended in.
#[derive(Debug, Default)]
pub struct Tally {
    /// Cases run.
    pub ran: u64,
    /// Cases per outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// One message per outcome.
    pub examples: BTreeMap<String, String>,
    /// The slowest case and what it was.
    pub slowest: (Duration, String),
    /// The largest peak of any case, bytes.
    pub peak_max: usize,
    /// Wall time of the run, seconds.
    pub seconds: f64,
}

impl Tally {
    /// Prints the figures on stderr (`cargo test -- --nocapture` shows them).
    pub fn print(&self, what: &str, budget: &Budget) {
        eprintln!(
            "mutation harness ({what}): {} cases in {:.1} s (seed {}); largest peak {:.1} MiB; \
             outcomes {:?}\nslowest {:.0} ms: {}",
            self.ran,
            self.seconds,
            budget.seed,
            self.peak_max as f64 / (1 << 20) as f64,
            self.outcomes,
            self.slowest.0.as_secs_f64() * 1000.0,
            self.slowest.1
        );
        for (outcome, message) in &self.examples {
            eprintln!("  e.g. {outcome}: {message}");
        }
    }
}
