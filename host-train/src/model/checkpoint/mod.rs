//! Hugging Face checkpoint directories: load and save.
//!
//! A directory holds `config.json`, `model.safetensors` or `pytorch_model.bin`, and
//! (optionally) `preprocessor_config.json`. Checkpoint keys are the burn parameter paths, with
//! this remapping table and nothing else:
//!
//! | checkpoint key | burn path |
//! |---|---|
//! | `hubert.<rest>` (classification checkpoints) | `hubert.<rest>` for the classifier, `<rest>` for a bare backbone |
//! | `…pos_conv_embed.conv.parametrizations.weight.original0` (2023+ files) | `…pos_conv_embed.conv.weight_g` |
//! | `…pos_conv_embed.conv.parametrizations.weight.original1` | `…pos_conv_embed.conv.weight_v` |
//! | `masked_spec_embed` (SpecAugment's mask vector) | ignored |
//!
//! Linear weights are transposed and norm weights renamed (`weight`/`bias` ↔ `gamma`/`beta`) by
//! burn-store's PyTorch adapters. Any other missing or unexpected key, and any shape mismatch,
//! is an error that lists them all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn_store::{
    BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore, bridge,
};

mod hash;

pub use hash::{checkpoint_dir_hash, checkpoint_hash};

use super::classifier::HubertForSequenceClassification;
use super::config::{ConfigError, HubertConfig, PreprocessorConfig};
use super::hubert::Hubert;
use crate::fsx::{self, WriteError};

/// Weight file names, in the order they are looked for.
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// The legacy PyTorch pickle.
pub const PYTORCH_FILE: &str = "pytorch_model.bin";
/// The model config.
pub const CONFIG_FILE: &str = "config.json";
/// The feature-extractor config.
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";

const HOW_TO_GET: &str = "get a checkpoint directory with `huggingface-cli download \
ntu-spml/distilhubert --local-dir DIR` or `git clone https://huggingface.co/ntu-spml/distilhubert \
DIR` on a machine with internet, or make a random-init one with `host-train init`";

/// Why a checkpoint directory cannot be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The directory or its config is missing.
    #[error("no {CONFIG_FILE} in {}: {HOW_TO_GET}", dir.display())]
    MissingConfig {
        /// The directory.
        dir: PathBuf,
    },
    /// No weight file.
    #[error("no {SAFETENSORS_FILE} or {PYTORCH_FILE} in {}: {HOW_TO_GET}", dir.display())]
    MissingWeights {
        /// The directory.
        dir: PathBuf,
    },
    /// A JSON file does not parse.
    #[error("failed to parse {}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// The config asks for something the model does not implement.
    #[error("{}: {source}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        source: ConfigError,
    },
    /// The weight file cannot be read.
    #[error("failed to read {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Keys or shapes do not match the config.
    #[error(
        "{} does not match its config: {}",
        path.display(),
        describe_mismatch(missing, unexpected, shapes)
    )]
    Mismatch {
        /// The weight file.
        path: PathBuf,
        /// Parameters the model needs that the file lacks.
        missing: Vec<String>,
        /// Tensors in the file the model has no place for.
        unexpected: Vec<String>,
        /// Shape or type mismatches, described.
        shapes: Vec<String>,
    },
    /// The weight file holds fewer values than the config's model needs.
    #[error(
        "{} holds {holds} values but its {CONFIG_FILE} describes a model of at least {needs}: \
         the two do not belong together",
        path.display()
    )]
    TooFewValues {
        /// The weight file.
        path: PathBuf,
        /// Values in the file.
        holds: u128,
        /// The config's lower bound.
        needs: u128,
    },
    /// Writing failed.
    #[error("failed to write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl From<WriteError> for CheckpointError {
    fn from(e: WriteError) -> Self {
        Self::Write {
            path: e.path,
            source: e.source,
        }
    }
}

fn describe_mismatch(missing: &[String], unexpected: &[String], shapes: &[String]) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing tensors: {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected tensors: {}", unexpected.join(", ")));
    }
    if !shapes.is_empty() {
        parts.push(format!("wrong shapes: {}", shapes.join("; ")));
    }
    parts.join("; ")
}

