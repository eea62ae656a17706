//! Constants that the host (training, evaluation, export) and the edge (streaming inference)
//! must agree on.

/// Sample rate every model in this project consumes, in Hz (HuBERT's pre-training rate).
pub const SAMPLE_RATE_HZ: u32 = 16_000;

/// Length of one analysis window in seconds: the unit the edge classifies and the host crops.
pub const WINDOW_SECONDS: f32 = 3.0;

/// Length of one analysis window in samples at [`SAMPLE_RATE_HZ`].
pub const WINDOW_SAMPLES: usize = 48_000;

/// Advance between consecutive scoring windows in samples (2 s at [`SAMPLE_RATE_HZ`]): the hop
/// at which the host scores clips and chooses a model's alert policy, stored in every exported
/// model (`cry.hop_samples`), and at which the edge classifies and streams it.
///
/// Each second of audio goes through the model `WINDOW_SAMPLES / HOP_SAMPLES` times, so this
/// sets the compute per streamed second: 1.5 times, 5.17 G multiply-accumulates for
/// DistilHuBERT (10.33 G per window), instead of 3 times and 10.33 G at the 1 s hop used before.
pub const HOP_SAMPLES: usize = 32_000;

/// The hop of models exported before the hop was stored with them (1 s): their alert policies
/// were chosen at it, so the edge runs them at it.
pub const LEGACY_HOP_SAMPLES: usize = 16_000;

/// Clips longer than this are cut (with a warning) when loaded for training or evaluation.
pub const DEFAULT_MAX_CLIP_SECONDS: f32 = 30.0;

const _: () = assert!(WINDOW_SAMPLES == (WINDOW_SECONDS as usize) * SAMPLE_RATE_HZ as usize);
const _: () = assert!(HOP_SAMPLES <= WINDOW_SAMPLES && HOP_SAMPLES % LEGACY_HOP_SAMPLES == 0);
