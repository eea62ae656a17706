//! `edge-infer bench`: what this machine does with one model.

use std::io::Write;

use crate::bench;
use crate::config::BenchCommandConfig;
use crate::error::Error;

/// Measures and prints the report (text, or one JSON object).
pub fn run(config: &BenchCommandConfig) -> Result<(), Error> {
    let engine = config.model.load()?;
    let hop = config.model.hop_for(engine.metadata());
    let report = bench::run(&engine, &config.bench, hop)?;
    let mut stdout = std::io::stdout().lock();
    if config.json {
        writeln!(stdout, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(stdout, "{}", report.to_text())?;
    }
    Ok(())
}
