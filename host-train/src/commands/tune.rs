//! What `nested-cv` and `train` share: the starting model and the fine-tuning session over a
//! dataset's cached features.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::module::Module;
use burn::prelude::*;
use cry_core::audio::LoadOptions;
use cry_core::contract::SAMPLE_RATE_HZ;

use super::init::ConfigSource;
use crate::cli::UsageError;
use crate::data::Dataset;
use crate::model::boundary::Boundary;
use crate::model::checkpoint::{Checkpoint, HubertModelKind, weights_file};
use crate::model::{HubertConfig, HubertForSequenceClassification, PreprocessorConfig};
use crate::progress;
use crate::report::{ModelInfo, write_json};
use crate::seed;
use crate::train::cache::{FeatureCache, checkpoint_hash};
use crate::train::features::{FeatureSource, WindowPlan};
use crate::train::fit::FitSettings;
use crate::train::grid::Grid;
use crate::train::session::Session;

/// Where the starting model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A checkpoint directory (resolved from a path or hub id).
    Pretrained {
        /// The directory.
        dir: PathBuf,
        /// As given on the command line.
        given: String,
    },
    /// Random weights for an architecture (written to `init-model/` in the work directory).
    Random(ConfigSource),
}

/// How models are fine-tuned, validated.
#[derive(Debug, Clone)]
pub struct FineTune {
    /// Starting model.
    pub model: ModelSource,
    /// Grid.
    pub grid: Grid,
    /// Settings shared by every fit.
    pub fit: FitSettings,
    /// Crop length and crop-grid step, seconds.
    pub crop_seconds: (f64, f64),
    /// Feature cache directory.
    pub cache: PathBuf,
}

/// The starting model, ready for a dataset's labels.
pub struct StartingModel {
    /// Where it came from and its hash.
    pub info: ModelInfo,
    /// Its configuration, labelled with the dataset's classes.
    pub config: HubertConfig,
    /// Its preprocessor.
    pub preprocessor: PreprocessorConfig,
    /// As a classifier on the autodiff device (the head is re-initialised per fit).
    pub base: HubertForSequenceClassification,
    /// SpecAugment's vector, kept for saving.
    pub masked_spec_embed: Option<TensorData>,
    /// Every boundary the grid needs.
    pub boundaries: Vec<Boundary>,
}

/// `WORK/units/features.json`: how long caching took in the directory's first run.
pub fn features_file(work: &Path) -> PathBuf {
    work.join("units").join("features.json")
}

/// The checkpoint directory to start from, writing the random-init one into `work` when
/// needed. Returns it with its description.
fn model_dir(tune: &FineTune, work: &Path, seed_value: u64) -> anyhow::Result<(PathBuf, String)> {
    match &tune.model {
        ModelSource::Pretrained { dir, given } => Ok((dir.clone(), given.clone())),
        ModelSource::Random(source) => {
            let dir = work.join("init-model");
            let name = format!(
                "random-init {} (host-train init, seed {seed_value})",
                source.name()
            );
            if !dir.join("config.json").is_file() {
                let (hubert, preprocessor) = source.load()?;
                let checkpoint = Checkpoint::random(
                    hubert,
                    preprocessor,
                    None,
                    seed::derive(seed_value, &[seed::tag("init")]),
                    &Device::flex(),
                )?;
                let tmp = work.join("init-model.partial");
                let _ = std::fs::remove_dir_all(&tmp);
                checkpoint.save(&tmp)?;
                std::fs::rename(&tmp, &dir)
                    .with_context(|| format!("failed to write {}", dir.display()))?;
            }
            Ok((dir, name))
        }
    }
}

