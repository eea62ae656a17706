//! `host-train bench`: forward latency and one fine-tuning step of a full-size model.

use std::time::{Duration, Instant};

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::log_softmax;
use serde::Serialize;

use crate::model::checkpoint::{Checkpoint, HubertModelKind};
use crate::model::config::{HubertConfig, PreprocessorConfig};

/// `bench` settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Architecture (random weights).
    pub config: HubertConfig,
    /// Its preprocessor.
    pub preprocessor: PreprocessorConfig,
    /// Clip lengths for the forward benchmark, in seconds.
    pub seconds: Vec<f64>,
    /// Timed repetitions per measurement (after one untimed warm-up).
    pub iters: usize,
    /// Batch size of the training step; 0 skips it.
    pub train_batch: usize,
    /// Clip length of the training step, in seconds.
    pub train_seconds: f64,
    /// Name of the device, for the report.
    pub device_name: String,
}

/// One timed measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// What was timed.
    pub name: String,
    /// Median seconds.
    pub median_s: f64,
    /// Fastest seconds.
    pub min_s: f64,
    /// Timed repetitions.
    pub iters: usize,
}

/// What `bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// CPU, cores, backend.
    pub machine: String,
    /// Every measurement.
    pub timings: Vec<Timing>,
}

fn time(name: String, iters: usize, mut f: impl FnMut()) -> Timing {
    f();
    let mut runs: Vec<Duration> = (0..iters.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    runs.sort();
    let timing = Timing {
        name,
        median_s: runs[runs.len() / 2].as_secs_f64(),
        min_s: runs[0].as_secs_f64(),
        iters: runs.len(),
    };
    log::info!("{}: median {:.3} s", timing.name, timing.median_s);
    timing
}

/// CPU model, logical cores and the device, as one line.
pub fn machine_line(device_name: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} logical cores, device {device_name}")
}

fn noise(batch: usize, samples: usize, device: &Device) -> Tensor<2> {
    Tensor::random([batch, samples], Distribution::Normal(0.0, 0.1), device)
}

/// Runs the benchmark on `device` with random weights.
pub fn run(config: &BenchConfig, device: &Device) -> crate::error::Result<BenchReport> {
    let labels: Vec<String> = (0..5).map(|i| format!("LABEL_{i}")).collect();
    let checkpoint = Checkpoint::random(
        config.config.clone(),
        config.preprocessor.clone(),
        Some(&labels),
        0,
        device,
    )?;
    let mut timings = Vec::new();
    for &seconds in &config.seconds {
        let samples = (seconds * 16_000.0) as usize;
        let input = noise(1, samples, device);
        timings.push(time(format!("forward {seconds} s"), config.iters, || {
            let (_, logits) = checkpoint.forward(input.clone());
            let _ = logits.expect("classifier").into_data();
        }));
        // Where the time goes: the conv feature encoder alone.
        let HubertModelKind::Classifier(model) = &checkpoint.model else {
            unreachable!("random classifier");
        };
        timings.push(time(
            format!("  of which conv feature encoder {seconds} s"),
            config.iters,
            || {
                let _ = model
                    .hubert
                    .feature_extractor
                    .forward(input.clone())
                    .into_data();
            },
        ));
    }

    if config.train_batch > 0 {
        let device = device.clone().autodiff();
        let trained = Checkpoint::random(
            config.config.clone(),
            config.preprocessor.clone(),
            Some(&labels),
            0,
            &device,
        )?;
        let HubertModelKind::Classifier(mut model) = trained.model else {
            unreachable!("random classifier");
        };
        model.hubert.feature_extractor = model.hubert.feature_extractor.freeze();
        let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
        let samples = (config.train_seconds * 16_000.0) as usize;
        let batch = config.train_batch;
        let input = noise(batch, samples, &device);
        let one_hot = Tensor::<2>::from_data(
            TensorData::new(
                (0..batch * 5)
                    .map(|i| f32::from(u8::from(i % 5 == (i / 5) % 5)))
                    .collect(),
                [batch, 5],
            ),
            &device,
        );
        let name = format!(
            "train step {batch} x {} s (frozen feature encoder, AdamW)",
            config.train_seconds
        );
        let mut slot = Some(model);
        timings.push(time(name, config.iters, || {
            let model = slot.take().expect("model");
            let logits = model
                .forward(&trained.config, input.clone(), None, false)
                .logits;
            let loss = (log_softmax(logits, 1) * one_hot.clone()).sum().neg() / batch as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            slot = Some(optim.step(1e-5, model, grads));
        }));
    }
    Ok(BenchReport {
        machine: machine_line(&config.device_name),
        timings,
    })
}
