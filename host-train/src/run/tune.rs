//! What `nested-cv` and `train` share: the starting model and the fine-tuning session over a
//! dataset's cached features.

use std::path::PathBuf;

use burn::module::Module;
use burn::prelude::*;
use cry_core::audio::LoadOptions;
use cry_core::contract::SAMPLE_RATE_HZ;

use super::RunDir;
use crate::data::{Dataset, Targets};
use crate::error::Result;
use crate::fsx;
use crate::model::boundary::Boundary;
use crate::model::checkpoint::{Checkpoint, HubertModelKind, checkpoint_dir_hash};
use crate::model::presets::ConfigSource;
use crate::model::{HubertConfig, HubertForSequenceClassification, PreprocessorConfig};
use crate::progress;
use crate::report::{ModelInfo, write_json};
use crate::seed;
use crate::train::cache::FeatureCache;
use crate::train::features::{FeatureSource, WindowPlan};
use crate::train::fit::FitSettings;
use crate::train::grid::{Grid, GridError};
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
    /// Random weights for an architecture (written to [`RunDir::init_model`]).
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
    /// Units (and clips while caching) run side by side.
    pub jobs: usize,
}

/// The starting model, ready for a dataset's labels.
pub struct StartingModel {
    /// Where it came from and its hash.
    pub info: ModelInfo,
    /// Its configuration, labelled with the dataset's reasons (and a cry head when the data
    /// has `not_cry` clips).
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

/// The checkpoint directory to start from, writing the random-init one into `run` when
/// needed. Returns it with its description.
fn model_dir(tune: &FineTune, run: &RunDir, seed_value: u64) -> Result<(PathBuf, String)> {
    match &tune.model {
        ModelSource::Pretrained { dir, given } => Ok((dir.clone(), given.clone())),
        ModelSource::Random(source) => {
            let dir = run.init_model();
            let name = format!(
                "random-init {} (host-train init, seed {seed_value})",
                source.name()
            );
            if !Checkpoint::has_config(&dir) {
                let (hubert, preprocessor) = source.load()?;
                let checkpoint = Checkpoint::random(
                    hubert,
                    preprocessor,
                    None,
                    seed::derive(seed_value, &[seed::tag("init")]),
                    &Device::flex(),
                )?;
                fsx::write_dir(&dir, |tmp| checkpoint.save(tmp))?;
            }
            Ok((dir, name))
        }
    }
}

/// Loads (or creates) the starting model for `targets` (its reasons, and a cry head when they
/// include detection) on the autodiff `device` and checks the grid against it.
pub fn starting_model(
    tune: &FineTune,
    run: &RunDir,
    seed_value: u64,
    targets: &Targets,
    device: &Device,
) -> Result<StartingModel> {
    let (dir, source) = model_dir(tune, run, seed_value)?;
    let hash = checkpoint_dir_hash(&dir)?;
    let checkpoint = Checkpoint::load(&dir, device)?;
    let random_init = checkpoint.is_random_init();
    if random_init {
        log::warn!("{source}: not pretrained; every report will say so in its first line");
    }
    let mut config = checkpoint.config;
    config.set_labels(targets.reasons());
    config.set_cry_head(targets.detection());
    let base = match checkpoint.model {
        HubertModelKind::Classifier(mut m) => {
            // The heads are re-initialised per fit anyway; size them for these targets.
            let fresh = HubertForSequenceClassification::new(&config, device);
            m.classifier = fresh.classifier;
            m.cry_classifier = fresh.cry_classifier;
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
fn grid_boundaries(grid: &Grid, config: &HubertConfig) -> Result<Vec<Boundary>, GridError> {
    let mut out = Vec::new();
    for depth in &grid.depth {
        let boundary = depth.boundary(config.num_hidden_layers)?;
        if config.use_weighted_layer_sum && boundary != Boundary::Conv {
            return Err(GridError::WeightedLayerSum { depth: *depth });
        }
        if !out.contains(&boundary) {
            out.push(boundary);
        }
    }
    out.sort();
    Ok(out)
}

/// Computes (or reads from the cache) the frozen features of every clip and returns the
/// session. The caching time is recorded in [`RunDir::features`] the first time.
pub fn session(
    start: &StartingModel,
    dataset: &Dataset,
    tune: &FineTune,
    load: &LoadOptions,
    seed_value: u64,
    run: &RunDir,
    device: Device,
) -> Result<Session> {
    let targets = Targets::new(&dataset.labels)?;
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
        tune.jobs,
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
    let file = run.features();
    if !file.is_file() {
        fsx::create_dir_all(file.parent().expect("units dir"))?;
        write_json(&file, &stats)?;
    }
    Ok(Session {
        config: start.config.clone(),
        base: start.base.clone(),
        features,
        labels: dataset.label_indices(),
        targets: targets.of_clips(&dataset.label_indices()),
        n_reasons: targets.reasons().len(),
        groups: dataset.clips.iter().map(|c| c.group.clone()).collect(),
        eligible: dataset.eligible(),
        n_classes: dataset.labels.len(),
        grid: tune.grid.clone(),
        settings: tune.fit.clone(),
        seed: seed_value,
        device,
        jobs: tune.jobs,
    })
}
