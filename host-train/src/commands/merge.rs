//! `host-train merge`: one report from outer folds run as separate jobs (`--outer-fold k`).

use std::path::PathBuf;

use anyhow::Context;

use super::nested_cv::{RunSpec, build_report, write_report};
use crate::report::{NestedReport, write_json};

/// `merge` settings.
#[derive(Debug, Clone)]
pub struct MergeConfig {
    /// Output directories of the jobs.
    pub parts: Vec<PathBuf>,
    /// Where the combined report goes.
    pub out: PathBuf,
}

/// Checks that the parts are one run, then writes its report into `out`.
pub fn run(config: &MergeConfig) -> anyhow::Result<NestedReport> {
    let specs = config
        .parts
        .iter()
        .map(|dir| RunSpec::read(dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let first = &specs[0];
    for (dir, spec) in config.parts.iter().zip(&specs).skip(1) {
        let changed = first.differences(spec);
        anyhow::ensure!(
            changed.is_empty(),
            "{} is a different run from {} ({} differ)",
            dir.display(),
            config.parts[0].display(),
            changed.join(", ")
        );
    }
    let report = build_report(first, &config.parts)?;
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("failed to create {}", config.out.display()))?;
    write_json(
        &config.out.join("run.json"),
        &RunSpec {
            outer_fold: None,
            ..first.clone()
        },
    )?;
    write_report(&config.out, &report)?;
    Ok(report)
}
