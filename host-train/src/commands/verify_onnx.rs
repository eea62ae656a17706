//! `host-train verify-onnx`: compare an exported ONNX with its checkpoint in tract.

use std::path::Path;

use burn::prelude::Device;

use crate::error::{Error, Result};
use crate::export::verify::{Verification, compare};
use crate::model::checkpoint::Checkpoint;

/// Compares the file `onnx` with the checkpoint `model` on the windows of `data` (generated
/// signals without it).
pub fn run(
    model: &Path,
    onnx: &Path,
    data: Option<&Path>,
    device: &Device,
) -> Result<Verification> {
    let checkpoint = Checkpoint::load(model, device)?;
    let bytes = std::fs::read(onnx).map_err(|e| {
        Error::from(anyhow::Error::new(e)).context(format!("cannot read {}", onnx.display()))
    })?;
    compare(&checkpoint, &bytes, data, device)
        .map_err(|e| Error::from(e).context(onnx.display().to_string()))
}
