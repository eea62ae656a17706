//! Streaming infant-cry detection on the edge with tract.
//!
//! Not implemented yet: this crate holds the place of the edge binary in the workspace so the
//! dependency rules (`edge-infer` → `cry-core`, never burn) are in force from the start. The
//! engine, the streaming pipeline and the benchmarks arrive with the edge issue.

/// The sample rate the edge pipeline will feed the model, from the shared contract.
pub const MODEL_SAMPLE_RATE_HZ: u32 = cry_core::contract::SAMPLE_RATE_HZ;
