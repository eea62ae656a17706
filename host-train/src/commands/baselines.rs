//! `host-train baselines`: scan, split, score the baselines, write the reports.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cry_core::audio::LoadOptions;

use crate::cv::NestedSplits;
use crate::data::{DataSource, Dataset};
use crate::eval::score_baselines;
use crate::progress;
use crate::report::{BaselinesReport, CvSummary, DataSummary, FoldsFile, write_json, write_text};

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

/// Loads the dataset with a progress bar on stderr.
pub fn load_dataset(source: &DataSource, load: &LoadOptions) -> anyhow::Result<Dataset> {
    let bar = progress::bar("decoding clips");
    let dataset = Dataset::load(source, load, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    log::info!(
        "{} usable clips in {} classes from {} ({} skipped, {} duplicates)",
        dataset.clips.len(),
        dataset.labels.len(),
        source.root.display(),
        dataset.skipped.len(),
        dataset.duplicates.len()
    );
    Ok(dataset)
}

/// Makes the nested split of `dataset`, logs its warnings, and records `skipped.json` and
/// `folds.json` in `out` (which must exist).
pub fn split_and_record(
    dataset: &Dataset,
    outer: usize,
    inner: usize,
    seed: u64,
    out: &Path,
) -> anyhow::Result<NestedSplits> {
    write_json(&out.join("skipped.json"), &dataset.skipped)?;
    let splits = NestedSplits::new(
        &dataset.label_indices(),
        &dataset.group_names(),
        dataset.labels.names(),
        outer,
        inner,
        seed,
    )?;
    for warning in &splits.warnings {
        log::warn!("{warning}");
    }
    write_json(&out.join("folds.json"), &FoldsFile::new(dataset, &splits))?;
    Ok(splits)
}

/// Runs the baselines job and returns the report it wrote.
pub fn run(config: &BaselinesConfig) -> anyhow::Result<BaselinesReport> {
    let dataset = load_dataset(&config.data, &config.load)?;
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("failed to create {}", config.out.display()))?;
    let splits = split_and_record(
        &dataset,
        config.outer,
        config.inner,
        config.seed,
        &config.out,
    )?;
    let results = score_baselines(
        &dataset.label_indices(),
        dataset.labels.len(),
        &splits.outer,
        config.seed,
        config.random_seeds,
    );
    let out = |name: &str| config.out.join(name);
    let report = BaselinesReport::new(
        config.command.clone(),
        DataSummary::new(&dataset, config.data.manifest.as_deref().map(path_text)),
        CvSummary::new(&splits, config.inner, config.seed),
        results,
    );
    write_json(&out("report.json"), &report)?;
    write_text(&out("report.md"), &report.to_markdown())?;
    log::info!("wrote {}", config.out.display());
    Ok(report)
}

fn path_text(p: &Path) -> String {
    p.display().to_string()
}
