//! What a model must be for the edge to trust it: the tensor names and shapes, rate and label
//! count that `cry-core` defines and `host-train export` writes.

use cry_core::ModelMetadata;
use cry_core::contract::SAMPLE_RATE_HZ;
use cry_core::metadata::{INPUT_NAME, OUTPUT_NAME};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::Cost;
use tract_onnx::tract_core::ops::cnn::Conv;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_hir::infer::Factoid;

use super::MAX_CLASSES;

/// Checks the metadata against what the streaming pipeline supports.
pub(super) fn check_metadata(metadata: &ModelMetadata) -> Result<(), String> {
    if metadata.sample_rate != SAMPLE_RATE_HZ {
        return Err(format!(
            "the model takes {} Hz audio; the edge feeds {SAMPLE_RATE_HZ} Hz",
            metadata.sample_rate
        ));
    }
    if metadata.window_samples == 0 {
        return Err("the metadata gives a window of 0 samples".into());
    }
    if metadata.labels.len() > MAX_CLASSES {
        return Err(format!(
            "{} classes; the edge supports at most {MAX_CLASSES}",
            metadata.labels.len()
        ));
    }
    Ok(())
}

/// One input named [`INPUT_NAME`], one output named [`OUTPUT_NAME`], and a declared input
/// shape, when there is one, of `[1, window]` f32.
pub(super) fn check_names(model: &InferenceModel) -> Result<(), String> {
    let inputs = model.input_outlets().map_err(|e| e.to_string())?;
    let input_names: Vec<&str> = inputs
        .iter()
        .map(|o| model.node(o.node).name.as_str())
        .collect();
    if input_names != [INPUT_NAME] {
        return Err(format!(
            "inputs are {input_names:?}; exactly one named `{INPUT_NAME}` is required"
        ));
    }
    let outputs = model.output_outlets().map_err(|e| e.to_string())?;
    let output_names: Vec<&str> = outputs
        .iter()
        .map(|o| {
            model
                .outlet_label(*o)
                .unwrap_or(model.node(o.node).name.as_str())
        })
        .collect();
    if output_names != [OUTPUT_NAME] {
        return Err(format!(
            "outputs are {output_names:?}; exactly one named `{OUTPUT_NAME}` is required"
        ));
    }
    Ok(())
}

/// The declared input agrees with the metadata's window, and the typed output is
/// `[1, classes]` f32.
pub(super) fn check_declared_input(
    model: &InferenceModel,
    metadata: &ModelMetadata,
) -> Result<(), String> {
    let fact = model.input_fact(0).map_err(|e| e.to_string())?;
    if let Some(dt) = fact.datum_type.concretize()
        && dt != f32::datum_type()
    {
        return Err(format!("input `{INPUT_NAME}` is {dt:?}, f32 is required"));
    }
    if let Ok(Some(shape)) = fact.shape.as_concrete_finite() {
        let expected = [1, metadata.window_samples];
        if shape.as_slice() != expected {
            return Err(format!(
                "input `{INPUT_NAME}` is {shape:?} but the metadata's window needs {expected:?}"
            ));
        }
    }
    Ok(())
}

/// The typed output is `[1, classes]` f32.
pub(super) fn check_output(model: &TypedModel, metadata: &ModelMetadata) -> Result<(), String> {
    let fact = model.output_fact(0).map_err(|e| e.to_string())?;
    let expected = [1, metadata.labels.len()];
    if fact.datum_type != f32::datum_type() || fact.shape.as_concrete() != Some(&expected[..]) {
        return Err(format!(
            "output `{OUTPUT_NAME}` is {:?} {:?}; f32 {expected:?} is required for {} labels",
            fact.datum_type,
            fact.shape,
            metadata.labels.len()
        ));
    }
    Ok(())
}

/// Multiply-accumulates of one run in the convolutions and matrix products (the weights and the
/// attention), from tract's cost model; element-wise work (norms, GELU) is not counted.
pub(super) fn macs(model: &TypedModel) -> TractResult<u64> {
    let mut total = 0u64;
    for node in model.nodes() {
        if !(node.op_is::<Conv>() || node.op_is::<EinSum>()) {
            continue;
        }
        let inputs = model.node_input_facts(node.id)?;
        for (cost, count) in node.op.cost(&inputs)? {
            if let Cost::FMA(_) = cost {
                total += count.to_i64().unwrap_or(0).max(0) as u64;
            }
        }
    }
    Ok(total)
}
