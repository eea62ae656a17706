//! `config.json` and `preprocessor_config.json` of a Hugging Face HuBERT checkpoint.
//!
//! Field for field as transformers' `HubertConfig`, with transformers' defaults for every field
//! an older file omits (the 2021 `ntu-spml/distilhubert` file lacks several). Fields this crate
//! does not use are kept verbatim in `extra`, so a saved config round-trips.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A setting the model does not implement, or a config that contradicts itself.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unsupported config: `{field}` = {value}: {reason}")]
pub struct ConfigError {
    /// The offending field.
    pub field: &'static str,
    /// Its value, as JSON.
    pub value: String,
    /// Why it is not accepted.
    pub reason: &'static str,
}

macro_rules! defaults {
    ($($name:ident: $ty:ty = $value:expr;)*) => {
        $(fn $name() -> $ty { $value })*
    };
}

defaults! {
    d_vocab_size: usize = 32;
    d_hidden_size: usize = 768;
    d_num_hidden_layers: usize = 12;
    d_num_attention_heads: usize = 12;
    d_intermediate_size: usize = 3072;
    d_gelu: String = "gelu".into();
    d_dropout: f64 = 0.1;
    d_feat_proj_dropout: f64 = 0.0;
    d_true: bool = true;
    d_layer_norm_eps: f64 = 1e-5;
    d_feat_extract_norm: String = "group".into();
    d_conv_dim: Vec<usize> = vec![512; 7];
    d_conv_stride: Vec<usize> = vec![5, 2, 2, 2, 2, 2, 2];
    d_conv_kernel: Vec<usize> = vec![10, 3, 3, 3, 3, 2, 2];
    d_num_conv_pos_embeddings: usize = 128;
    d_num_conv_pos_embedding_groups: usize = 16;
    d_classifier_proj_size: usize = 256;
    d_initializer_range: f64 = 0.02;
    d_sampling_rate: u32 = 16_000;
    d_feature_size: usize = 1;
}

/// `config.json` key of the cry head: `"cry_head": true` when the classifier has a binary cry
/// head (`cry_classifier.weight` `[1, classifier_proj_size]`, `cry_classifier.bias` `[1]`) on
/// the same pooled projection as its reason head. transformers keeps the key and leaves the
/// head's tensors unused; this project loads and saves them.
pub const CRY_HEAD_KEY: &str = "cry_head";

/// transformers' `HubertConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HubertConfig {
    /// CTC vocabulary size (unused here, kept for round trips).
    #[serde(default = "d_vocab_size")]
    pub vocab_size: usize,
    /// Transformer width.
    #[serde(default = "d_hidden_size")]
    pub hidden_size: usize,
    /// Transformer layers.
    #[serde(default = "d_num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Attention heads.
    #[serde(default = "d_num_attention_heads")]
    pub num_attention_heads: usize,
    /// Feed-forward width.
    #[serde(default = "d_intermediate_size")]
    pub intermediate_size: usize,
    /// Feed-forward activation; only `gelu` (exact) is implemented.
    #[serde(default = "d_gelu")]
    pub hidden_act: String,
    /// Dropout on residual branches and the positional embedding sum.
    #[serde(default = "d_dropout")]
    pub hidden_dropout: f64,
    /// Dropout inside the feed-forward block.
    #[serde(default = "d_dropout")]
    pub activation_dropout: f64,
    /// Dropout on attention probabilities.
    #[serde(default = "d_dropout")]
    pub attention_dropout: f64,
    /// LayerNorm before the feature projection.
    #[serde(default = "d_true")]
    pub feat_proj_layer_norm: bool,
    /// Dropout after the feature projection.
    #[serde(default = "d_feat_proj_dropout")]
    pub feat_proj_dropout: f64,
    /// Dropout before the CTC head (unused here).
    #[serde(default = "d_dropout")]
    pub final_dropout: f64,
    /// Probability of skipping a whole layer in training (not applied here; see `forward`).
    #[serde(default = "d_dropout")]
    pub layerdrop: f64,
    /// Initialiser standard deviation for random init.
    #[serde(default = "d_initializer_range")]
    pub initializer_range: f64,
    /// Epsilon of the encoder LayerNorms.
    #[serde(default = "d_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// `group` (GroupNorm after the first conv) or `layer` (LayerNorm after every conv).
    #[serde(default = "d_feat_extract_norm")]
    pub feat_extract_norm: String,
    /// Activation of the conv stack; only `gelu` is implemented.
    #[serde(default = "d_gelu")]
    pub feat_extract_activation: String,
    /// Output channels of each conv.
    #[serde(default = "d_conv_dim")]
    pub conv_dim: Vec<usize>,
    /// Stride of each conv.
    #[serde(default = "d_conv_stride")]
    pub conv_stride: Vec<usize>,
    /// Kernel of each conv.
    #[serde(default = "d_conv_kernel")]
    pub conv_kernel: Vec<usize>,
    /// Whether the convs have a bias.
    #[serde(default)]
    pub conv_bias: bool,
    /// Kernel of the positional conv.
    #[serde(default = "d_num_conv_pos_embeddings")]
    pub num_conv_pos_embeddings: usize,
    /// Groups of the positional conv.
    #[serde(default = "d_num_conv_pos_embedding_groups")]
    pub num_conv_pos_embedding_groups: usize,
    /// BatchNorm instead of weight norm in the positional conv; not implemented.
    #[serde(default)]
    pub conv_pos_batch_norm: bool,
    /// `true`: pre-norm layers and a final LayerNorm (HuBERT-large); `false`: post-norm with
    /// the LayerNorm before the layers (HuBERT-base, DistilHuBERT).
    #[serde(default)]
    pub do_stable_layer_norm: bool,
    /// Classification head: learned softmax-weighted sum of every hidden state.
    #[serde(default)]
    pub use_weighted_layer_sum: bool,
    /// Classification head: width of the projector.
    #[serde(default = "d_classifier_proj_size")]
    pub classifier_proj_size: usize,
    /// Class names by output index, as strings of integers (`{"0": "hungry", ...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id2label: Option<BTreeMap<String, String>>,
    /// Inverse of `id2label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label2id: Option<BTreeMap<String, Value>>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Default for HubertConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every field has a default")
    }
}