/// The two model classes a checkpoint can hold.
// One value per loaded model; the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum HubertModelKind {
    /// `HubertModel` (a pretrained backbone such as DistilHuBERT).
    Base(Hubert),
    /// `HubertForSequenceClassification`.
    Classifier(HubertForSequenceClassification),
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// `config.json`.
    pub config: HubertConfig,
    /// `preprocessor_config.json` (defaults when absent).
    pub preprocessor: PreprocessorConfig,
    /// The weights.
    pub model: HubertModelKind,
    /// The weight file it came from.
    pub weights_path: PathBuf,
    /// SpecAugment's `masked_spec_embed` (`[hidden]`): unused here, but kept so a saved
    /// checkpoint is complete for transformers.
    pub masked_spec_embed: Option<TensorData>,
}

/// Name of SpecAugment's learned mask vector, inside the backbone.
const MASKED_SPEC_EMBED: &str = "masked_spec_embed";

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CheckpointError> {
    let text = std::fs::read_to_string(path).map_err(|e| CheckpointError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|source| CheckpointError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and validates `config.json` and `preprocessor_config.json` of `dir`.
pub fn read_configs(dir: &Path) -> Result<(HubertConfig, PreprocessorConfig), CheckpointError> {
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.is_file() {
        return Err(CheckpointError::MissingConfig {
            dir: dir.to_path_buf(),
        });
    }
    let config: HubertConfig = read_json(&config_path)?;
    config
        .validate()
        .map_err(|source| CheckpointError::Config {
            path: config_path.clone(),
            source,
        })?;
    let pre_path = dir.join(PREPROCESSOR_FILE);
    let preprocessor = if pre_path.is_file() {
        let p: PreprocessorConfig = read_json(&pre_path)?;
        p.validate().map_err(|source| CheckpointError::Config {
            path: pre_path,
            source,
        })?;
        p
    } else {
        log::warn!(
            "no {PREPROCESSOR_FILE} in {}; using Wav2Vec2FeatureExtractor defaults (do_normalize = true)",
            dir.display()
        );
        PreprocessorConfig::default()
    };
    Ok((config, preprocessor))
}

/// Every tensor of a weight file as f32, by checkpoint key.
pub fn read_tensors(path: &Path) -> Result<BTreeMap<String, TensorData>, CheckpointError> {
    let read_error = |reason: String| CheckpointError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let tensors = if is_safetensors {
        SafetensorsStore::from_file(path)
            .get_all_tensors()
            .map_err(|e| read_error(e.to_string()))?
            .clone()
    } else {
        PytorchStore::from_file(path)
            .get_all_tensors()
            .map_err(|e| read_error(e.to_string()))?
            .clone()
    };
    tensors
        .into_iter()
        .map(|(name, tensor)| {
            let data =
                bridge::into_data(tensor).map_err(|e| read_error(format!("tensor {name}: {e}")))?;
            Ok((name, data.convert::<f32>()))
        })
        .collect()
}

/// Checkpoint key → burn path, or `None` for keys that are deliberately ignored.
fn to_module_path(key: &str, classifier: bool) -> Option<String> {
    if key.ends_with(MASKED_SPEC_EMBED) {
        return None;
    }
    let key = if classifier {
        key.to_string()
    } else {
        key.strip_prefix("hubert.").unwrap_or(key).to_string()
    };
    Some(
        key.replace(".parametrizations.weight.original0", ".weight_g")
            .replace(".parametrizations.weight.original1", ".weight_v"),
    )
}

/// burn path → checkpoint key as transformers writes it today.
fn to_checkpoint_key(path: &str) -> String {
    path.replace(".conv.weight_g", ".conv.parametrizations.weight.original0")
        .replace(".conv.weight_v", ".conv.parametrizations.weight.original1")
}

/// The weight file of `dir` (safetensors preferred).
pub fn weights_file(dir: &Path) -> Result<PathBuf, CheckpointError> {
    [SAFETENSORS_FILE, PYTORCH_FILE]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| CheckpointError::MissingWeights {
            dir: dir.to_path_buf(),
        })
}

/// Applies checkpoint tensors to `module`, failing on any missing, unexpected or misshapen one.
fn apply_checked<M: ModuleSnapshot>(
    module: &mut M,
    tensors: BTreeMap<String, TensorData>,
    classifier: bool,
    path: &Path,
) -> Result<(), CheckpointError> {
    let snapshots = tensors
        .into_iter()
        .filter_map(|(key, data)| {
            to_module_path(&key, classifier).map(|name| bridge::from_data(data, name, None))
        })
        .collect();
    let result = module.apply(snapshots, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    let mut missing: Vec<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
    let mut unexpected = result.unused.clone();
    missing.sort();
    unexpected.sort();
    let shapes: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
    if missing.is_empty() && unexpected.is_empty() && shapes.is_empty() {
        Ok(())
    } else {
        Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            missing,
            unexpected,
            shapes,
        })
    }
}

