//! `edge-infer bench`: what one board does with one model.

use std::time::Instant;

use cry_core::contract::SAMPLE_RATE_HZ;
use serde::Serialize;

use crate::engine::{Classifier, Engine, EngineError, Profile};
use crate::sysinfo;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Timed windows.
    pub iters: usize,
    /// Untimed windows first.
    pub warmup: usize,
    /// Also time each operator (one extra pass over `iters` windows).
    pub profile: bool,
}

/// Latency statistics in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Fastest window.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Slowest window.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// Time spent in one operator kind.
#[derive(Debug, Clone, Serialize)]
pub struct OpShare {
    /// tract's operator name.
    pub op: String,
    /// Nodes of that kind.
    pub nodes: usize,
    /// Milliseconds per window.
    pub ms_per_window: f64,
    /// Share of the profiled time.
    pub share: f64,
}

/// A benchmark result.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// CPU, architecture, SIMD features.
    pub ran_on: String,
    /// tract's matrix-product threads.
    pub threads: usize,
    /// tract version.
    pub tract: String,
    /// The model file.
    pub model: String,
    /// `fp32` or `int8-dynamic`, from the metadata.
    pub quantization: String,
    /// The arithmetic tract ran the graph in (`--precision`).
    pub precision: crate::engine::Precision,
    /// Samples per window.
    pub window_samples: usize,
    /// Multiply-accumulates per window (tract's cost model).
    pub macs_per_window: u64,
    /// Samples between the stream's windows (the model's hop, or `--hop`).
    pub hop_samples: usize,
    /// G multiply-accumulates per second of streamed audio: one window every hop, all of them
    /// through the model (the energy gate, which skips quiet windows, only lowers it).
    pub gmac_per_audio_second: f64,
    /// Seconds to read, check and optimise the model.
    pub load_seconds: f64,
    /// Windows timed.
    pub iters: usize,
    /// Per-window latency.
    pub latency_ms: Latency,
    /// Mean latency over the hop: the share of one core's real time the stream needs.
    pub real_time_factor: f64,
    /// Peak resident memory of the process, MiB.
    pub peak_rss_mib: Option<f64>,
    /// Slowest operators first, when profiled.
    pub profile: Option<Vec<OpShare>>,
}

/// Deterministic test audio: a 450 Hz tone in noise at about -20 dBFS.
pub fn test_window(len: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let tone = (std::f32::consts::TAU * 450.0 * i as f32 / SAMPLE_RATE_HZ as f32).sin();
            0.1 * tone + 0.05 * noise
        })
        .collect()
}

/// G multiply-accumulates per second of audio for `macs_per_window` every `hop_samples`.
pub fn gmac_per_audio_second(macs_per_window: u64, hop_samples: usize) -> f64 {
    macs_per_window as f64 * f64::from(SAMPLE_RATE_HZ) / hop_samples as f64 / 1e9
}

/// Runs the benchmark on `engine`, streamed at a window every `hop_samples`.
pub fn run(
    engine: &Engine,
    config: &BenchConfig,
    hop_samples: usize,
) -> Result<BenchReport, EngineError> {
    let metadata = engine.metadata();
    let window = test_window(metadata.window_samples);
    let mut logits = vec![0.0; metadata.labels.len()];
    let mut session = engine.session()?;
    for _ in 0..config.warmup {
        session.logits(&window, &mut logits)?;
    }
    let mut times = Vec::with_capacity(config.iters);
    for _ in 0..config.iters.max(1) {
        let started = Instant::now();
        session.logits(&window, &mut logits)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let profile = if config.profile {
        let mut profile = Profile::default();
        for _ in 0..config.iters.max(1) {
            session.profile(&window, &mut profile)?;
        }
        let ops = profile.ops();
        let total: f64 = ops.iter().map(|o| o.total.as_secs_f64()).sum();
        Some(
            ops.iter()
                .map(|o| OpShare {
                    op: o.op.clone(),
                    nodes: o.nodes,
                    ms_per_window: o.total.as_secs_f64() * 1e3 / profile.runs() as f64,
                    share: o.total.as_secs_f64() / total,
                })
                .collect(),
        )
    } else {
        None
    };
    let latency = latency_stats(&mut times);
    let hop_ms = hop_samples as f64 * 1e3 / f64::from(SAMPLE_RATE_HZ);
    Ok(BenchReport {
        ran_on: sysinfo::cpu_description(),
        threads: engine.threads(),
        tract: sysinfo::TRACT_VERSION.to_string(),
        model: engine.path().display().to_string(),
        quantization: metadata.quantization.clone(),
        precision: engine.precision(),
        window_samples: metadata.window_samples,
        macs_per_window: engine.macs_per_window(),
        hop_samples,
        gmac_per_audio_second: gmac_per_audio_second(engine.macs_per_window(), hop_samples),
        load_seconds: engine.load_seconds(),
        iters: times.len(),
        real_time_factor: latency.mean / hop_ms,
        latency_ms: latency,
        peak_rss_mib: sysinfo::peak_rss_bytes().map(|b| b as f64 / (1024.0 * 1024.0)),
        profile,
    })
}

/// Nearest-rank percentiles; sorts `times`.
pub fn latency_stats(times: &mut [f64]) -> Latency {
    times.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let i = ((p / 100.0) * times.len() as f64).ceil() as usize;
        times[i.clamp(1, times.len()) - 1]
    };
    Latency {
        min: times[0],
        p50: rank(50.0),
        p95: rank(95.0),
        p99: rank(99.0),
        max: times[times.len() - 1],
        mean: times.iter().sum::<f64>() / times.len() as f64,
    }
}

