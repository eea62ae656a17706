//! `host-train init`: a random-init checkpoint in the Hugging Face format.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::prelude::Device;

use crate::model::checkpoint::{CONFIG_FILE, Checkpoint, read_configs};
use crate::model::config::{HubertConfig, PreprocessorConfig};
use crate::model::presets;

/// Where the architecture comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The built-in DistilHuBERT architecture.
    DistilHubert,
    /// The built-in tiny architecture (tests and demos).
    Tiny,
    /// A `config.json` (and a `preprocessor_config.json` beside it, if any).
    File(PathBuf),
}

impl ConfigSource {
    /// How the source reads in a report: `distilhubert`, `tiny` or the file's path.
    pub fn name(&self) -> String {
        match self {
            Self::DistilHubert => "DistilHuBERT".into(),
            Self::Tiny => "tiny HuBERT".into(),
            Self::File(path) => path.display().to_string(),
        }
    }

    /// `distilhubert`, or the path of an existing file.
    pub fn parse(spec: &str) -> Option<Self> {
        match spec {
            "distilhubert" => Some(Self::DistilHubert),
            "tiny" => Some(Self::Tiny),
            path if Path::new(path).is_file() => Some(Self::File(PathBuf::from(path))),
            _ => None,
        }
    }

    /// The model and preprocessor configs.
    pub fn load(&self) -> anyhow::Result<(HubertConfig, PreprocessorConfig)> {
        match self {
            ConfigSource::DistilHubert => Ok(presets::distilhubert()),
            ConfigSource::Tiny => Ok(presets::tiny()),
            ConfigSource::File(path) => {
                anyhow::ensure!(
                    path.file_name().is_some_and(|n| n == CONFIG_FILE),
                    "--config must name a {CONFIG_FILE} (or be `distilhubert` or `tiny`), got {}",
                    path.display()
                );
                Ok(read_configs(path.parent().unwrap_or(path.as_path()))?)
            }
        }
    }
}

/// `init` settings, validated.
#[derive(Debug, Clone)]
pub struct InitConfig {
    /// Architecture.
    pub source: ConfigSource,
    /// Classifier labels; `None` for a bare backbone.
    pub labels: Option<Vec<String>>,
    /// Seed of the random weights.
    pub seed: u64,
    /// Output directory.
    pub out: PathBuf,
}

/// Writes the checkpoint and returns it.
pub fn run(config: &InitConfig, device: &Device) -> anyhow::Result<Checkpoint> {
    let (hubert, preprocessor) = config.source.load()?;
    let checkpoint = Checkpoint::random(
        hubert,
        preprocessor,
        config.labels.as_deref(),
        config.seed,
        device,
    )?;
    checkpoint
        .save(&config.out)
        .with_context(|| format!("failed to write the checkpoint to {}", config.out.display()))?;
    log::info!(
        "wrote a random-init {} to {} (not pretrained)",
        if config.labels.is_some() {
            "HubertForSequenceClassification"
        } else {
            "HubertModel"
        },
        config.out.display()
    );
    Ok(checkpoint)
}