/// Config key marking a checkpoint made by `host-train init` (random weights, not pretrained).
pub const RANDOM_INIT_KEY: &str = "cry_random_init";

impl Checkpoint {
    /// A randomly initialised checkpoint (what `host-train init` writes). With `labels`, a
    /// classifier with those classes; without, a bare backbone. The config is marked with
    /// [`RANDOM_INIT_KEY`] so that anything trained from it can say it is not pretrained.
    pub fn random(
        mut config: HubertConfig,
        preprocessor: PreprocessorConfig,
        labels: Option<&[String]>,
        seed: u64,
        device: &Device,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        preprocessor.validate()?;
        config
            .extra
            .insert(RANDOM_INIT_KEY.into(), serde_json::json!({ "seed": seed }));
        // transformers creates the SpecAugment vector (uniform in [0, 1)) whenever masking is
        // configured, and expects it in the file.
        let masks = ["mask_time_prob", "mask_feature_prob"]
            .iter()
            .zip([0.05, 0.0])
            .any(|(key, default)| {
                config
                    .extra
                    .get(*key)
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(default)
                    > 0.0
            });
        let (masked_spec_embed, model) = crate::model::init::seeded(device, seed, || {
            let masked_spec_embed = masks.then(|| {
                Tensor::<1>::random(
                    [config.hidden_size],
                    burn::tensor::Distribution::Uniform(0.0, 1.0),
                    device,
                )
                .into_data()
            });
            let model = match labels {
                Some(labels) => {
                    config.set_labels(labels);
                    HubertModelKind::Classifier(HubertForSequenceClassification::new(
                        &config, device,
                    ))
                }
                None => HubertModelKind::Base(Hubert::new(&config, device)),
            };
            (masked_spec_embed, model)
        });
        Ok(Self {
            config,
            preprocessor,
            model,
            weights_path: PathBuf::new(),
            masked_spec_embed,
        })
    }

    /// Whether the weights are random (made by `host-train init`), not pretrained.
    pub fn is_random_init(&self) -> bool {
        self.config.extra.contains_key(RANDOM_INIT_KEY)
    }

    /// The model input for one clip of 16 kHz audio: normalised when the preprocessor says so.
    ///
    /// # Shapes
    /// `[1, samples]`.
    pub fn input(&self, samples: &[f32], device: &Device) -> Tensor<2> {
        let mut samples = samples.to_vec();
        if self.preprocessor.do_normalize {
            super::preprocess::zero_mean_unit_var(&mut samples);
        }
        let n = samples.len();
        Tensor::from_data(TensorData::new(samples, [1, n]), device)
    }

    /// Last hidden state and, for a classifier, logits of a batch without padding.
    ///
    /// # Shapes
    /// `input`: `[batch, samples]` → (`[batch, frames, hidden]`, `[batch, classes]`).
    pub fn forward(&self, input: Tensor<2>) -> (Tensor<3>, Option<Tensor<2>>) {
        match &self.model {
            HubertModelKind::Base(m) => (
                m.forward(&self.config, input, None, false)
                    .last_hidden_state,
                None,
            ),
            HubertModelKind::Classifier(m) => {
                let out = m.forward(&self.config, input, None, false);
                (out.last_hidden_state, Some(out.logits))
            }
        }
    }

    /// Whether `dir` has a `config.json` (a checkpoint, or the start of one).
    pub fn has_config(dir: &Path) -> bool {
        dir.join(CONFIG_FILE).is_file()
    }