/// Loads (or creates) the starting model for `labels` on the autodiff `device` and checks the
/// grid against it.
pub fn starting_model(
    tune: &FineTune,
    work: &Path,
    seed_value: u64,
    labels: &[String],
    device: &Device,
) -> anyhow::Result<StartingModel> {
    let (dir, source) = model_dir(tune, work, seed_value)?;
    let hash = checkpoint_hash(&dir.join("config.json"), &weights_file(&dir)?)
        .with_context(|| format!("failed to hash {}", dir.display()))?;
    let checkpoint = Checkpoint::load(&dir, device)?;
    let random_init = checkpoint.is_random_init();
    if random_init {
        log::warn!("{source}: not pretrained; every report will say so in its first line");
    }
    let mut config = checkpoint.config;
    config.set_labels(labels);
    let base = match checkpoint.model {
        HubertModelKind::Classifier(mut m) => {
            // The head is re-initialised per fit anyway; size it for these labels.
            m.classifier = HubertForSequenceClassification::new(&config, device).classifier;
            m
        }
        HubertModelKind::Base(hubert) => {
            let mut m = HubertForSequenceClassification::new(&config, device);
            m.hubert = hubert;
            m
        }
    };
    let boundaries = grid_boundaries(&tune.grid, &config)?;
    Ok(StartingModel {
        info: ModelInfo {
            source,
            checkpoint_hash: hash,
            random_init,
            layers: config.num_hidden_layers,
            hidden_size: config.hidden_size,
        },
        config,
        preprocessor: checkpoint.preprocessor,
        base,
        masked_spec_embed: checkpoint.masked_spec_embed,
        boundaries,
    })
}

/// Every boundary the grid needs, checked against the model.
fn grid_boundaries(grid: &Grid, config: &HubertConfig) -> anyhow::Result<Vec<Boundary>> {
    let mut out = Vec::new();
    for depth in &grid.depth {
        let boundary = depth
            .boundary(config.num_hidden_layers)
            .map_err(|reason| UsageError {
                arg: "--grid",
                reason,
            })?;
        if config.use_weighted_layer_sum && boundary != Boundary::Conv {
            return Err(UsageError {
                arg: "--grid",
                reason: format!(
                    "depth {depth} with use_weighted_layer_sum: the layer weights read every \
                     hidden state; use depth \"all\""
                ),
            }
            .into());
        }
        if !out.contains(&boundary) {
            out.push(boundary);
        }
    }
    out.sort();
    Ok(out)
}

/// Computes (or reads from the cache) the frozen features of every clip and returns the
/// session. The caching time is recorded in [`features_file`] the first time.
pub fn session(
    start: &StartingModel,
    dataset: &Dataset,
    tune: &FineTune,
    load: &LoadOptions,
    seed_value: u64,
    work: &Path,
    device: Device,
) -> anyhow::Result<Session> {
    let plain = device.clone().inner();
    let frozen = start.base.valid();
    let samples = |seconds: f64| (seconds * f64::from(SAMPLE_RATE_HZ)).round() as usize;
    let source = FeatureSource {
        model: &frozen,
        config: &start.config,
        normalize: start.preprocessor.do_normalize,
        checkpoint_hash: &start.info.checkpoint_hash,
        load,
        plan: WindowPlan {
            crop: samples(tune.crop_seconds.0),
            crop_stride: samples(tune.crop_seconds.1),
        },
    };
    let bar = progress::bar("caching");
    bar.set_length(dataset.clips.len() as u64);
    let names: Vec<String> = start.boundaries.iter().map(|b| b.name()).collect();
    log::info!(
        "frozen features for {} clips at {} (cache {})",
        dataset.clips.len(),
        names.join(", "),
        tune.cache.display()
    );
    let (features, stats) = source.compute(
        &dataset.clips,
        &start.boundaries,
        &FeatureCache::new(&tune.cache),
        &plain,
        |done| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    log::info!(
        "features: {} computed, {} from the cache, {:.1} s",
        stats.computed,
        stats.hits,
        stats.seconds
    );
    // The first run's figure is the one that measured the work; a resume mostly reads.
    let file = features_file(work);
    if !file.is_file() {
        std::fs::create_dir_all(file.parent().expect("units dir"))?;
        write_json(&file, &stats)?;
    }
    Ok(Session {
        config: start.config.clone(),
        base: start.base.clone(),
        features,
        labels: dataset.label_indices(),
        groups: dataset.clips.iter().map(|c| c.group.clone()).collect(),
        n_classes: dataset.labels.len(),
        grid: tune.grid.clone(),
        settings: tune.fit.clone(),
        seed: seed_value,
        device,
    })
}
