//! `edge-infer classify`: whole files scored with the host's evaluation windows.

use std::io::Write;

use cry_core::{LoadOptions, load_clip};

use crate::config::ClassifyConfig;
use crate::error::Error;
use crate::output::classify::{ClassifiedFile, failed_file};
use crate::scoring::score_clip;

/// Prints one JSON object per file; a file that does not decode gets an error object, the
/// others are still classified, and the command fails with [`Error::FilesFailed`].
pub fn run(config: &ClassifyConfig) -> Result<(), Error> {
    let engine = config.model.load()?;
    let labels = &engine.metadata().labels;
    let bandwidth = config.model.bandwidth_for(engine.metadata())?;
    let cry_threshold = config.model.cry_threshold_for(engine.metadata())?;
    let hop = config.model.hop_for(engine.metadata());
    let window = engine.metadata().window_samples;
    let policy = engine
        .metadata()
        .alert
        .zip(cry_threshold)
        .map(|(stored, threshold)| stored.with_threshold(threshold));
    if cry_threshold.is_none() {
        log::warn!(
            "{} has no cry head (a single-output model): reasons only, no cry_prob",
            config.model.path.display()
        );
    }
    let mut session = engine.session()?;
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0;
    for path in &config.files {
        let clip = match load_clip(
            path,
            &LoadOptions {
                bandwidth,
                ..LoadOptions::default()
            },
        ) {
            Ok(clip) => clip,
            Err(err) => {
                log::error!("skipped {err}");
                failed += 1;
                writeln!(stdout, "{}", failed_file(path, &err.kind))?;
                continue;
            }
        };
        let score = score_clip(&mut session, &clip.samples, hop)?;
        let mut line = ClassifiedFile::new(path, labels, &score, clip.samples.len(), cry_threshold);
        line.cry_alerts = policy.map(|p| score.cry_alerts(p, hop, window));
        writeln!(stdout, "{}", serde_json::to_string(&line)?)?;
    }
    if failed > 0 {
        return Err(Error::FilesFailed {
            failed,
            total: config.files.len(),
        });
    }
    Ok(())
}
