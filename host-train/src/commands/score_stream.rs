//! `host-train score-stream`: the alerts `edge-infer stream` raised over a recording from
//! `held-out-recording`, counted against its truth.

use std::path::PathBuf;

use anyhow::anyhow;

use crate::error::{Error, Result};
use crate::eval::stream_check::{StreamCheck, TRUTH_SCHEMA, Truth, check, parse_events};
use crate::report::write_json;

/// `score-stream` settings.
#[derive(Debug, Clone)]
pub struct ScoreStreamConfig {
    /// `truth.json` of the recording.
    pub truth: PathBuf,
    /// The JSON lines `edge-infer stream` printed over it.
    pub events: PathBuf,
    /// The model's window, seconds.
    pub window_seconds: f64,
    /// Also write the figures as JSON here.
    pub json: Option<PathBuf>,
}

/// Reads the truth and the events and counts one against the other.
pub fn run(config: &ScoreStreamConfig) -> Result<StreamCheck> {
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path)
            .map_err(|e| Error::from(anyhow!("cannot read {}: {e}", path.display())))
    };
    let truth: Truth = serde_json::from_str(&read(&config.truth)?).map_err(|e| {
        Error::from(anyhow!(
            "{} is not a held-out-recording truth file: {e}",
            config.truth.display()
        ))
    })?;
    if truth.schema != TRUTH_SCHEMA {
        return Err(anyhow!(
            "{} has layout {:?}; this build reads {TRUTH_SCHEMA:?}",
            config.truth.display(),
            truth.schema
        )
        .into());
    }
    let events = parse_events(&read(&config.events)?)
        .map_err(|e| Error::from(anyhow!("{}: {e}", config.events.display())))?;
    let figures = check(&truth, &events, config.window_seconds);
    if let Some(path) = &config.json {
        write_json(path, &figures)?;
    }
    Ok(figures)
}
