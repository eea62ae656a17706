//! From samples to cry events: resample to the model rate, keep the last window, advance by
//! the hop, gate quiet windows, classify, smooth, debounce.
//!
//! Once running, a window costs no allocation on this side: every buffer is sized at
//! construction and reused (tract allocates its own intermediate tensors inside a run).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use cry_core::contract::{HOP_SAMPLES, SAMPLE_RATE_HZ};
use heapless::Deque;

use super::json::{push_f64, push_str};
use super::resample::StreamResampler;
use super::source::{AudioSource, Format, Read, SourceError};
use crate::engine::{Classifier, EngineError, MAX_CLASSES};
use cry_core::scoring::{argmax, softmax};

/// The longest smoothing history (`--smooth`).
pub const MAX_SMOOTHING: usize = 32;

/// Interleaved samples read from the source per call.
const READ_SAMPLES: usize = 4096;

/// How the detector decides.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Samples (at the model rate) between consecutive windows.
    pub hop_samples: usize,
    /// Windows quieter than this RMS level (dB relative to full scale) are not classified.
    pub gate_dbfs: f32,
    /// Probabilities are averaged over the last this many classified windows.
    pub smoothing: usize,
    /// A `cry` event needs the same label in this many consecutive windows.
    pub debounce: usize,
    /// A `calm` event follows this many consecutive quiet windows after a cry.
    pub calm_windows: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            hop_samples: HOP_SAMPLES,
            gate_dbfs: -50.0,
            smoothing: 3,
            debounce: 2,
            calm_windows: 3,
        }
    }
}

impl DetectorConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.hop_samples == 0 {
            return Err("--hop must be positive".into());
        }
        if !(1..=MAX_SMOOTHING).contains(&self.smoothing) {
            return Err(format!("--smooth must be in 1..={MAX_SMOOTHING}"));
        }
        if self.debounce == 0 || self.calm_windows == 0 {
            return Err("--debounce and --calm-windows must be at least 1".into());
        }
        if !self.gate_dbfs.is_finite() {
            return Err("--gate-dbfs must be a number".into());
        }
        Ok(())
    }
}

/// Why the detector stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// The audio input failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The model failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Writing the output failed (e.g. a closed pipe).
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// The source's format cannot be handled.
    #[error("{0}")]
    Setup(String),
}

/// Why [`Detector::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The source ended.
    EndOfInput,
    /// The stop flag was raised (SIGINT).
    Interrupted,
}

/// Totals over a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Model-rate samples received.
    pub samples: u64,
    /// Windows considered.
    pub windows: u64,
    /// Windows under the gate.
    pub gated: u64,
    /// `cry` events.
    pub cry_events: u64,
    /// `calm` events.
    pub calm_events: u64,
    /// Samples the source dropped (full ring).
    pub dropped_samples: u64,
    /// Sum and maximum of the model latency, in seconds.
    pub latency_sum: f64,
    /// Largest model latency, in seconds.
    pub latency_max: f64,
}

/// The streaming state of one input: buffers, smoothing history, debounce state.
pub struct Detector<C: Classifier> {
    classifier: C,
    config: DetectorConfig,
    labels: Vec<String>,
    window: usize,
    format: Option<Format>,
    resampler: StreamResampler,
    read_buf: Vec<f32>,
    mono: Vec<f32>,
    /// Model-rate samples from absolute index `buffer_start` to `total`.
    buffer: Vec<f32>,
    buffer_start: u64,
    total: u64,
    next_end: u64,
    logits: Vec<f32>,
    probs: Vec<f32>,
    smoothed: Vec<f32>,
    history: Deque<[f32; MAX_CLASSES], MAX_SMOOTHING>,
    run_label: Option<usize>,
    run_len: usize,
    active: Option<(usize, f64)>,
    quiet_run: usize,
    line: String,
    summary: Summary,
}

impl<C: Classifier> Detector<C> {
    /// A detector for `classifier` with class names `labels` (output order).
    pub fn new(classifier: C, labels: &[String], config: DetectorConfig) -> Result<Self, String> {
        config.validate()?;
        let classes = classifier.classes();
        if classes != labels.len() || classes == 0 || classes > MAX_CLASSES {
            return Err(format!(
                "{classes} model outputs for {} labels (at most {MAX_CLASSES})",
                labels.len()
            ));
        }
        let window = classifier.window_samples();
        let line = String::with_capacity(256 + classes * 64);
        Ok(Self {
            labels: labels.to_vec(),
            window,
            format: None,
            resampler: StreamResampler::new(SAMPLE_RATE_HZ, SAMPLE_RATE_HZ)?,
            read_buf: vec![0.0; READ_SAMPLES],
            mono: vec![0.0; READ_SAMPLES],
            // A window, a hop, and the most one read can add after resampling from 8 kHz.
            buffer: Vec::with_capacity(window + config.hop_samples + 4 * READ_SAMPLES + 8192),
            buffer_start: 0,
            total: 0,
            next_end: window as u64,
            logits: vec![0.0; classes],
            probs: vec![0.0; classes],
            smoothed: vec![0.0; classes],
            history: Deque::new(),
            run_label: None,
            run_len: 0,
            active: None,
            quiet_run: 0,
            line,
            summary: Summary::default(),
            classifier,
            config,
        })
    }

