//! `host-train init`: a random-init checkpoint in the Hugging Face format.

use std::path::PathBuf;

use burn::prelude::Device;

use crate::error::{Error, Result};
use crate::model::checkpoint::Checkpoint;
use crate::model::presets::ConfigSource;

/// `init` settings, validated.
#[derive(Debug, Clone)]
pub struct InitConfig {
    /// Architecture.
    pub source: ConfigSource,
    /// Classifier labels; `None` for a bare backbone.
    pub labels: Option<Vec<String>>,
    /// A cry head next to the classifier.
    pub cry_head: bool,
    /// Seed of the random weights.
    pub seed: u64,
    /// Output directory.
    pub out: PathBuf,
}

/// Writes the checkpoint and returns it.
pub fn run(config: &InitConfig, device: &Device) -> Result<Checkpoint> {
    let (mut hubert, preprocessor) = config.source.load()?;
    hubert.set_cry_head(config.cry_head);
    let checkpoint = Checkpoint::random(
        hubert,
        preprocessor,
        config.labels.as_deref(),
        config.seed,
        device,
    )?;
    checkpoint.save(&config.out).map_err(|e| {
        Error::from(e).context(format!(
            "failed to write the checkpoint to {}",
            config.out.display()
        ))
    })?;
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
