//! `host-train merge`: one report from outer folds run as separate jobs (one outer fold each).

use std::path::PathBuf;

use crate::error::Result;
use crate::fsx;
use crate::report::{NestedReport, write_json};
use crate::run::report::{build_report, write_report};
use crate::run::spec::RunSpec;
use crate::run::{RunDir, RunError};

/// `merge` settings.
#[derive(Debug, Clone)]
pub struct MergeConfig {
    /// Output directories of the jobs.
    pub parts: Vec<PathBuf>,
    /// Where the combined report goes.
    pub out: PathBuf,
}

/// Checks that the parts are one run, then writes its report into `out`.
pub fn run(config: &MergeConfig) -> Result<NestedReport> {
    let parts: Vec<RunDir> = config.parts.iter().map(RunDir::new).collect();
    let specs = parts
        .iter()
        .map(RunSpec::read)
        .collect::<Result<Vec<_>, RunError>>()?;
    let first = &specs[0];
    for (part, spec) in parts.iter().zip(&specs).skip(1) {
        let changed = first.differences(spec);
        if !changed.is_empty() {
            return Err(RunError::NotOneRun {
                dir: part.root().to_path_buf(),
                first: parts[0].root().to_path_buf(),
                fields: changed,
            }
            .into());
        }
    }
    let report = build_report(first, &parts)?;
    let out = RunDir::new(&config.out);
    fsx::create_dir_all(out.root())?;
    write_json(
        &out.spec(),
        &RunSpec {
            outer_fold: None,
            ..first.clone()
        },
    )?;
    write_report(&out, &report)?;
    Ok(report)
}
