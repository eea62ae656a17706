//! `host-train export`: write a classifier as ONNX (fp32 or dynamic int8), verify it in tract
//! against burn, and keep it only when it passes.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use cry_core::alerts::AlertPolicy;
use cry_core::metadata::ModelMetadata;

use crate::error::Result;
use crate::export::hubert::Precision;
use crate::export::to_onnx;
use crate::export::verify::{Verification, VerifyError, compare};
use crate::fsx;
use crate::model::checkpoint::{Checkpoint, checkpoint_dir_hash};
use crate::report::{TrainingRecord, write_json};

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

/// Exports, verifies, and keeps the file only when it passes (or `force`).
pub fn run(config: &ExportConfig, device: &Device) -> Result<Verification> {
    let checkpoint = Checkpoint::load(&config.model, device)?;
    let hash = checkpoint_dir_hash(&config.model)?;
    let mut meta = ModelMetadata::new(
        checkpoint.config.labels(),
        checkpoint.preprocessor.do_normalize,
        hash,
    );
    meta.set_window(config.window);
    let record = TrainingRecord::read(&config.model);
    meta.report_hash = record.as_ref().and_then(|r| r.report_hash.clone());
    meta.random_init = checkpoint.is_random_init();
    meta.bandwidth_hz = record
        .as_ref()
        .and_then(|r| r.data.bandwidth_hz)
        .map(|b| b.hz());
    if checkpoint.config.has_cry_head() {
        let detection = record.as_ref().and_then(|r| r.detection.clone());
        match detection {
            Some(d) => {
                meta.alert = Some(d.policy);
                meta.alert_target = Some(d.max_false_alarms_per_hour);
                // The edge must stream at the hop the policy was chosen at.
                meta.hop_samples = d.hop_samples.min(meta.window_samples);
            }
            None => {
                log::warn!(
                    "{}: a cry head without a training.json that chose its threshold; storing \
                     the default alert policy (threshold {})",
                    config.model.display(),
                    AlertPolicy::default().threshold
                );
                meta.alert = Some(AlertPolicy::default());
            }
        }
    }
    let precision = if config.int8 {
        meta.quantization = "int8-dynamic".into();
        Precision::Int8
    } else {
        Precision::Fp32
    };
    let bytes = to_onnx(&checkpoint, config.window, precision, &meta)?;
    let verification = compare(&checkpoint, &bytes, config.data.as_deref(), device)?;
    log::info!(
        "{}: {} windows, max |Δ logit| {:.2e}, top-1 agreement {:.1} %{}, mean cosine {:.4}",
        config.out.display(),
        verification.windows,
        verification.max_abs_diff,
        100.0 * verification.top1_agreement,
        verification
            .cry_agreement
            .map_or(String::new(), |a| format!(
                ", cry decision agreement {:.1} %",
                100.0 * a
            )),
        verification.mean_cosine
    );
    let kept_anyway = config.int8 && config.force;
    if !(verification.passed || kept_anyway) {
        return Err(VerifyError::Failed {
            verification: Box::new(verification),
        }
        .into());
    }
    if let Some(parent) = config.out.parent() {
        fsx::create_dir_all(parent)?;
    }
    fsx::write(&config.out, &bytes)?;
    let mut side = config.out.as_os_str().to_owned();
    side.push(".verify.json");
    write_json(Path::new(&side), &verification)?;
    Ok(verification)
}
