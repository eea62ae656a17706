//! Loading a dataset and making (and recording) its nested split.

use cry_core::audio::LoadOptions;

use super::RunDir;
use crate::cv::NestedSplits;
use crate::data::{DataSource, Dataset, DatasetError};
use crate::error::Result;
use crate::progress;
use crate::report::{FoldsFile, write_json};

/// Loads the dataset with a progress bar on stderr.
pub fn load_dataset(source: &DataSource, load: &LoadOptions) -> Result<Dataset, DatasetError> {
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
        source.describe(),
        dataset.skipped.len(),
        dataset.duplicates.len()
    );
    Ok(dataset)
}

/// Makes the nested split of `dataset`, logs its warnings, and records the skipped files and
/// the folds in `run` (which must exist).
pub fn split_and_record(
    dataset: &Dataset,
    outer: usize,
    inner: usize,
    seed: u64,
    run: &RunDir,
) -> Result<NestedSplits> {
    write_json(&run.skipped(), &dataset.skipped)?;
    let splits = NestedSplits::new(
        &dataset.label_indices(),
        &dataset.group_names(),
        &dataset.eligible(),
        dataset.labels.names(),
        outer,
        inner,
        seed,
    )?;
    for warning in &splits.warnings {
        log::warn!("{warning}");
    }
    write_json(&run.folds(), &FoldsFile::new(dataset, &splits))?;
    Ok(splits)
}
