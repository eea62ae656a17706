//! Dropout with masks from a counter-based generator: seeded per training step on the thread that
//! trains, made in parallel, and the same on every backend.
//!
//! burn's `Dropout` draws its masks from the backend's one global generator, element by element
//! (on flex, ChaCha through a distribution sampler: 8 % of a depth-1 fit's samples, all on the
//! thread that drives the fit while the other core waits; issue 16). Here the keep/drop decision
//! of element `i` of the `n`-th dropout call since [`reseed`] is a hash of (seed, `n`, `i`), so
//! the mask costs a few nanoseconds per element, splits across threads without changing, and
//! two fits on two threads never share a generator. The layers keep burn's [`Dropout`] for its
//! probability and training flag (what freezing a subtree clears); [`apply`] replaces its
//! `forward`.

use std::cell::Cell;

use burn::nn::Dropout;
use burn::prelude::*;
use rayon::prelude::*;

use crate::seed;

thread_local! {
    /// This thread's dropout stream: its seed and how many masks were drawn since.
    static STREAM: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Starts this thread's dropout stream anew from `seed` (a fit does so before every step).
pub fn reseed(seed_value: u64) {
    STREAM.with(|s| s.set((seed_value, 0)));
}

/// The key of the next mask on this thread.
fn next_key() -> u64 {
    STREAM.with(|s| {
        let (seed_value, drawn) = s.get();
        s.set((seed_value, drawn + 1));
        seed::derive(seed_value, &[seed::tag("dropout"), drawn])
    })
}

/// SplitMix64's output function: a well-mixed bijection on `u64`.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The mask of `n` elements under `key`: `1 / keep` where an element is kept (probability
/// `keep`), 0 where it is dropped. Element `i` depends only on `key` and `i`.
pub fn mask(key: u64, n: usize, keep: f64) -> Vec<f32> {
    // Kept when the hash's top 32 bits fall under keep · 2^32.
    let threshold = (keep * 4_294_967_296.0).round().min(4_294_967_295.0) as u64;
    let scale = (1.0 / keep) as f32;
    let fill = |start: usize, out: &mut [f32]| {
        for (j, v) in out.iter_mut().enumerate() {
            let i = (start + j) as u64;
            let h = finalize(key.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            *v = if (h >> 32) < threshold { scale } else { 0.0 };
        }
    };
    // Chunks of ~64k elements (below that a thread costs more than it saves), on rayon's current
    // pool: a fit running as one of several jobs keeps to its share of the cores.
    const CHUNK: usize = 1 << 16;
    let mut out = vec![0.0f32; n];
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, part)| fill(c * CHUNK, part));
    out
}

/// `layer`'s dropout of `x`: zeroes each element with its probability and scales the rest by
/// `1 / (1 - p)`, while training (the layer's flag set, on an autodiff device); `x` unchanged
/// otherwise. The mask is a constant of the graph, so the gradient is masked the same way.
pub fn apply<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let shape = x.shape();
    let values = mask(next_key(), shape.num_elements(), 1.0 - layer.prob);
    let mask = Tensor::<D>::from_data(TensorData::new(values, shape), &x.device());
    x * mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;

    #[test]
    fn masks_keep_their_share_scaled_and_repeat_by_key() {
        let n = 200_000; // over one chunk: the threaded path
        let m = mask(7, n, 0.9);
        let kept = m.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        assert!((kept - 0.9).abs() < 0.005, "kept {kept}");
        let scale = (1.0 / 0.9) as f32;
        assert!(m.iter().all(|&v| v == 0.0 || v == scale));
        assert_eq!(m, mask(7, n, 0.9), "same key, same mask");
        assert_ne!(m, mask(8, n, 0.9), "another key, another mask");
        // The threaded split changes nothing: element i is the same in a short mask.
        assert_eq!(&mask(7, 1000, 0.9)[..], &m[..1000]);
        // Neighbouring elements are not correlated: as many (drop, drop) pairs as chance gives.
        let pairs =
            m.windows(2).filter(|w| w[0] == 0.0 && w[1] == 0.0).count() as f64 / (n - 1) as f64;
        assert!((pairs - 0.01).abs() < 0.002, "adjacent drops {pairs}");
    }

    #[test]
    fn a_stream_repeats_after_reseed_and_moves_on_between_calls() {
        reseed(3);
        let (a, b) = (next_key(), next_key());
        assert_ne!(a, b);
        reseed(3);
        assert_eq!((next_key(), next_key()), (a, b));
        reseed(4);
        assert_ne!(next_key(), a);
    }

    #[test]
    fn only_training_on_an_autodiff_device_drops_and_the_gradient_follows_the_mask() {
        let layer = DropoutConfig::new(0.5).init();
        let plain = Device::flex();
        let x = Tensor::<2>::ones([64, 64], &plain);
        let same = apply(&layer, x.clone());
        assert_eq!(same.into_data(), x.into_data(), "no autodiff: identity");

        let device = Device::flex().autodiff();
        let x = Tensor::<2>::ones([64, 64], &device).require_grad();
        reseed(11);
        let y = apply(&layer, x.clone());
        let values: Vec<f32> = y.clone().into_data().try_into_vec::<f32>().unwrap();
        let dropped = values.iter().filter(|&&v| v == 0.0).count();
        assert!((1700..2400).contains(&dropped), "{dropped} of 4096 dropped");
        assert!(values.iter().all(|&v| v == 0.0 || v == 2.0));
        let grads = y.sum().backward();
        let grad: Vec<f32> = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(grad, values, "d(sum)/dx is the mask itself");
        reseed(11);
        let again: Vec<f32> = apply(&layer, Tensor::<2>::ones([64, 64], &device))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(again, values, "same seed, same mask");
    }
}