impl BenchReport {
    /// The human-readable report; its first line says what it ran on.
    pub fn to_text(&self) -> String {
        let l = &self.latency_ms;
        let mut text = format!(
            "ran on: {}; {} thread(s); tract {}\n\
             model: {} ({}, run in {}, window {} samples = {:.2} s, {:.2} GMAC/window)\n\
             compute: {:.2} GMAC per second of audio (a window every {:.1} s)\n\
             load: {:.3} s\n\
             latency over {} windows (ms): min {:.2}  p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}\n\
             real-time factor (mean latency / {:.1} s hop): {:.3}\n",
            self.ran_on,
            self.threads,
            self.tract,
            self.model,
            self.quantization,
            self.precision.as_str(),
            self.window_samples,
            self.window_samples as f64 / f64::from(SAMPLE_RATE_HZ),
            self.macs_per_window as f64 / 1e9,
            self.gmac_per_audio_second,
            self.hop_samples as f64 / f64::from(SAMPLE_RATE_HZ),
            self.load_seconds,
            self.iters,
            l.min,
            l.p50,
            l.p95,
            l.p99,
            l.max,
            l.mean,
            self.hop_samples as f64 / f64::from(SAMPLE_RATE_HZ),
            self.real_time_factor,
        );
        match self.peak_rss_mib {
            Some(mib) => text.push_str(&format!("peak RSS: {mib:.1} MiB\n")),
            None => text.push_str("peak RSS: not reported by this OS\n"),
        }
        if let Some(ops) = &self.profile {
            text.push_str("profile (per window, slowest operators first):\n");
            for op in ops.iter().take(15) {
                text.push_str(&format!(
                    "  {:>8.2} ms  {:>5.1} %  {:>4} node(s)  {}\n",
                    op.ms_per_window,
                    op.share * 100.0,
                    op.nodes,
                    op.op
                ));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut times: Vec<f64> = (1..=100).map(f64::from).rev().collect();
        let l = latency_stats(&mut times);
        assert_eq!(
            (l.min, l.p50, l.p95, l.p99, l.max),
            (1.0, 50.0, 95.0, 99.0, 100.0)
        );
        assert!((l.mean - 50.5).abs() < 1e-12);
        let l = latency_stats(&mut [3.0]);
        assert_eq!((l.p50, l.p99), (3.0, 3.0));
    }

    #[test]
    fn compute_per_second_counts_every_window_of_the_hop() {
        // DistilHuBERT's 10.33 G per 3 s window: one window per second at a 1 s hop (each
        // second of audio goes through the model three times), one every 2 s at a 2 s hop.
        assert!((gmac_per_audio_second(10_330_000_000, 16_000) - 10.33).abs() < 1e-9);
        assert!((gmac_per_audio_second(10_330_000_000, 32_000) - 5.165).abs() < 1e-9);
    }

    #[test]
    fn test_window_is_deterministic_and_not_quiet() {
        let a = test_window(16_000);
        assert_eq!(a, test_window(16_000));
        let db = cry_core::windows::rms_dbfs(&a);
        assert!((-25.0..-15.0).contains(&db), "{db} dBFS");
    }
}
