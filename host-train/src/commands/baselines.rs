//! `host-train baselines`: scan, split, score the baselines, write the reports.

use std::path::PathBuf;

use cry_core::audio::LoadOptions;

use crate::data::DataSource;
use crate::error::Result;
use crate::eval::score_baselines;
use crate::fsx;
use crate::report::{BaselinesReport, CvSummary, DataSummary, write_json, write_text};
use crate::run::RunDir;
use crate::run::dataset::{load_dataset, split_and_record};

/// Everything `baselines` needs, validated.
#[derive(Debug, Clone)]
pub struct BaselinesConfig {
    /// Where the clips are.
    pub data: DataSource,
    /// How clips are decoded.
    pub load: LoadOptions,
    /// Outer folds.
    pub outer: usize,
    /// Inner folds.
    pub inner: usize,
    /// Run seed.
    pub seed: u64,
    /// Seeds per fold for the random baselines.
    pub random_seeds: usize,
    /// Output directory.
    pub out: PathBuf,
    /// The command line, recorded in the report.
    pub command: String,
}

/// Runs the baselines job and returns the report it wrote.
pub fn run(config: &BaselinesConfig) -> Result<BaselinesReport> {
    let dataset = load_dataset(&config.data, &config.load)?;
    let run = RunDir::new(&config.out);
    fsx::create_dir_all(run.root())?;
    let splits = split_and_record(&dataset, config.outer, config.inner, config.seed, &run)?;
    let results = score_baselines(
        &dataset.label_indices(),
        dataset.labels.len(),
        &splits.outer,
        config.seed,
        config.random_seeds,
    );
    let report = BaselinesReport::new(
        config.command.clone(),
        DataSummary::new(&dataset, &config.data, &config.load),
        CvSummary::new(&splits, config.inner, config.seed),
        results,
    );
    write_json(&run.report_json(), &report)?;
    write_text(&run.report_md(), &report.to_markdown())?;
    log::info!("wrote {}", config.out.display());
    Ok(report)
}
