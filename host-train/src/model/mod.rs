//! Lightweight HuBERT in burn, one module per transformers module, written once for every
//! backend.
//!
//! Module and field names follow transformers' `modeling_hubert.py`, so a checkpoint's keys are
//! the burn parameter paths (see [`checkpoint`] for the few exceptions).

pub mod activation;
pub mod attention;
pub mod boundary;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod dropout;
pub mod encoder;
pub mod feature_extractor;
pub mod feature_projection;
pub mod hub;
pub mod hubert;
pub mod init;
pub mod positional;
pub mod preprocess;
pub mod presets;

pub use classifier::{ClassifierOutput, Heads, HubertForSequenceClassification};
pub use config::{ConfigError, HubertConfig, PreprocessorConfig};
pub use hubert::{Hubert, HubertOutput};