fn unsupported(field: &'static str, value: impl Serialize, reason: &'static str) -> ConfigError {
    ConfigError {
        field,
        value: serde_json::to_string(&value).unwrap_or_default(),
        reason,
    }
}

impl HubertConfig {
    /// Rejects settings the model does not implement, naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.hidden_act != "gelu" {
            return Err(unsupported(
                "hidden_act",
                &self.hidden_act,
                "only exact gelu is implemented",
            ));
        }
        if self.feat_extract_activation != "gelu" {
            return Err(unsupported(
                "feat_extract_activation",
                &self.feat_extract_activation,
                "only exact gelu is implemented",
            ));
        }
        if self.feat_extract_norm != "group" && self.feat_extract_norm != "layer" {
            return Err(unsupported(
                "feat_extract_norm",
                &self.feat_extract_norm,
                "must be \"group\" or \"layer\"",
            ));
        }
        if self.conv_pos_batch_norm {
            return Err(unsupported(
                "conv_pos_batch_norm",
                true,
                "the batch-norm positional conv is not implemented",
            ));
        }
        let n = self.conv_dim.len();
        if n == 0 || self.conv_stride.len() != n || self.conv_kernel.len() != n {
            return Err(unsupported(
                "conv_dim",
                &self.conv_dim,
                "conv_dim, conv_stride and conv_kernel must be non-empty and of equal length",
            ));
        }
        if let Some(layers) = self.extra.get("num_feat_extract_layers")
            && layers.as_u64() != Some(n as u64)
        {
            return Err(unsupported(
                "num_feat_extract_layers",
                layers,
                "must equal the length of conv_dim",
            ));
        }
        if self.hidden_size == 0 || self.hidden_size % self.num_attention_heads.max(1) != 0 {
            return Err(unsupported(
                "num_attention_heads",
                self.num_attention_heads,
                "must divide hidden_size",
            ));
        }
        if self.num_conv_pos_embedding_groups == 0
            || self.hidden_size % self.num_conv_pos_embedding_groups != 0
        {
            return Err(unsupported(
                "num_conv_pos_embedding_groups",
                self.num_conv_pos_embedding_groups,
                "must divide hidden_size",
            ));
        }
        for (field, p) in [
            ("hidden_dropout", self.hidden_dropout),
            ("activation_dropout", self.activation_dropout),
            ("attention_dropout", self.attention_dropout),
            ("feat_proj_dropout", self.feat_proj_dropout),
            ("final_dropout", self.final_dropout),
            ("layerdrop", self.layerdrop),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(unsupported(
                    field,
                    p,
                    "a dropout probability must be in [0, 1)",
                ));
            }
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            return Err(unsupported(
                "layer_norm_eps",
                self.layer_norm_eps,
                "must be a positive number",
            ));
        }
        if !(self.initializer_range >= 0.0 && self.initializer_range.is_finite()) {
            return Err(unsupported(
                "initializer_range",
                self.initializer_range,
                "must be a non-negative number",
            ));
        }
        if self.num_conv_pos_embeddings == 0 {
            return Err(unsupported(
                "num_conv_pos_embeddings",
                0,
                "must be positive",
            ));
        }
        Ok(())
    }

    /// A lower bound on the values a model of this config holds: the weights of its convs,
    /// projections, attention and feed-forward blocks (and head, for a classifier), without biases
    /// and norms; saturating. A weight file with fewer values cannot belong to this config, so a
    /// loader refuses it before allocating what a corrupt config describes.
    pub fn min_parameters(&self, classifier: bool) -> u128 {
        let mul = |a: usize, b: usize| (a as u128).saturating_mul(b as u128);
        let mut total: u128 = 0;
        let mut channels = 1;
        for (&dim, &kernel) in self.conv_dim.iter().zip(&self.conv_kernel) {
            total = total.saturating_add(mul(dim, channels).saturating_mul(kernel as u128));
            channels = dim;
        }
        let h = self.hidden_size;
        let groups = self.num_conv_pos_embedding_groups.max(1);
        let per_layer = mul(h, h)
            .saturating_mul(4)
            .saturating_add(mul(h, self.intermediate_size).saturating_mul(2));
        total = total
            .saturating_add(mul(channels, h))
            .saturating_add(mul(h, h / groups).saturating_mul(self.num_conv_pos_embeddings as u128))
            .saturating_add(per_layer.saturating_mul(self.num_hidden_layers as u128));
        if classifier {
            total = total
                .saturating_add(mul(h, self.classifier_proj_size))
                .saturating_add(mul(self.classifier_proj_size, self.num_labels()))
                .saturating_add(if self.has_cry_head() {
                    self.classifier_proj_size as u128
                } else {
                    0
                });
        }
        total
    }

    /// Whether the classifier has a binary cry head next to its reason head
    /// ([`CRY_HEAD_KEY`]).
    pub fn has_cry_head(&self) -> bool {
        self.extra
            .get(CRY_HEAD_KEY)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Adds or removes the cry head in the config.
    pub fn set_cry_head(&mut self, on: bool) {
        if on {
            self.extra.insert(CRY_HEAD_KEY.into(), Value::Bool(true));
        } else {
            self.extra.remove(CRY_HEAD_KEY);
        }
    }

    /// Number of classes: `id2label`'s size, else `num_labels`, else 2 (transformers' default).
    pub fn num_labels(&self) -> usize {
        match &self.id2label {
            Some(map) if !map.is_empty() => map.len(),
            _ => self
                .extra
                .get("num_labels")
                .and_then(Value::as_u64)
                .map_or(2, |n| n as usize),
        }
    }

    /// Class names in output order (`LABEL_i` where `id2label` is missing, as transformers).
    pub fn labels(&self) -> Vec<String> {
        (0..self.num_labels())
            .map(|i| {
                self.id2label
                    .as_ref()
                    .and_then(|m| m.get(&i.to_string()).cloned())
                    .unwrap_or_else(|| format!("LABEL_{i}"))
            })
            .collect()
    }

    /// Sets the classes (and `num_labels`), as transformers writes them.
    pub fn set_labels(&mut self, labels: &[String]) {
        self.id2label = Some(
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), l.clone()))
                .collect(),
        );
        self.label2id = Some(
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.clone(), Value::from(i)))
                .collect(),
        );
        self.extra.remove("num_labels");
    }

    /// Frames out of the conv stack for `samples` input samples (0 if too short).
    pub fn frames_for(&self, samples: usize) -> usize {
        self.conv_kernel
            .iter()
            .zip(&self.conv_stride)
            .fold(
                samples,
                |len, (&k, &s)| if len < k { 0 } else { (len - k) / s + 1 },
            )
    }

    /// The `architectures` entry of the config, if any.
    pub fn architectures(&self) -> Vec<String> {
        self.extra
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// transformers' `Wav2Vec2FeatureExtractor` settings (`preprocessor_config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessorConfig {
    /// Per-clip zero mean / unit variance normalisation of the waveform.
    #[serde(default = "d_true")]
    pub do_normalize: bool,
    /// The rate the model expects, in Hz.
    #[serde(default = "d_sampling_rate")]
    pub sampling_rate: u32,
    /// Always 1 for raw audio.
    #[serde(default = "d_feature_size")]
    pub feature_size: usize,
    /// Value used to pad batches.
    #[serde(default)]
    pub padding_value: f64,
    /// Whether the model should be given an attention mask for padded batches.
    #[serde(default)]
    pub return_attention_mask: bool,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Default for PreprocessorConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every field has a default")
    }
}

