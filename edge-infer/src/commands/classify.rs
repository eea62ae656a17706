//! `edge-infer classify`: whole files scored with the host's evaluation windows.

use std::io::Write;

use cry_core::load_clip;

use crate::clips::ClipClassifier;
use crate::config::ClassifyConfig;
use crate::error::Error;
use crate::output::classify::failed_file;

/// Prints one JSON object per file; a file that does not decode gets an error object, the
/// others are still classified, and the command fails with [`Error::FilesFailed`].
pub fn run(config: &ClassifyConfig) -> Result<(), Error> {
    let engine = config.model.load()?;
    let clips = ClipClassifier::new(&config.model, &engine)?;
    let options = clips.load_options();
    let mut session = engine.session()?;
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0;
    for path in &config.files {
        let clip = match load_clip(path, &options) {
            Ok(clip) => clip,
            Err(err) => {
                log::error!("skipped {err}");
                failed += 1;
                writeln!(stdout, "{}", failed_file(path, &err.kind))?;
                continue;
            }
        };
        let line = clips.classify(&mut session, path, &clip)?;
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
