//! What a model must be for the edge to trust it: the tensor names and shapes, rate and label
//! count that `cry-core` defines and `host-train export` writes.

use cry_core::ModelMetadata;
use cry_core::contract::SAMPLE_RATE_HZ;
use cry_core::metadata::{CRY_OUTPUT_NAME, INPUT_NAME, OUTPUT_NAME};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::Cost;
use tract_onnx::tract_core::ops::cnn::Conv;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_hir::infer::Factoid;

use super::MAX_CLASSES;

/// How a model fails the edge contract.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The model takes audio at another rate.
    #[error("the model takes {0} Hz audio; the edge feeds {SAMPLE_RATE_HZ} Hz")]
    SampleRate(u32),
    /// The metadata's window is empty.
    #[error("the metadata gives a window of 0 samples")]
    EmptyWindow,
    /// More classes than the streaming pipeline keeps.
    #[error("{0} classes; the edge supports at most {MAX_CLASSES}")]
    TooManyClasses(usize),
    /// The graph's inputs are not the one named input.
    #[error("inputs are {0:?}; exactly one named `{INPUT_NAME}` is required")]
    Inputs(Vec<String>),
    /// The graph's outputs are not `logits` (and `cry_logit` for a two-head model).
    #[error(
        "outputs are {found:?}; [`{OUTPUT_NAME}`] is required, or [`{OUTPUT_NAME}`, \
         `{CRY_OUTPUT_NAME}`] with an alert policy in the metadata{}",
        if *.alert { " (this one has a policy)" } else { " (this one has none)" }
    )]
    Outputs {
        /// The output names found.
        found: Vec<String>,
        /// Whether the metadata has an alert policy.
        alert: bool,
    },
    /// The input is not f32.
    #[error("input `{INPUT_NAME}` is {0}, f32 is required")]
    InputType(String),
    /// The declared input shape disagrees with the metadata's window.
    #[error("input `{INPUT_NAME}` is {declared:?} but the metadata's window needs {expected:?}")]
    InputShape {
        /// The graph's declared shape.
        declared: Vec<usize>,
        /// `[1, window]`.
        expected: [usize; 2],
    },
    /// The typed output is not `[1, classes]` f32.
    #[error(
        "output `{OUTPUT_NAME}` is {found}; f32 [1, {classes}] is required for {classes} labels"
    )]
    Output {
        /// The output's type and shape as tract shows them.
        found: String,
        /// Classes the metadata names.
        classes: usize,
    },
    /// The cry output is not `[1, 1]` f32.
    #[error("output `{CRY_OUTPUT_NAME}` is {0}; f32 [1, 1] is required")]
    CryOutput(String),
    /// tract could not answer a question about the graph.
    #[error("cannot inspect the graph: {0}")]
    Inspect(String),
}

fn inspect(e: TractError) -> ContractError {
    ContractError::Inspect(format!("{e:#}"))
}

/// Checks the metadata against what the streaming pipeline supports.
pub(super) fn check_metadata(metadata: &ModelMetadata) -> Result<(), ContractError> {
    if metadata.sample_rate != SAMPLE_RATE_HZ {
        return Err(ContractError::SampleRate(metadata.sample_rate));
    }
    if metadata.window_samples == 0 {
        return Err(ContractError::EmptyWindow);
    }
    if metadata.labels.len() > MAX_CLASSES {
        return Err(ContractError::TooManyClasses(metadata.labels.len()));
    }
    Ok(())
}

/// One input named [`INPUT_NAME`]; the output [`OUTPUT_NAME`], followed by
/// [`CRY_OUTPUT_NAME`] exactly when the metadata has an alert policy.
pub(super) fn check_names(
    model: &InferenceModel,
    metadata: &ModelMetadata,
) -> Result<(), ContractError> {
    let inputs = model.input_outlets().map_err(inspect)?;
    let input_names: Vec<&str> = inputs
        .iter()
        .map(|o| model.node(o.node).name.as_str())
        .collect();
    if input_names != [INPUT_NAME] {
        return Err(ContractError::Inputs(
            input_names.iter().map(|n| n.to_string()).collect(),
        ));
    }
    let outputs = model.output_outlets().map_err(inspect)?;
    let output_names: Vec<&str> = outputs
        .iter()
        .map(|o| {
            model
                .outlet_label(*o)
                .unwrap_or(model.node(o.node).name.as_str())
        })
        .collect();
    let alert = metadata.alert.is_some();
    let expected: &[&str] = if alert {
        &[OUTPUT_NAME, CRY_OUTPUT_NAME]
    } else {
        &[OUTPUT_NAME]
    };
    if output_names != expected {
        return Err(ContractError::Outputs {
            found: output_names.iter().map(|n| n.to_string()).collect(),
            alert,
        });
    }
    Ok(())
}

/// The declared input agrees with the metadata's window, and the typed output is
/// `[1, classes]` f32.
pub(super) fn check_declared_input(
    model: &InferenceModel,
    metadata: &ModelMetadata,
) -> Result<(), ContractError> {
    let fact = model.input_fact(0).map_err(inspect)?;
    if let Some(dt) = fact.datum_type.concretize()
        && dt != f32::datum_type()
    {
        return Err(ContractError::InputType(format!("{dt:?}")));
    }
    if let Ok(Some(shape)) = fact.shape.as_concrete_finite() {
        let expected = [1, metadata.window_samples];
        if shape.as_slice() != expected {
            return Err(ContractError::InputShape {
                declared: shape.to_vec(),
                expected,
            });
        }
    }
    Ok(())
}

/// The typed output is `[1, classes]` f32.
pub(super) fn check_output(
    model: &TypedModel,
    metadata: &ModelMetadata,
) -> Result<(), ContractError> {
    let fact = model.output_fact(0).map_err(inspect)?;
    let expected = [1, metadata.labels.len()];
    if fact.datum_type != f32::datum_type() || fact.shape.as_concrete() != Some(&expected[..]) {
        return Err(ContractError::Output {
            found: format!("{:?} {:?}", fact.datum_type, fact.shape),
            classes: metadata.labels.len(),
        });
    }
    if metadata.alert.is_some() {
        let fact = model.output_fact(1).map_err(inspect)?;
        if fact.datum_type != f32::datum_type() || fact.shape.as_concrete() != Some(&[1, 1][..]) {
            return Err(ContractError::CryOutput(format!(
                "{:?} {:?}",
                fact.datum_type, fact.shape
            )));
        }
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
