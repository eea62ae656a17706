//! Numerical parity with transformers on tiny random-init checkpoints.
//!
//! Fixtures come from `scripts/make_hubert_fixtures.py` (transformers + torch in a throwaway
//! venv); each case directory is a checkpoint as transformers saved it plus
//! `reference.safetensors` with its outputs for fixed audio. Tolerance: max |Δ| ≤ 1e-4 on hidden
//! states, logits and the conv features; the normalised input must match to 1e-5.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use host_train::backend::DeviceChoice;
use host_train::model::checkpoint::{Checkpoint, HubertModelKind, read_tensors};
use host_train::model::preprocess::zero_mean_unit_var;

const TOLERANCE: f32 = 1e-4;

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hubert")
        .join(case)
}

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