    /// Loads a checkpoint directory onto `device`. The model class follows the weights: a file
    /// with a `classifier.weight` is a classifier, otherwise a backbone.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, CheckpointError> {
        let (config, preprocessor) = read_configs(dir)?;
        let weights_path = weights_file(dir)?;
        let tensors = read_tensors(&weights_path)?;
        let classifier = tensors.contains_key("classifier.weight");
        let holds: u128 = tensors.values().map(|t| t.num_elements() as u128).sum();
        let needs = config.min_parameters(classifier);
        if needs > holds {
            return Err(CheckpointError::TooFewValues {
                path: weights_path,
                holds,
                needs,
            });
        }
        let masked_spec_embed = tensors
            .iter()
            .find(|(k, _)| k.ends_with(MASKED_SPEC_EMBED))
            .map(|(_, v)| v.clone());
        let model = if classifier {
            let mut m = HubertForSequenceClassification::new(&config, device);
            apply_checked(&mut m, tensors, true, &weights_path)?;
            HubertModelKind::Classifier(m)
        } else {
            let mut m = Hubert::new(&config, device);
            apply_checked(&mut m, tensors, false, &weights_path)?;
            HubertModelKind::Base(m)
        };
        Ok(Self {
            config,
            preprocessor,
            model,
            weights_path,
            masked_spec_embed,
        })
    }

    /// Writes `config.json`, `model.safetensors` and `preprocessor_config.json` into `dir` in
    /// the layout transformers' `from_pretrained` reads.
    pub fn save(&self, dir: &Path) -> Result<(), CheckpointError> {
        std::fs::create_dir_all(dir).map_err(|source| CheckpointError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut config = self.config.clone();
        let (architecture, mut tensors, prefix) = match &self.model {
            HubertModelKind::Base(m) => ("HubertModel", collect_named(m), ""),
            HubertModelKind::Classifier(m) => (
                "HubertForSequenceClassification",
                collect_named(m),
                "hubert.",
            ),
        };
        if let Some(embed) = &self.masked_spec_embed {
            tensors.push((format!("{prefix}{MASKED_SPEC_EMBED}"), embed.clone()));
        }
        config
            .extra
            .insert("architectures".into(), serde_json::json!([architecture]));
        config
            .extra
            .insert("model_type".into(), serde_json::json!("hubert"));
        let mut preprocessor = self.preprocessor.clone();
        preprocessor
            .extra
            .entry("feature_extractor_type".into())
            .or_insert_with(|| serde_json::json!("Wav2Vec2FeatureExtractor"));
        write_file(
            &dir.join(CONFIG_FILE),
            serde_json::to_string_pretty(&config).expect("serialisable") + "\n",
        )?;
        write_file(
            &dir.join(PREPROCESSOR_FILE),
            serde_json::to_string_pretty(&preprocessor).expect("serialisable") + "\n",
        )?;
        write_safetensors(&dir.join(SAFETENSORS_FILE), &tensors)
    }
}

fn collect_named<M: ModuleSnapshot>(module: &M) -> Vec<(String, TensorData)> {
    module
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| {
            let name = to_checkpoint_key(&t.name);
            let data = bridge::into_data(t)
                .expect("in-memory tensor")
                .convert::<f32>();
            (name, data)
        })
        .collect()
}

fn write_file(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), CheckpointError> {
    Ok(fsx::write(path, bytes)?)
}

/// Writes f32 tensors as a safetensors file (atomically).
pub fn write_safetensors(
    path: &Path,
    tensors: &[(String, TensorData)],
) -> Result<(), CheckpointError> {
    write_file(path, safetensors_bytes(tensors))
}

/// The safetensors layout: u64 header length, JSON header (sorted keys, `{"format": "pt"}`
/// metadata), then the little-endian f32 data in header order.
fn safetensors_bytes(tensors: &[(String, TensorData)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, TensorData)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut offset = 0usize;
    let mut data = Vec::new();
    for (name, tensor) in sorted {
        let values: Vec<f32> = tensor.try_to_vec().expect("f32 tensor");
        let len = values.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({
                "dtype": "F32",
                "shape": tensor.shape().to_vec(),
                "data_offsets": [offset, offset + len],
            }),
        );
        offset += len;
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    }
    let mut header = serde_json::to_vec(&header).expect("serialisable");
    // Pad the header with spaces to keep the data 8-byte aligned, as the reference writer does.
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + data.len());
    out.extend((header.len() as u64).to_le_bytes());
    out.extend(header);
    out.extend(data);
    out
}
