//! Constants that the host (training, evaluation, export) and the edge (streaming inference)
//! must agree on.

/// Sample rate every model in this project consumes, in Hz (HuBERT's pre-training rate).
pub const SAMPLE_RATE_HZ: u32 = 16_000;

/// Length of one analysis window in seconds: the unit the edge classifies and the host crops.
pub const WINDOW_SECONDS: f32 = 3.0;

/// Length of one analysis window in samples at [`SAMPLE_RATE_HZ`].
pub const WINDOW_SAMPLES: usize = 48_000;

/// Default advance between consecutive windows in samples (1 s at [`SAMPLE_RATE_HZ`]).
pub const HOP_SAMPLES: usize = 16_000;

/// Clips longer than this are cut (with a warning) when loaded for training or evaluation.
pub const DEFAULT_MAX_CLIP_SECONDS: f32 = 30.0;

const _: () = assert!(WINDOW_SAMPLES == (WINDOW_SECONDS as usize) * SAMPLE_RATE_HZ as usize);