    /// Totals so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The classifier (e.g. to inspect a test stand-in).
    pub fn classifier(&self) -> &C {
        &self.classifier
    }

    /// Forgets buffered audio and smoothing, e.g. after the device came back: the next window
    /// is a full window of new audio. Stream time keeps counting.
    pub fn reset_audio(&mut self) {
        self.resampler.reset();
        self.buffer.clear();
        self.buffer_start = self.total;
        self.next_end = self.total + self.window as u64;
        self.history.clear();
        self.run_label = None;
        self.run_len = 0;
    }

    fn prepare(&mut self, format: Format) -> Result<(), DetectorError> {
        if self.format == Some(format) {
            return Ok(());
        }
        if format.channels == 0 || format.sample_rate == 0 {
            return Err(DetectorError::Setup(format!(
                "unusable input format: {} Hz, {} channel(s)",
                format.sample_rate, format.channels
            )));
        }
        self.resampler = StreamResampler::new(format.sample_rate, SAMPLE_RATE_HZ)
            .map_err(DetectorError::Setup)?;
        self.format = Some(format);
        Ok(())
    }

    /// Reads `source` until it ends or `stop` is raised, writing JSON lines to `out`.
    pub fn run(
        &mut self,
        source: &mut dyn AudioSource,
        out: &mut dyn Write,
        stop: &AtomicBool,
    ) -> Result<Stop, DetectorError> {
        self.prepare(source.format())?;
        let channels = usize::from(source.format().channels);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(Stop::Interrupted);
            }
            let n = match source.read(&mut self.read_buf)? {
                Read::Samples(n) => n,
                Read::Pending => continue,
                Read::End => return Ok(Stop::EndOfInput),
            };
            self.summary.dropped_samples = source.dropped_samples();
            let frames = n / channels;
            downmix(&self.read_buf[..n], channels, &mut self.mono[..frames]);
            let buffer = &mut self.buffer;
            let mut added = 0u64;
            self.resampler
                .process(&self.mono[..frames], |block| {
                    buffer.extend_from_slice(block);
                    added += block.len() as u64;
                })
                .map_err(DetectorError::Setup)?;
            self.total += added;
            self.summary.samples = self.total;
            while self.total >= self.next_end {
                self.window_ready(out)?;
            }
        }
    }

    fn window_ready(&mut self, out: &mut dyn Write) -> Result<(), DetectorError> {
        let start = (self.next_end - self.window as u64 - self.buffer_start) as usize;
        let t = self.next_end as f64 / f64::from(SAMPLE_RATE_HZ);
        let samples = &self.buffer[start..start + self.window];
        let dbfs = rms_dbfs(samples);
        self.summary.windows += 1;
        self.line.clear();
        self.line.push_str("{\"type\":\"window\",\"t\":");
        push_f64(&mut self.line, t, 3);
        if dbfs < f64::from(self.config.gate_dbfs) {
            self.summary.gated += 1;
            self.history.clear();
            self.run_label = None;
            self.run_len = 0;
            self.quiet_run += 1;
            self.line.push_str(
                ",\"label\":\"quiet\",\"confidence\":null,\"probs\":null,\"gated\":true,\"rms_dbfs\":",
            );
            push_f64(&mut self.line, dbfs, 1);
            self.line.push_str(",\"latency_ms\":null");
        } else {
            self.quiet_run = 0;
            let started = Instant::now();
            self.classifier.logits(samples, &mut self.logits)?;
            let latency = started.elapsed().as_secs_f64();
            self.summary.latency_sum += latency;
            self.summary.latency_max = self.summary.latency_max.max(latency);
            softmax(&self.logits, &mut self.probs);
            self.smooth();
            let label = argmax(&self.smoothed);
            let confidence = self.smoothed[label];
            self.line.push_str(",\"label\":");
            push_str(&mut self.line, &self.labels[label]);
            self.line.push_str(",\"confidence\":");
            push_f64(&mut self.line, f64::from(confidence), 4);
            self.line.push_str(",\"probs\":{");
            for (i, (name, p)) in self.labels.iter().zip(&self.smoothed).enumerate() {
                if i > 0 {
                    self.line.push(',');
                }
                push_str(&mut self.line, name);
                self.line.push(':');
                push_f64(&mut self.line, f64::from(*p), 4);
            }
            self.line.push_str("},\"gated\":false,\"rms_dbfs\":");
            push_f64(&mut self.line, dbfs, 1);
            self.line.push_str(",\"latency_ms\":");
            push_f64(&mut self.line, latency * 1e3, 3);
            if self.run_label == Some(label) {
                self.run_len += 1;
            } else {
                self.run_label = Some(label);
                self.run_len = 1;
            }
        }
        self.line.push_str(",\"dropped_samples\":");
        push_f64(&mut self.line, self.summary.dropped_samples as f64, 0);
        self.line.push_str("}\n");
        out.write_all(self.line.as_bytes())?;
        self.events(t, out)?;

        self.next_end += self.config.hop_samples as u64;
        // Keep what the next window needs.
        let keep_from = self.next_end.saturating_sub(self.window as u64);
        let drop = keep_from.saturating_sub(self.buffer_start) as usize;
        let drop = drop.min(self.buffer.len());
        self.buffer.drain(..drop);
        self.buffer_start += drop as u64;
        Ok(())
    }

    /// Averages the probabilities of the last `smoothing` classified windows.
    fn smooth(&mut self) {
        if self.history.len() >= self.config.smoothing {
            self.history.pop_front();
        }
        let mut entry = [0.0f32; MAX_CLASSES];
        entry[..self.probs.len()].copy_from_slice(&self.probs);
        // Capacity is MAX_SMOOTHING >= smoothing, and one was just removed if full.
        let _ = self.history.push_back(entry);
        let n = self.history.len() as f32;
        self.smoothed.fill(0.0);
        for past in self.history.iter() {
            for (s, p) in self.smoothed.iter_mut().zip(past) {
                *s += p / n;
            }
        }
    }

    fn events(&mut self, t: f64, out: &mut dyn Write) -> Result<(), DetectorError> {
        if let Some(label) = self.run_label
            && self.run_len >= self.config.debounce
            && self.active.map(|(l, _)| l) != Some(label)
        {
            self.active = Some((label, t));
            self.summary.cry_events += 1;
            let confidence = f64::from(self.smoothed[label]);
            write_event(
                &mut self.line,
                out,
                "cry",
                t,
                ("label", &self.labels[label]),
                ("confidence", confidence, 4),
            )?;
        }
        if let Some((label, since)) = self.active
            && self.quiet_run >= self.config.calm_windows
        {
            self.active = None;
            self.summary.calm_events += 1;
            write_event(
                &mut self.line,
                out,
                "calm",
                t,
                ("after", &self.labels[label]),
                ("cry_started", since, 3),
            )?;
        }
        Ok(())
    }

    /// Writes the closing summary line.
    pub fn write_summary(&self, stop: Stop, out: &mut dyn Write) -> std::io::Result<()> {
        let s = &self.summary;
        let classified = s.windows - s.gated;
        let mean = if classified > 0 {
            s.latency_sum / classified as f64
        } else {
            f64::NAN
        };
        let mut line = String::with_capacity(256);
        line.push_str("{\"type\":\"summary\",\"stopped\":");
        push_str(
            &mut line,
            match stop {
                Stop::EndOfInput => "end_of_input",
                Stop::Interrupted => "interrupted",
            },
        );
        line.push_str(",\"audio_seconds\":");
        push_f64(&mut line, s.samples as f64 / f64::from(SAMPLE_RATE_HZ), 3);
        for (key, value) in [
            ("windows", s.windows),
            ("gated", s.gated),
            ("classified", classified),
            ("cry_events", s.cry_events),
            ("calm_events", s.calm_events),
            ("dropped_samples", s.dropped_samples),
        ] {
            line.push_str(",\"");
            line.push_str(key);
            line.push_str("\":");
            push_f64(&mut line, value as f64, 0);
        }
        line.push_str(",\"latency_ms_mean\":");
        push_f64(&mut line, mean * 1e3, 3);
        line.push_str(",\"latency_ms_max\":");
        push_f64(&mut line, s.latency_max * 1e3, 3);
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
        out.flush()
    }
}

