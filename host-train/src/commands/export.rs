//! `host-train export` and `host-train verify-onnx`: write a classifier as ONNX (fp32 or
//! dynamic int8) and check it in tract against burn on the same windows.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::prelude::*;
use cry_core::audio::{LoadOptions, load_clip};
use cry_core::metadata::ModelMetadata;
use cry_core::windows::{copy_window, window_starts};
use serde::Serialize;
use tract_onnx::pb::ModelProto;

use crate::export::hubert::Precision;
use crate::export::verify::TractModel;
use crate::export::{burn_logits, to_onnx};
use crate::model::checkpoint::{Checkpoint, weights_file};
use crate::report::write_json;
use crate::train::cache::checkpoint_hash;
use cry_core::scoring::argmax;

/// fp32 exports must match burn within this (max absolute logit difference).
pub const FP32_TOLERANCE: f32 = 1e-3;
/// int8 exports must agree with burn's top class on at least this share of windows.
pub const INT8_MIN_AGREEMENT: f64 = 0.95;
/// Windows compared at most.
const MAX_WINDOWS: usize = 64;

/// `export` settings.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Classifier checkpoint directory.
    pub model: PathBuf,
    /// ONNX file to write.
    pub out: PathBuf,
    /// Dynamic int8 instead of fp32.
    pub int8: bool,
    /// Input length in samples.
    pub window: usize,
    /// Clips to verify on (generated signals otherwise).
    pub data: Option<PathBuf>,
    /// Keep an int8 export below the agreement threshold.
    pub force: bool,
}

/// What verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// `fp32` or `int8-dynamic`.
    pub quantization: String,
    /// Windows compared.
    pub windows: usize,
    /// Where they came from.
    pub source: String,
    /// Largest absolute logit difference.
    pub max_abs_diff: f32,
    /// Share of windows with the same top class.
    pub top1_agreement: f64,
    /// Mean cosine similarity of the logit vectors.
    pub mean_cosine: f64,
    /// Whether it meets the bar for its precision.
    pub passed: bool,
    /// File size in bytes.
    pub bytes: u64,
}

