//! `host-train embed`: hidden states (and logits) of one audio file, as `.npy`.

use std::path::PathBuf;

use anyhow::Context;
use burn::prelude::*;
use cry_core::audio::{LoadOptions, load_clip};

use crate::error::Result;
use crate::model::checkpoint::Checkpoint;
use crate::npy;

/// `embed` settings, validated.
#[derive(Debug, Clone)]
pub struct EmbedConfig {
    /// Checkpoint directory.
    pub pretrained: PathBuf,
    /// The WAV to embed.
    pub audio: PathBuf,
    /// Where the last hidden state goes (`[frames, hidden]`).
    pub out: PathBuf,
    /// Where the logits go (`[classes]`), for a classifier.
    pub logits: Option<PathBuf>,
}

/// Runs the model on the whole file and writes the arrays.
pub fn run(config: &EmbedConfig, device: &Device) -> Result<()> {
    let checkpoint = Checkpoint::load(&config.pretrained, device)?;
    let options = LoadOptions {
        max_seconds: None,
        ..LoadOptions::default()
    };
    let clip = load_clip(&config.audio, &options)?;
    let frames = checkpoint.config.frames_for(clip.samples.len());
    if frames == 0 {
        return Err(anyhow::anyhow!(
            "{} is too short for the model: {} samples at 16 kHz",
            config.audio.display(),
            clip.samples.len()
        )
        .into());
    }
    let (hidden, logits) = checkpoint.forward(checkpoint.input(&clip.samples, device));
    let [_, frames, width] = hidden.dims();
    let hidden: Vec<f32> = hidden.into_data().try_to_vec().expect("f32");
    npy::write_f32(&config.out, &[frames, width], &hidden)?;
    if let Some(path) = &config.logits {
        let logits = logits.with_context(|| {
            format!(
                "{} has no classification head, so there are no logits",
                config.pretrained.display()
            )
        })?;
        let values: Vec<f32> = logits.into_data().try_to_vec().expect("f32");
        npy::write_f32(path, &[values.len()], &values)?;
    }
    Ok(())
}