/// Writes an event line `{"type":kind,"t":t,text.0:text.1,number.0:number.1}` through the
/// reused `line` buffer (no allocation once it has grown).
fn write_event(
    line: &mut String,
    out: &mut dyn Write,
    kind: &str,
    t: f64,
    text: (&str, &str),
    number: (&str, f64, usize),
) -> std::io::Result<()> {
    line.clear();
    line.push_str("{\"type\":");
    push_str(line, kind);
    line.push_str(",\"t\":");
    push_f64(line, t, 3);
    line.push(',');
    push_str(line, text.0);
    line.push(':');
    push_str(line, text.1);
    line.push(',');
    push_str(line, number.0);
    line.push(':');
    push_f64(line, number.1, number.2);
    line.push_str("}\n");
    out.write_all(line.as_bytes())
}

/// Averages interleaved frames to mono.
fn downmix(interleaved: &[f32], channels: usize, mono: &mut [f32]) {
    if channels == 1 {
        mono.copy_from_slice(interleaved);
        return;
    }
    let inv = 1.0 / channels as f32;
    for (m, frame) in mono.iter_mut().zip(interleaved.chunks_exact(channels)) {
        *m = frame.iter().sum::<f32>() * inv;
    }
}

/// RMS level in dB relative to full scale (a full-scale square wave is 0 dBFS).
pub fn rms_dbfs(samples: &[f32]) -> f64 {
    let energy: f64 = samples.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
    let rms = (energy / samples.len().max(1) as f64).sqrt();
    20.0 * rms.max(1e-10).log10()
}