impl PreprocessorConfig {
    /// Rejects settings that cannot be honoured.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.feature_size != 1 {
            return Err(unsupported(
                "feature_size",
                self.feature_size,
                "raw audio has feature_size 1",
            ));
        }
        if self.sampling_rate != cry_core::contract::SAMPLE_RATE_HZ {
            return Err(unsupported(
                "sampling_rate",
                self.sampling_rate,
                "this project feeds models 16 kHz audio",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of the 2021 `ntu-spml/distilhubert` config.json that matter here; the file
    /// predates `feat_proj_layer_norm`, `conv_pos_batch_norm`, `use_weighted_layer_sum` and
    /// `classifier_proj_size`.
    const OLD_DISTILHUBERT: &str = r#"{
        "architectures": ["HubertModel"], "conv_bias": false, "conv_dim": [512,512,512,512,512,512,512],
        "conv_kernel": [10,3,3,3,3,2,2], "conv_stride": [5,2,2,2,2,2,2], "do_stable_layer_norm": false,
        "feat_extract_activation": "gelu", "feat_extract_norm": "group", "hidden_act": "gelu",
        "hidden_size": 768, "intermediate_size": 3072, "layer_norm_eps": 1e-05, "model_type": "hubert",
        "num_attention_heads": 12, "num_conv_pos_embedding_groups": 16, "num_conv_pos_embeddings": 128,
        "num_feat_extract_layers": 7, "num_hidden_layers": 2, "transformers_version": "4.12.0.dev0"
    }"#;

    #[test]
    fn old_file_parses_with_transformers_defaults() {
        let c: HubertConfig = serde_json::from_str(OLD_DISTILHUBERT).unwrap();
        c.validate().unwrap();
        assert_eq!(c.num_hidden_layers, 2);
        assert!(c.feat_proj_layer_norm, "transformers' default");
        assert!(!c.conv_pos_batch_norm && !c.use_weighted_layer_sum);
        assert_eq!(c.classifier_proj_size, 256);
        assert_eq!(c.num_labels(), 2);
        assert_eq!(c.frames_for(16_000), 49);
        assert_eq!(c.frames_for(48_000), 149);
        assert_eq!(c.frames_for(399), 0);
        assert_eq!(c.frames_for(400), 1);
        assert_eq!(c.architectures(), ["HubertModel"]);
    }

    #[test]
    fn unknown_fields_round_trip() {
        let c: HubertConfig = serde_json::from_str(OLD_DISTILHUBERT).unwrap();
        let again: HubertConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(c, again);
        assert_eq!(again.extra["transformers_version"], "4.12.0.dev0");
    }

    #[test]
    fn unsupported_settings_name_the_field() {
        let bad = |patch: &str| {
            let mut v: Value = serde_json::from_str(OLD_DISTILHUBERT).unwrap();
            let p: Value = serde_json::from_str(patch).unwrap();
            for (k, x) in p.as_object().unwrap() {
                v[k] = x.clone();
            }
            serde_json::from_value::<HubertConfig>(v)
                .unwrap()
                .validate()
                .unwrap_err()
        };
        assert_eq!(
            bad(r#"{"conv_pos_batch_norm": true}"#).field,
            "conv_pos_batch_norm"
        );
        assert_eq!(bad(r#"{"hidden_act": "relu"}"#).field, "hidden_act");
        assert_eq!(
            bad(r#"{"feat_extract_norm": "batch"}"#).field,
            "feat_extract_norm"
        );
        assert_eq!(bad(r#"{"conv_kernel": [10, 3]}"#).field, "conv_dim");
        assert_eq!(
            bad(r#"{"num_attention_heads": 7}"#).field,
            "num_attention_heads"
        );
        // Found by the checkpoint mutation harness: burn's dropout panics outside [0, 1).
        assert_eq!(bad(r#"{"hidden_dropout": 1}"#).field, "hidden_dropout");
        assert_eq!(bad(r#"{"layerdrop": -0.1}"#).field, "layerdrop");
        assert_eq!(bad(r#"{"layer_norm_eps": 0}"#).field, "layer_norm_eps");
        assert!(
            bad(r#"{"hidden_act": "relu"}"#)
                .to_string()
                .contains("`hidden_act` = \"relu\"")
        );
    }

    #[test]
    fn labels_from_id2label() {
        let mut c = HubertConfig::default();
        assert_eq!(c.labels(), ["LABEL_0", "LABEL_1"]);
        c.set_labels(&["hungry".into(), "tired".into(), "burping".into()]);
        assert_eq!(c.num_labels(), 3);
        assert_eq!(c.labels(), ["hungry", "tired", "burping"]);
        assert_eq!(c.label2id.as_ref().unwrap()["burping"], 2);
    }

    #[test]
    fn preprocessor_defaults_and_checks() {
        let p: PreprocessorConfig = serde_json::from_str(r#"{"do_normalize": false}"#).unwrap();
        assert!(!p.do_normalize && p.sampling_rate == 16_000);
        p.validate().unwrap();
        let p: PreprocessorConfig = serde_json::from_str(r#"{"sampling_rate": 8000}"#).unwrap();
        assert_eq!(p.validate().unwrap_err().field, "sampling_rate");
    }
}
