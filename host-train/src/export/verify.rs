//! Verification of an exported model: run it in tract and compare it with burn on the same
//! windows.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use cry_core::MetadataError;
use cry_core::audio::{LoadOptions, load_clip};
use cry_core::metadata::ModelMetadata;
use cry_core::scoring::argmax;
use cry_core::windows::{copy_window, window_starts};
use serde::Serialize;
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

use super::burn_logits;
use crate::model::checkpoint::Checkpoint;

/// fp32 exports must match burn within this (max absolute logit difference).
pub const FP32_TOLERANCE: f32 = 1e-3;
/// int8 exports must agree with burn's top class on at least this share of windows.
pub const INT8_MIN_AGREEMENT: f64 = 0.95;
/// Windows compared at most.
const MAX_WINDOWS: usize = 64;

/// Why an exported model cannot be compared with its checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The bytes are not an ONNX model.
    #[error("not an ONNX model")]
    NotOnnx(#[source] prost::DecodeError),
    /// The model's metadata breaks the host/edge contract.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// tract cannot load the model.
    #[error("tract cannot {stage} the model: {reason}")]
    Load {
        /// `read`, `optimise` or `plan`.
        stage: &'static str,
        /// tract's error.
        reason: String,
    },
    /// tract fails on a window.
    #[error("tract run failed: {reason}")]
    Run {
        /// tract's error.
        reason: String,
    },
    /// A window of the wrong length.
    #[error("window of {expected} samples expected")]
    WindowLength {
        /// The model's input length.
        expected: usize,
    },
    /// The model's classes differ from the checkpoint's.
    #[error("the ONNX labels {onnx:?} differ from the checkpoint's {checkpoint:?}")]
    Labels {
        /// In the ONNX metadata.
        onnx: Vec<String>,
        /// In the checkpoint.
        checkpoint: Vec<String>,
    },
    /// The model gives a different number of logits from burn.
    #[error("the ONNX gives {onnx} logits, burn {burn}")]
    LogitCount {
        /// From tract.
        onnx: usize,
        /// From burn.
        burn: usize,
    },
    /// One side has a cry head and the other not.
    #[error("the ONNX {} a `cry_logit` output but the checkpoint {} a cry head", if *onnx { "has" } else { "lacks" }, if *onnx { "lacks" } else { "has" })]
    CryHead {
        /// Whether the ONNX has the output.
        onnx: bool,
    },
    /// A folder of verification clips cannot be read.
    #[error("cannot read {}", dir.display())]
    ReadDir {
        /// The folder.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The export misses the bar for its precision (nothing was written).
    #[error(
        "verification failed ({}): max |Δ logit| {:.2e} (fp32 bar {FP32_TOLERANCE:e}), top-1 \
         agreement {:.1} %{} (int8 bar {:.0} %); nothing written",
        verification.quantization,
        verification.max_abs_diff,
        100.0 * verification.top1_agreement,
        verification.cry_agreement.map_or(String::new(), |a| format!(", cry decision agreement {:.1} %", 100.0 * a)),
        100.0 * INT8_MIN_AGREEMENT
    )]
    Failed {
        /// What verification found.
        verification: Box<Verification>,
    },
    /// No window could be cut from the verification clips.
    #[error("no usable WAV under {}", dir.display())]
    NoWindows {
        /// The folder.
        dir: PathBuf,
    },
}

/// A model loaded and optimised by tract for its fixed input shape.
pub struct TractModel {
    plan: Arc<TypedRunnableModel>,
    window: usize,
}

impl TractModel {
    /// Loads ONNX bytes (the graph's input must be `[1, window]`).
    pub fn load(bytes: &[u8], window: usize) -> Result<Self, VerifyError> {
        let fail = |stage| {
            move |e: TractError| VerifyError::Load {
                stage,
                reason: format!("{e:?}"),
            }
        };
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(fail("read"))?
            .into_optimized()
            .map_err(fail("optimise"))?
            .into_runnable()
            .map_err(fail("plan"))?;
        Ok(Self {
            plan: model,
            window,
        })
    }

