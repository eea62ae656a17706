//! The pipeline without a model: no allocation per window once running, and a full ring is
//! counted, not fatal.
#![allow(unsafe_code)] // a counting global allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use edge_infer::engine::{Classifier, EngineError};
use edge_infer::output::EventWriter;
use edge_infer::stream::feed::{Pace, spawn_feeder};
use edge_infer::stream::{
    AudioSource, Detector, DetectorConfig, Format, Pump, Read, SourceError, Stop,
};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT_HERE.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNT_HERE.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Logits from simple statistics of the window; optionally slow.
struct StandIn {
    window: usize,
    delay: Duration,
}

impl Classifier for StandIn {
    fn window_samples(&self) -> usize {
        self.window
    }
    fn classes(&self) -> usize {
        3
    }
    fn logits(&mut self, window: &[f32], out: &mut [f32]) -> Result<Option<f32>, EngineError> {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let mean = window.iter().sum::<f32>() / window.len() as f32;
        let energy = window.iter().map(|s| s * s).sum::<f32>() / window.len() as f32;
        out.copy_from_slice(&[mean, energy, -energy]);
        Ok(None)
    }
}

/// A tone switched on and off every 5 s, generated on the fly (no allocation).
struct Generator {
    format: Format,
    frames_left: usize,
    frame: usize,
}

impl AudioSource for Generator {
    fn format(&self) -> Format {
        self.format
    }
    fn read(&mut self, out: &mut [f32]) -> Result<Read, SourceError> {
        let channels = usize::from(self.format.channels);
        let frames = (out.len() / channels).min(self.frames_left).min(333);
        if frames == 0 {
            return Ok(Read::End);
        }
        for f in 0..frames {
            let t = (self.frame + f) as f32 / self.format.sample_rate as f32;
            // 5 s of tone, 5 s of silence: both gated and classified windows.
            let on = (self.frame + f) / (5 * self.format.sample_rate as usize) % 2 == 0;
            let v = if on {
                0.3 * (std::f32::consts::TAU * 300.0 * t).sin()
            } else {
                0.0
            };
            for c in 0..channels {
                out[f * channels + c] = v;
            }
        }
        self.frame += frames;
        self.frames_left -= frames;
        Ok(Read::Samples(frames * channels))
    }
}

fn labels() -> Vec<String> {
    ["a", "b", "c"].map(String::from).to_vec()
}

#[test]
fn a_running_detector_does_not_allocate_per_window() {
    // 44.1 kHz stereo: downmix and the streaming resampler are on the path.
    let format = Format {
        sample_rate: 44_100,
        channels: 2,
    };
    let classifier = StandIn {
        window: 48_000,
        delay: Duration::ZERO,
    };
    // A window every second: the most windows the pipeline has ever run per second of audio.
    let config = DetectorConfig {
        hop_samples: 16_000,
        ..DetectorConfig::default()
    };
    let mut detector = Detector::new(classifier, config).unwrap();
    let stop = AtomicBool::new(false);
    let mut sink = EventWriter::new(std::io::sink(), &labels());
    let mut pump = Pump::default();
    let mut warm_up = Generator {
        format,
        frames_left: 44_100 * 5,
        frame: 0,
    };
    pump.run(&mut warm_up, &mut detector, &mut sink, &stop)
        .unwrap();
    let windows_before = detector.summary().windows;

    let mut steady = Generator {
        format,
        frames_left: 44_100 * 120,
        frame: 44_100 * 5,
    };
    COUNT_HERE.with(|c| c.set(true));
    pump.run(&mut steady, &mut detector, &mut sink, &stop)
        .unwrap();
    COUNT_HERE.with(|c| c.set(false));
    let windows = detector.summary().windows - windows_before;
    assert!(windows >= 115, "{windows} windows");
    let gated = detector.summary().gated;
    assert!(
        gated > 10 && gated < windows,
        "{gated} of {windows} windows gated"
    );
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "allocations over {windows} windows"
    );
}

#[test]
fn a_full_ring_is_counted_and_the_stream_goes_on() {
    let format = Format {
        sample_rate: 16_000,
        channels: 1,
    };
    let source = Generator {
        format,
        frames_left: 16_000 * 3,
        frame: 0,
    };
    // A 50 ms ring fed like a device, and a model that takes 300 ms a window.
    let (mut ring, feeder) = spawn_feeder(source, Pace::Realtime, 0.05);
    let classifier = StandIn {
        window: 16_000,
        delay: Duration::from_millis(300),
    };
    let config = DetectorConfig {
        hop_samples: 8_000,
        gate_dbfs: -200.0,
        ..DetectorConfig::default()
    };
    let mut detector = Detector::new(classifier, config).unwrap();
    let mut out = EventWriter::new(Vec::new(), &labels());
    let stop = AtomicBool::new(false);
    let result = Pump::default()
        .run(&mut ring, &mut detector, &mut out, &stop)
        .unwrap();
    feeder.join().unwrap();
    assert_eq!(result, Stop::EndOfInput);
    let dropped = detector.summary().dropped_samples;
    assert!(dropped > 0, "nothing dropped");
    assert!(detector.summary().windows >= 1);
    let text = String::from_utf8(out.into_inner()).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(last["dropped_samples"].as_u64().unwrap() > 0, "{last}");
}
