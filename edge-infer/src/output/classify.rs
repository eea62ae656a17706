//! `classify`'s output: one JSON object per file.

use std::collections::BTreeMap;
use std::path::Path;

use cry_core::contract::SAMPLE_RATE_HZ;
use serde::Serialize;

use crate::scoring::ClipScore;

/// The line for a classified file:
/// `{"file","label","confidence","probabilities":{label: p},"windows","seconds"}`, and for a
/// two-head model `"cry_prob"` (the mean of the windows'), `"cry"` (at the cry threshold) and
/// `"cry_alerts"`.
/// Also the answer of `POST /api/v1/classify` (its OpenAPI schema is derived from this type).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClassifiedFile<'a> {
    /// The path as given.
    pub file: String,
    /// The most probable class.
    pub label: &'a str,
    /// Its probability.
    pub confidence: f32,
    /// Every class's probability.
    pub probabilities: BTreeMap<&'a str, f32>,
    /// Windows averaged.
    pub windows: usize,
    /// Length of the clip at the model rate, in seconds.
    pub seconds: f64,
    /// Two-head models: the mean cry probability of the windows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cry_prob: Option<f32>,
    /// Two-head models: whether `cry_prob` reaches the cry threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cry: Option<bool>,
    /// Two-head models: the cry alerts a stream of this file alone would raise under the
    /// model's alert policy (at the cry threshold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cry_alerts: Option<usize>,
}

impl<'a> ClassifiedFile<'a> {
    /// The line for `path`, scored `score` over `samples` model-rate samples; `labels` in the
    /// model's output order; `cry_threshold` for a two-head model.
    pub fn new(
        path: &Path,
        labels: &'a [String],
        score: &ClipScore,
        samples: usize,
        cry_threshold: Option<f32>,
    ) -> Self {
        Self {
            file: path.display().to_string(),
            label: &labels[score.label],
            confidence: score.probabilities[score.label],
            probabilities: labels
                .iter()
                .map(String::as_str)
                .zip(score.probabilities.iter().copied())
                .collect(),
            windows: score.windows,
            seconds: samples as f64 / f64::from(SAMPLE_RATE_HZ),
            cry_prob: score.cry_prob,
            cry: score
                .cry_prob
                .zip(cry_threshold)
                .map(|(p, threshold)| p >= threshold),
            cry_alerts: None,
        }
    }
}

/// The line for a file that could not be classified: `{"error","file"}`.
pub fn failed_file(path: &Path, error: &dyn std::fmt::Display) -> serde_json::Value {
    serde_json::json!({"file": path.display().to_string(), "error": error.to_string()})
}