/// Windows to compare on: the scoring windows of the WAVs under `data` (recursively, at most
/// [`MAX_WINDOWS`]), or generated tones, chirps and noise.
fn windows(data: Option<&Path>, window: usize) -> anyhow::Result<(Vec<Vec<f32>>, String)> {
    let Some(dir) = data else {
        let generated = (0..16)
            .map(|k| {
                let f = 150.0 * (k + 1) as f64;
                (0..window)
                    .map(|i| {
                        let t = i as f64 / 16_000.0;
                        let noise = ((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0 - 0.5;
                        (0.3 * (2.0 * std::f64::consts::PI * f * t * (1.0 + t)).sin()
                            + 0.05 * noise) as f32
                    })
                    .collect()
            })
            .collect();
        return Ok((generated, "16 generated chirps with noise".into()));
    };
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .with_context(|| format!("cannot read {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")) {
                files.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for file in &files {
        let clip = match load_clip(file, &LoadOptions::default()) {
            Ok(clip) => clip,
            Err(e) => {
                log::warn!("skipping {e}");
                continue;
            }
        };
        for start in window_starts(clip.samples.len(), window, cry_core::contract::HOP_SAMPLES) {
            let mut w = vec![0.0; window];
            copy_window(&clip.samples, start, &mut w);
            out.push(w);
            if out.len() == MAX_WINDOWS {
                break;
            }
        }
        if out.len() == MAX_WINDOWS {
            break;
        }
    }
    anyhow::ensure!(!out.is_empty(), "no usable WAV under {}", dir.display());
    let source = format!("{} windows of clips under {}", out.len(), dir.display());
    Ok((out, source))
}

/// Reads an ONNX file's metadata and checks the contract keys.
pub fn read_metadata(bytes: &[u8]) -> anyhow::Result<ModelMetadata> {
    use prost::Message;
    let proto = ModelProto::decode(bytes).context("not an ONNX model")?;
    Ok(ModelMetadata::from_pairs(
        proto
            .metadata_props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str())),
    )?)
}

/// Compares the ONNX in `bytes` with `checkpoint` on the windows of `data` (see [`windows`]),
/// cut to the length the file's metadata gives.
pub fn compare(
    checkpoint: &Checkpoint,
    bytes: &[u8],
    data: Option<&Path>,
    device: &Device,
) -> anyhow::Result<Verification> {
    let meta = read_metadata(bytes)?;
    let (windows, source) = windows(data, meta.window_samples)?;
    anyhow::ensure!(
        meta.labels == checkpoint.config.labels(),
        "the ONNX labels {:?} differ from the checkpoint's {:?}",
        meta.labels,
        checkpoint.config.labels()
    );
    let model = TractModel::load(bytes, meta.window_samples)?;
    let (mut max_abs_diff, mut agree, mut cosine) = (0.0f32, 0usize, 0.0f64);
    for w in &windows {
        let want = burn_logits(checkpoint, w, device);
        let got = model.logits(w)?;
        anyhow::ensure!(
            got.len() == want.len(),
            "the ONNX gives {} logits, burn {}",
            got.len(),
            want.len()
        );
        for (a, b) in want.iter().zip(&got) {
            max_abs_diff = max_abs_diff.max((a - b).abs());
        }
        agree += usize::from(argmax(&want) == argmax(&got));
        let dot: f64 = want.iter().zip(&got).map(|(a, b)| f64::from(a * b)).sum();
        let norm = |v: &[f32]| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
        cosine += dot / (norm(&want) * norm(&got)).max(f64::MIN_POSITIVE);
    }
    let n = windows.len();
    let top1_agreement = agree as f64 / n as f64;
    let passed = if meta.quantization == "fp32" {
        max_abs_diff <= FP32_TOLERANCE
    } else {
        top1_agreement >= INT8_MIN_AGREEMENT
    };
    Ok(Verification {
        quantization: meta.quantization,
        windows: n,
        source,
        max_abs_diff,
        top1_agreement,
        mean_cosine: cosine / n as f64,
        passed,
        bytes: bytes.len() as u64,
    })
}

fn report_hash(model_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(model_dir.join("training.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["report_hash"].as_str().map(str::to_string)
}

/// Exports, verifies, and keeps the file only when it passes (or `force`).
pub fn run(config: &ExportConfig, device: &Device) -> anyhow::Result<Verification> {
    let checkpoint = Checkpoint::load(&config.model, device)?;
    let hash = checkpoint_hash(
        &config.model.join("config.json"),
        &weights_file(&config.model)?,
    )?;
    let mut meta = ModelMetadata::new(
        checkpoint.config.labels(),
        checkpoint.preprocessor.do_normalize,
        hash,
    );
    meta.window_samples = config.window;
    meta.report_hash = report_hash(&config.model);
    meta.random_init = checkpoint.is_random_init();
    let precision = if config.int8 {
        meta.quantization = "int8-dynamic".into();
        Precision::Int8
    } else {
        Precision::Fp32
    };
    let bytes = to_onnx(&checkpoint, config.window, precision, &meta)?;
    let verification = compare(&checkpoint, &bytes, config.data.as_deref(), device)?;
    log::info!(
        "{}: {} windows, max |Δ logit| {:.2e}, top-1 agreement {:.1} %, mean cosine {:.4}",
        config.out.display(),
        verification.windows,
        verification.max_abs_diff,
        100.0 * verification.top1_agreement,
        verification.mean_cosine
    );
    let kept_anyway = config.int8 && config.force;
    if !(verification.passed || kept_anyway) {
        anyhow::bail!(
            "verification failed ({}): max |Δ logit| {:.2e} (fp32 bar {FP32_TOLERANCE:e}), top-1 \
             agreement {:.1} % (int8 bar {:.0} %); nothing written{}",
            verification.quantization,
            verification.max_abs_diff,
            100.0 * verification.top1_agreement,
            100.0 * INT8_MIN_AGREEMENT,
            if config.int8 {
                "; --force keeps it"
            } else {
                ""
            }
        );
    }
    if let Some(parent) = config.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = config.out.as_os_str().to_owned();
    tmp.push(".partial");
    std::fs::write(&tmp, &bytes)
        .with_context(|| format!("failed to write {}", config.out.display()))?;
    std::fs::rename(&tmp, &config.out)?;
    let mut side = config.out.as_os_str().to_owned();
    side.push(".verify.json");
    write_json(Path::new(&side), &verification)?;
    Ok(verification)
}

/// `verify-onnx`: compares an existing file with its checkpoint.
pub fn verify(
    model: &Path,
    onnx: &Path,
    data: Option<&Path>,
    device: &Device,
) -> anyhow::Result<Verification> {
    let checkpoint = Checkpoint::load(model, device)?;
    let bytes = std::fs::read(onnx).with_context(|| format!("cannot read {}", onnx.display()))?;
    compare(&checkpoint, &bytes, data, device).with_context(|| format!("{}", onnx.display()))
}
