//! Numerical parity with transformers on tiny random-init checkpoints.
//!
//! Fixtures come from `scripts/make_hubert_fixtures.py` (transformers + torch in a throwaway
//! venv); each case directory is a checkpoint as transformers saved it plus
//! `reference.safetensors` with its outputs for fixed audio. Tolerance: max |Δ| ≤ 1e-4 on hidden
//! states, logits and the conv features; the normalised input must match to 1e-5.

mod common;
use common::fixture;

use burn::prelude::*;
use host_train::backend::DeviceChoice;
use host_train::model::checkpoint::{Checkpoint, HubertModelKind, read_tensors};
use host_train::model::preprocess::zero_mean_unit_var;

const TOLERANCE: f32 = 1e-4;

struct Reference {
    tensors: std::collections::BTreeMap<String, TensorData>,
}

impl Reference {
    fn load(case: &str) -> Self {
        Self {
            tensors: read_tensors(&fixture(case).join("reference.safetensors")).unwrap(),
        }
    }

    fn get(&self, name: &str) -> &TensorData {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("reference lacks {name}"))
    }

    fn lengths(&self) -> Vec<usize> {
        let data = self.tensors["lengths"].clone().convert::<f32>();
        data.try_to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&x| x as usize)
            .collect()
    }
}

/// Max |a - b| after checking the shapes agree.
fn max_diff(what: &str, got: Tensor<3>, want: &TensorData) -> f32 {
    let got = got.into_data();
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let (a, b) = (
        got.try_to_vec::<f32>().unwrap(),
        want.try_to_vec::<f32>().unwrap(),
    );
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn assert_close(what: &str, got: Tensor<3>, want: &TensorData, tolerance: f32) {
    let diff = max_diff(what, got, want);
    eprintln!("  {what}: max |Δ| {diff:.2e}");
    assert!(
        diff <= tolerance,
        "{what}: max |Δ| = {diff:e} > {tolerance:e}"
    );
}

fn as3<const D: usize>(t: Tensor<D>) -> Tensor<3> {
    let dims = t.dims();
    let mut shape = [1usize; 3];
    shape[3 - D..].copy_from_slice(&dims);
    t.reshape(shape)
}

fn data3(data: &TensorData) -> TensorData {
    let dims = data.shape().to_vec();
    let mut shape = vec![1usize; 3usize.saturating_sub(dims.len())];
    shape.extend(dims);
    TensorData::new(data.try_to_vec::<f32>().unwrap(), shape)
}

/// The model input as transformers' feature extractor builds it: each clip normalised over its
/// own samples (when `do_normalize`), then right-padded with zeros.
fn model_input(reference: &Reference, normalize: bool, device: &Device) -> Tensor<2> {
    let audio = reference.get("audio");
    let [batch, samples] = [audio.shape()[0], audio.shape()[1]];
    let flat = audio.try_to_vec::<f32>().unwrap();
    let mut out = vec![0.0f32; batch * samples];
    for (b, &len) in reference.lengths().iter().enumerate() {
        let clip = &mut out[b * samples..b * samples + len];
        clip.copy_from_slice(&flat[b * samples..b * samples + len]);
        if normalize {
            zero_mean_unit_var(clip);
        }
    }
    Tensor::from_data(TensorData::new(out, [batch, samples]), device)
}

fn check_case(case: &str, device: &Device) {
    let checkpoint = Checkpoint::load(&fixture(case), device).unwrap();
    let reference = Reference::load(case);
    let config = &checkpoint.config;
    let input = model_input(&reference, checkpoint.preprocessor.do_normalize, device);
    assert_close(
        &format!("{case} input_values"),
        as3(input.clone()),
        &data3(reference.get("input_values")),
        1e-5,
    );
    let lengths = reference.lengths();
    let hubert = match &checkpoint.model {
        HubertModelKind::Base(m) => m,
        HubertModelKind::Classifier(m) => &m.hubert,
    };
    assert_close(
        &format!("{case} conv_features"),
        hubert.feature_extractor.forward(input.clone()),
        reference.get("conv_features"),
        TOLERANCE,
    );

    let (last, hidden, logits) = match &checkpoint.model {
        HubertModelKind::Base(m) => {
            let out = m.forward(config, input.clone(), Some(&lengths), true);
            (out.last_hidden_state, out.hidden_states, None)
        }
        HubertModelKind::Classifier(m) => {
            let out = m.forward(config, input.clone(), Some(&lengths), true);
            (out.last_hidden_state, out.hidden_states, Some(out.logits))
        }
    };
    let want_hidden = reference.get("hidden_states");
    assert_eq!(
        hidden.len(),
        want_hidden.shape()[0],
        "{case}: number of hidden states"
    );
    let stacked: Tensor<4> = Tensor::stack(hidden, 0);
    let diff = max_diff(
        &format!("{case} hidden_states"),
        stacked.clone().reshape([0, 0, -1]),
        &TensorData::new(
            want_hidden.try_to_vec::<f32>().unwrap(),
            stacked.reshape([0, 0, -1]).dims(),
        ),
    );
    assert!(
        diff <= TOLERANCE,
        "{case} hidden_states: max |Δ| = {diff:e}"
    );
    if reference.tensors.contains_key("last_hidden_state") {
        assert_close(
            &format!("{case} last_hidden_state"),
            last,
            reference.get("last_hidden_state"),
            TOLERANCE,
        );
    }
    if let Some(logits) = logits {
        assert_close(
            &format!("{case} logits"),
            as3(logits),
            &data3(reference.get("logits")),
            TOLERANCE,
        );
    }

    // Clip 0 alone, unpadded and without a mask.
    let single = input.narrow(0, 0, 1);
    match &checkpoint.model {
        HubertModelKind::Base(m) => assert_close(
            &format!("{case} single_last_hidden_state"),
            m.forward(config, single, None, false).last_hidden_state,
            reference.get("single_last_hidden_state"),
            TOLERANCE,
        ),
        HubertModelKind::Classifier(m) => assert_close(
            &format!("{case} single_logits"),
            as3(m.forward(config, single, None, false).logits),
            &data3(reference.get("single_logits")),
            TOLERANCE,
        ),
    }
}

fn for_each_device(case: &str) {
    for choice in DeviceChoice::available() {
        eprintln!("{case} on {choice:?}");
        check_case(case, &choice.device());
    }
}

#[test]
fn distilhubert_shaped_old_weight_norm_safetensors() {
    for_each_device("distil_group");
}

#[test]
fn layer_norm_convs_stable_layer_norm_bin() {
    for_each_device("layer_stable");
}

#[test]
fn classifier_with_weighted_layer_sum() {
    for_each_device("cls_weighted");
}

#[test]
fn classifier_plain_bin_old_weight_norm() {
    for_each_device("cls_plain");
}

/// Max |got − want| / max |want| over a gradient tensor.
fn relative_error(got: Vec<f32>, want: Vec<f32>) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let diff = got
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

/// Gradients of cross-entropy (labels [2, 0], eval-mode model) for a spread of parameters, from
/// the classifier down to the conv stack, against PyTorch's: relative error ≤ 1e-3 (max |Δ|
/// over max |reference| per tensor).
fn check_gradients(device: &Device) {
    use burn::tensor::activation::log_softmax;
    use host_train::model::classifier::HubertForSequenceClassification;

    let device = device.clone().autodiff();
    let case = "cls_weighted";
    let checkpoint = Checkpoint::load(&fixture(case), &device).unwrap();
    let HubertModelKind::Classifier(model) = checkpoint.model else {
        panic!("cls_weighted is a classifier");
    };
    // Eval mode (no dropout), as the reference, but every parameter tracked.
    let model: HubertForSequenceClassification = model.freeze().set_require_grad(true);
    let reference = Reference::load(case);
    let input = model_input(&reference, true, &device);
    let lengths = reference.lengths();
    let logits = model
        .forward(&checkpoint.config, input, Some(&lengths), false)
        .logits;
    let targets = [2usize, 0];
    let mut one_hot = vec![0.0f32; 2 * 3];
    for (b, &t) in targets.iter().enumerate() {
        one_hot[b * 3 + t] = 1.0;
    }
    let one_hot = Tensor::<2>::from_data(TensorData::new(one_hot, [2, 3]), &device);
    let loss = (log_softmax(logits, 1) * one_hot).sum().neg() / 2.0;
    let want_loss = reference.get("loss").try_to_vec::<f32>().unwrap()[0];
    let got_loss = loss.clone().into_data().try_to_vec::<f32>().unwrap()[0];
    assert!(
        (got_loss - want_loss).abs() < 1e-5,
        "loss {got_loss} vs {want_loss}"
    );

    let grads = loss.backward();
    fn grad_of<const D: usize>(t: Tensor<D>, grads: &burn::tensor::Gradients) -> Tensor<D> {
        t.grad(grads).expect("tracked")
    }
    let flat = |t: Tensor<3>| t.into_data().try_to_vec::<f32>().unwrap();
    // burn stores Linear weights as [in, out]; PyTorch as [out, in].
    let linear = |w: Tensor<2>| flat(grad_of(w, &grads).swap_dims(0, 1).unsqueeze());
    let conv = |w: Tensor<3>| flat(grad_of(w, &grads));
    let layer1 = &model.hubert.encoder.layers[1];
    let layer0 = &model.hubert.encoder.layers[0];
    let checks: Vec<(&str, Vec<f32>)> = vec![
        ("classifier.weight", linear(model.classifier.weight.val())),
        ("projector.weight", linear(model.projector.weight.val())),
        (
            "layer_weights",
            flat(grad_of(model.layer_weights.as_ref().unwrap().val(), &grads).unsqueeze()),
        ),
        (
            "hubert.encoder.layers.1.feed_forward.output_dense.weight",
            linear(layer1.feed_forward.output_dense.weight.val()),
        ),
        (
            "hubert.encoder.layers.0.attention.q_proj.weight",
            linear(layer0.attention.q_proj.weight.val()),
        ),
        (
            "hubert.feature_projection.projection.weight",
            linear(model.hubert.feature_projection.projection.weight.val()),
        ),
        (
            "hubert.encoder.pos_conv_embed.conv.parametrizations.weight.original1",
            conv(model.hubert.encoder.pos_conv_embed.conv.weight_v.val()),
        ),
        (
            "hubert.feature_extractor.conv_layers.2.conv.weight",
            conv(
                model.hubert.feature_extractor.conv_layers[2]
                    .conv
                    .weight
                    .val(),
            ),
        ),
    ];
    for (name, got) in checks {
        let want = reference
            .get(&format!("grad.{name}"))
            .try_to_vec::<f32>()
            .unwrap();
        let err = relative_error(got, want);
        eprintln!("  grad {name}: relative error {err:.2e}");
        assert!(err <= 1e-3, "grad of {name}: relative error {err:e}");
    }
}

#[test]
fn gradients_match_pytorch() {
    for choice in DeviceChoice::available() {
        eprintln!("gradients on {choice:?}");
        check_gradients(&choice.device());
    }
}

/// A checkpoint written by `host-train init`, then loaded by transformers without missing or
/// unexpected keys (`scripts/reference_for_rust_saved.py`): transformers' outputs on it equal
/// ours, so what the Rust side saves is what transformers reads.
#[test]
fn rust_saved_checkpoint_matches_transformers() {
    for_each_device("rust_saved");
}