    /// Reason logits of one window of `window` samples and, for a two-head model, its cry
    /// logit.
    pub fn logits(&self, samples: &[f32]) -> Result<(Vec<f32>, Option<f32>), VerifyError> {
        if samples.len() != self.window {
            return Err(VerifyError::WindowLength {
                expected: self.window,
            });
        }
        let input = tract_ndarray::Array2::from_shape_vec((1, self.window), samples.to_vec())
            .expect("length checked");
        let run_error = |e: TractError| VerifyError::Run {
            reason: format!("{e:?}"),
        };
        let out = self
            .plan
            .run(tvec!(Tensor::from(input).into()))
            .map_err(run_error)?;
        let view = out[0].to_plain_array_view::<f32>().map_err(run_error)?;
        let cry = match out.get(1) {
            Some(t) => Some(
                t.to_plain_array_view::<f32>()
                    .map_err(run_error)?
                    .iter()
                    .copied()
                    .next()
                    .ok_or_else(|| VerifyError::Run {
                        reason: "empty cry_logit".into(),
                    })?,
            ),
            None => None,
        };
        Ok((view.iter().copied().collect(), cry))
    }
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
    /// Largest absolute logit difference (reason logits and cry logit).
    pub max_abs_diff: f32,
    /// Share of windows with the same top class.
    pub top1_agreement: f64,
    /// Two-head models: share of windows on the same side of the stored cry threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cry_agreement: Option<f64>,
    /// Mean cosine similarity of the logit vectors.
    pub mean_cosine: f64,
    /// Whether it meets the bar for its precision.
    pub passed: bool,
    /// File size in bytes.
    pub bytes: u64,
}

/// Windows to compare on: the scoring windows of the WAVs under `data` (recursively, at most
/// [`MAX_WINDOWS`]), or generated tones, chirps and noise.
fn windows(data: Option<&Path>, window: usize) -> Result<(Vec<Vec<f32>>, String), VerifyError> {
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
            .map_err(|source| VerifyError::ReadDir {
                dir: d.clone(),
                source,
            })?
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
    if out.is_empty() {
        return Err(VerifyError::NoWindows {
            dir: dir.to_path_buf(),
        });
    }
    let source = format!("{} windows of clips under {}", out.len(), dir.display());
    Ok((out, source))
}

/// Reads an ONNX file's metadata and checks the contract keys.
pub fn read_metadata(bytes: &[u8]) -> Result<ModelMetadata, VerifyError> {
    use prost::Message;
    let proto = ModelProto::decode(bytes).map_err(VerifyError::NotOnnx)?;
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
) -> Result<Verification, VerifyError> {
    let meta = read_metadata(bytes)?;
    let (windows, source) = windows(data, meta.window_samples)?;
    if meta.labels != checkpoint.config.labels() {
        return Err(VerifyError::Labels {
            onnx: meta.labels,
            checkpoint: checkpoint.config.labels(),
        });
    }
    let model = TractModel::load(bytes, meta.window_samples)?;
    let threshold = meta.alert.map_or(0.5, |p| p.threshold);
    let (mut max_abs_diff, mut agree, mut cosine) = (0.0f32, 0usize, 0.0f64);
    let mut cry_agree = None;
    for w in &windows {
        let (want, want_cry) = burn_logits(checkpoint, w, device);
        let (got, got_cry) = model.logits(w)?;
        match (want_cry, got_cry) {
            (Some(a), Some(b)) => {
                max_abs_diff = max_abs_diff.max((a - b).abs());
                let side = |z: f32| cry_core::scoring::sigmoid(z) >= threshold;
                *cry_agree.get_or_insert(0usize) += usize::from(side(a) == side(b));
            }
            (None, None) => {}
            (_, got) => {
                return Err(VerifyError::CryHead {
                    onnx: got.is_some(),
                });
            }
        }
        if got.len() != want.len() {
            return Err(VerifyError::LogitCount {
                onnx: got.len(),
                burn: want.len(),
            });
        }
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
    let cry_agreement = cry_agree.map(|a| a as f64 / n as f64);
    let passed = if meta.quantization == "fp32" {
        max_abs_diff <= FP32_TOLERANCE
    } else {
        top1_agreement >= INT8_MIN_AGREEMENT
            && cry_agreement.is_none_or(|a| a >= INT8_MIN_AGREEMENT)
    };
    Ok(Verification {
        quantization: meta.quantization,
        windows: n,
        source,
        max_abs_diff,
        top1_agreement,
        cry_agreement,
        mean_cosine: cosine / n as f64,
        passed,
        bytes: bytes.len() as u64,
    })
}
