//! transformers' random initialisation (`HubertPreTrainedModel._init_weights`), so that a
//! random-init model starts where a transformers one would: Linear weights `N(0,
//! initializer_range)`, feature-encoder convs Kaiming-normal (fan-in, gain √2), every bias of
//! both zero, norms at weight 1 and bias 0 (burn's default). burn's defaults differ, and with
//! them the conv stack shrinks the signal by about 6× per layer, so that a random model maps
//! every clip to nearly the same vector.

use burn::module::Param;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;

use super::config::HubertConfig;

/// Runs `draw` with the backend's generator seeded with `seed`, holding it for the whole draw.
///
/// A backend has one global generator (`Device::seed` resets it), so two threads that seed and
/// draw at once would interleave their draws: fits run side by side (`--jobs`) initialise their
/// heads through here, and stay what they are alone.
pub fn seeded<T>(device: &Device, seed: u64, draw: impl FnOnce() -> T) -> T {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    device.seed(seed);
    draw()
}

/// A Linear layer initialised as transformers does.
pub fn linear(d_in: usize, d_out: usize, config: &HubertConfig, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: config.initializer_range,
        })
        .init(device);
    layer.bias = layer.bias.map(|b| Param::from_tensor(b.val().zeros_like()));
    layer
}

/// A feature-encoder convolution initialised as transformers does.
pub fn conv1d(conv: Conv1dConfig, device: &Device) -> Conv1d {
    let mut layer = conv
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        })
        .init(device);
    layer.bias = layer.bias.map(|b| Param::from_tensor(b.val().zeros_like()));
    layer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::presets;

    #[test]
    fn spreads_match_transformers() {
        let (config, _) = presets::distilhubert();
        let device = Device::flex();
        let l = linear(768, 3072, &config, &device);
        let w = l.weight.val().into_data().try_into_vec::<f32>().unwrap();
        let var = w.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / w.len() as f64;
        assert!((var.sqrt() - 0.02).abs() < 0.001, "std {}", var.sqrt());
        let b = l
            .bias
            .unwrap()
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert!(b.iter().all(|v| *v == 0.0));
        let c = conv1d(Conv1dConfig::new(512, 512, 3).with_bias(true), &device);
        let w = c.weight.val().into_data().try_into_vec::<f32>().unwrap();
        let var = w.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / w.len() as f64;
        let want = (2.0f64 / (512.0 * 3.0)).sqrt();
        assert!(
            (var.sqrt() / want - 1.0).abs() < 0.02,
            "std {} vs {want}",
            var.sqrt()
        );
    }
}
