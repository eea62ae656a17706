//! The contract shared by `host-train` and `edge-infer`.
//!
//! Everything both sides must agree on lives here, once: the sample rate the models see, the
//! analysis window and hop, the label set and its order, and audio decoding and resampling. This
//! crate depends on no ML framework, so the edge binary stays small and the host cannot drift from
//! it. Both binaries also read their `--config` files through one loader here ([`config_file`]).

pub mod alerts;
pub mod audio;
pub mod config_file;
pub mod contract;
pub mod hostile;
pub mod labels;
pub mod metadata;
pub mod scoring;
pub mod windows;

pub use audio::{
    AudioError, Clip, DecodeError, LoadOptions, SourceInfo, WavStream, load_clip,
    load_clip_from_bytes,
};
pub use labels::{LabelError, LabelSet};
pub use metadata::{MetadataError, ModelMetadata};
