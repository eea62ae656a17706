//! Built-in architectures, and [`ConfigSource`]: the choice between them and a `config.json`.

use std::path::{Path, PathBuf};

use super::checkpoint::{CONFIG_FILE, CheckpointError, read_configs};
use super::config::{HubertConfig, PreprocessorConfig};

/// Where an architecture comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The built-in DistilHuBERT architecture.
    DistilHubert,
    /// The built-in tiny architecture (tests and demos).
    Tiny,
    /// A `config.json` (and a `preprocessor_config.json` beside it, if any).
    File(PathBuf),
}

/// A text that names no architecture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigSourceError {
    /// Neither a built-in name nor a file.
    #[error("`{0}` is neither `distilhubert`, `tiny` nor a file")]
    Unknown(String),
    /// A file, but not a `config.json`.
    #[error("must name a {CONFIG_FILE} (or be `distilhubert` or `tiny`), got {}", .0.display())]
    NotAConfigFile(PathBuf),
}

impl ConfigSource {
    /// How the source reads in a report: `DistilHuBERT`, `tiny HuBERT` or the file's path.
    pub fn name(&self) -> String {
        match self {
            Self::DistilHubert => "DistilHuBERT".into(),
            Self::Tiny => "tiny HuBERT".into(),
            Self::File(path) => path.display().to_string(),
        }
    }

    /// `distilhubert`, `tiny`, or the path of an existing `config.json`.
    pub fn parse(spec: &str) -> Result<Self, ConfigSourceError> {
        match spec {
            "distilhubert" => Ok(Self::DistilHubert),
            "tiny" => Ok(Self::Tiny),
            path if Path::new(path).is_file() => {
                let path = PathBuf::from(path);
                if path.file_name().is_some_and(|n| n == CONFIG_FILE) {
                    Ok(Self::File(path))
                } else {
                    Err(ConfigSourceError::NotAConfigFile(path))
                }
            }
            _ => Err(ConfigSourceError::Unknown(spec.to_string())),
        }
    }

    /// The model and preprocessor configs.
    pub fn load(&self) -> Result<(HubertConfig, PreprocessorConfig), CheckpointError> {
        match self {
            ConfigSource::DistilHubert => Ok(distilhubert()),
            ConfigSource::Tiny => Ok(tiny()),
            ConfigSource::File(path) => read_configs(path.parent().unwrap_or(path.as_path())),
        }
    }
}

/// The architecture of `ntu-spml/distilhubert` (23.5 M parameters): the values of its
/// `config.json` (revision fa87d96, October 2021) and of transformers'
/// `convert_distilhubert_original_s3prl_checkpoint_to_pytorch.py`.
pub const DISTILHUBERT_CONFIG: &str = r#"{
  "architectures": ["HubertModel"],
  "model_type": "hubert",
  "activation_dropout": 0.1,
  "apply_spec_augment": false,
  "attention_dropout": 0.1,
  "conv_bias": false,
  "conv_dim": [512, 512, 512, 512, 512, 512, 512],
  "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
  "conv_stride": [5, 2, 2, 2, 2, 2, 2],
  "do_stable_layer_norm": false,
  "feat_extract_activation": "gelu",
  "feat_extract_norm": "group",
  "feat_proj_dropout": 0.0,
  "feat_proj_layer_norm": false,
  "final_dropout": 0.0,
  "hidden_act": "gelu",
  "hidden_dropout": 0.1,
  "hidden_size": 768,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-05,
  "layerdrop": 0.0,
  "num_attention_heads": 12,
  "num_conv_pos_embedding_groups": 16,
  "num_conv_pos_embeddings": 128,
  "num_feat_extract_layers": 7,
  "num_hidden_layers": 2
}"#;

/// `ntu-spml/distilhubert`'s feature extractor: no waveform normalisation.
pub const DISTILHUBERT_PREPROCESSOR: &str = r#"{
  "do_normalize": false,
  "feature_extractor_type": "Wav2Vec2FeatureExtractor",
  "feature_size": 1,
  "padding_side": "right",
  "padding_value": 0.0,
  "return_attention_mask": false,
  "sampling_rate": 16000
}"#;

/// The DistilHuBERT configs.
pub fn distilhubert() -> (HubertConfig, PreprocessorConfig) {
    (
        serde_json::from_str(DISTILHUBERT_CONFIG).expect("valid preset"),
        serde_json::from_str(DISTILHUBERT_PREPROCESSOR).expect("valid preset"),
    )
}

/// DistilHuBERT's layout scaled down for tests and demos (about 40 k parameters): the same
/// conv kernels and strides (so the same frames per window) with 16 channels, 2 layers of
/// width 32. Not a model anyone should deploy.
pub fn tiny() -> (HubertConfig, PreprocessorConfig) {
    let (mut config, preprocessor) = distilhubert();
    config.conv_dim = vec![16; 7];
    config.hidden_size = 32;
    config.intermediate_size = 64;
    config.num_attention_heads = 2;
    config.num_conv_pos_embeddings = 16;
    config.num_conv_pos_embedding_groups = 4;
    config.classifier_proj_size = 16;
    (config, preprocessor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distilhubert_preset_is_valid() {
        let (config, pre) = distilhubert();
        config.validate().unwrap();
        pre.validate().unwrap();
        assert!(!config.feat_proj_layer_norm && !config.do_stable_layer_norm);
        assert_eq!(config.frames_for(48_000), 149);
        let (tiny, _) = tiny();
        tiny.validate().unwrap();
        assert_eq!(tiny.frames_for(48_000), 149);
    }
}
