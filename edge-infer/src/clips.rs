//! Whole clips classified the way `classify` prints them: what the command (files) and the HTTP
//! API (uploads) share once the model is loaded.

use std::path::Path;

use cry_core::alerts::AlertPolicy;
use cry_core::audio::Bandwidth;
use cry_core::{Clip, LoadOptions};

use crate::config::ModelConfig;
use crate::engine::{Engine, EngineError, Session};
use crate::error::UsageError;
use crate::output::classify::ClassifiedFile;
use crate::scoring::score_clip;

/// A loaded model's settings for whole clips: band, cry threshold, hop and alert policy.
#[derive(Debug, Clone)]
pub struct ClipClassifier {
    name: String,
    labels: Vec<String>,
    bandwidth: Option<Bandwidth>,
    cry_threshold: Option<f32>,
    hop: usize,
    window: usize,
    policy: Option<AlertPolicy>,
}

impl ClipClassifier {
    /// The settings of `model`'s flags over what `engine` stores.
    pub fn new(model: &ModelConfig, engine: &Engine) -> Result<Self, UsageError> {
        let metadata = engine.metadata();
        let cry_threshold = model.cry_threshold_for(metadata)?;
        if cry_threshold.is_none() {
            log::warn!(
                "{} has no cry head (a single-output model): reasons only, no cry_prob",
                model.path.display()
            );
        }
        Ok(Self {
            name: model
                .path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            labels: metadata.labels.clone(),
            bandwidth: model.bandwidth_for(metadata)?,
            cry_threshold,
            hop: model.hop_for(metadata),
            window: metadata.window_samples,
            policy: metadata
                .alert
                .zip(cry_threshold)
                .map(|(stored, threshold)| stored.with_threshold(threshold)),
        })
    }

    /// How clips are decoded for this model (its band included).
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            bandwidth: self.bandwidth,
            ..LoadOptions::default()
        }
    }

    /// The model file's name.
    pub fn model_name(&self) -> &str {
        &self.name
    }

    /// The class names, in the model's output order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The cry threshold in force (two-head models).
    pub fn cry_threshold(&self) -> Option<f32> {
        self.cry_threshold
    }

    /// Scores `clip` (named `name` in the output) with a session of the model.
    pub fn classify(
        &self,
        session: &mut Session<'_>,
        name: &Path,
        clip: &Clip,
    ) -> Result<ClassifiedFile<'_>, EngineError> {
        let score = score_clip(session, &clip.samples, self.hop)?;
        let mut line = ClassifiedFile::new(
            name,
            &self.labels,
            &score,
            clip.samples.len(),
            self.cry_threshold,
        );
        line.cry_alerts = self
            .policy
            .map(|p| score.cry_alerts(p, self.hop, self.window));
        Ok(line)
    }
}
