//! A fine-tuning session: the base model, the frozen features of every clip, and the units of
//! work (one fit scored on one held-out part) that nested CV and `train` are made of.
//!
//! Every unit is written to its own JSON file when it finishes and read back instead of being
//! recomputed, so a killed run continues from the last finished unit and, every unit being
//! seeded by its position, ends with the same results as an uninterrupted one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::features::BoundaryFeatures;
use super::fit::{EpochLog, FitData, FitOutcome, FitSettings, fit, score_clips};
use super::grid::{Grid, HyperParams};
use crate::cv::InnerFold;
use crate::eval::{MeanStd, Metrics};
use crate::model::boundary::Boundary;
use crate::model::{HubertConfig, HubertForSequenceClassification};
use crate::report::write_json;
use crate::seed;
use cry_core::scoring::argmax;

/// One fit scored on one held-out part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// The configuration trained.
    pub hyperparams: HyperParams,
    /// Clips fitted on and held out for early stopping.
    pub n_fit: usize,
    /// Clips of the validation part (early stopping).
    pub n_validation: usize,
    /// Best epoch (1-based).
    pub best_epoch: usize,
    /// Every epoch run.
    pub history: Vec<EpochLog>,
    /// Scored clips (dataset indices).
    pub scored: Vec<usize>,
    /// Window-averaged logits of each scored clip.
    pub logits: Vec<Vec<f32>>,
    /// Argmax of each row of `logits`.
    pub predictions: Vec<usize>,
    /// Macro-F1 on the scored clips.
    pub macro_f1: f64,
    /// Seconds spent training.
    pub train_seconds: f64,
    /// Seconds spent scoring.
    pub score_seconds: f64,
}

/// The inner-CV choice of one configuration among the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Mean ± std of the inner macro-F1 per grid point, in grid order.
    pub scores: Vec<(HyperParams, MeanStd)>,
    /// Index into `scores` of the chosen point: best mean, ties to the earlier point.
    pub chosen: usize,
    /// Seconds spent training and scoring, summed over the inner units.
    pub train_seconds: f64,
    /// Seconds spent scoring.
    pub score_seconds: f64,
}

/// What every unit of a run shares.
pub struct Session {
    /// The model's configuration, labelled with the dataset's classes.
    pub config: HubertConfig,
    /// The starting model on the autodiff device (its head is re-initialised per fit).
    pub base: HubertForSequenceClassification,
    /// Frozen features per boundary the grid needs.
    pub features: Vec<BoundaryFeatures>,
    /// Class of every clip.
    pub labels: Vec<usize>,
    /// Leakage group of every clip.
    pub groups: Vec<String>,
    /// Whether each clip may be validated on (augmented copies only train).
    pub eligible: Vec<bool>,
    /// Number of classes.
    pub n_classes: usize,
    /// The grid.
    pub grid: Grid,
    /// Settings shared by every fit.
    pub settings: FitSettings,
    /// Run seed.
    pub seed: u64,
    /// Autodiff device.
    pub device: Device,
}

impl Session {
    fn features(&self, boundary: Boundary) -> &BoundaryFeatures {
        self.features
            .iter()
            .find(|f| f.boundary == boundary)
            .expect("features computed for every boundary of the grid")
    }

    fn boundary(&self, hp: &HyperParams) -> Boundary {
        hp.depth
            .boundary(self.config.num_hidden_layers)
            .expect("grid validated against the model")
    }

    /// Fits `hp` on `train` and returns the model with the time it took.
    pub fn fit(
        &self,
        train: &[usize],
        hp: &HyperParams,
        seed_path: &[u64],
        epochs: &ProgressBar,
    ) -> (FitOutcome, f64) {
        let started = Instant::now();
        let groups: Vec<&str> = self.groups.iter().map(String::as_str).collect();
        let data = FitData {
            features: self.features(self.boundary(hp)),
            labels: &self.labels,
            groups: &groups,
            eligible: &self.eligible,
            n_classes: self.n_classes,
        };
        epochs.set_length(self.settings.epochs as u64);
        epochs.set_position(0);
        let outcome = fit(
            &self.base,
            &self.config,
            &data,
            train,
            hp,
            &self.settings,
            seed::derive(self.seed, seed_path),
            &self.device,
            |epoch, _| epochs.set_position(epoch as u64),
        );
        (outcome, started.elapsed().as_secs_f64())
    }

    /// Window-averaged logits of `clips` from a fitted model, with the time it took.
    pub fn score(
        &self,
        model: &HubertForSequenceClassification,
        hp: &HyperParams,
        clips: &[usize],
    ) -> (Vec<Vec<f32>>, f64) {
        let started = Instant::now();
        let plain = self.device.clone().inner();
        let logits = score_clips(model, self.features(self.boundary(hp)), clips, &plain);
        (logits, started.elapsed().as_secs_f64())
    }

    /// Fits on `train`, scores `test`; read from `file` when a previous run finished it.
    pub fn unit(
        &self,
        file: &Path,
        train: &[usize],
        test: &[usize],
        hp: &HyperParams,
        seed_path: &[u64],
        epochs: &ProgressBar,
    ) -> anyhow::Result<(UnitResult, Option<FitOutcome>)> {
        if let Some(done) = read_unit(file, hp, test)? {
            return Ok((done, None));
        }
        let (outcome, train_seconds) = self.fit(train, hp, seed_path, epochs);
        let (logits, score_seconds) = self.score(&outcome.model, hp, test);
        let predictions: Vec<usize> = logits.iter().map(|l| argmax(l)).collect();
        let truth: Vec<usize> = test.iter().map(|&i| self.labels[i]).collect();
        let result = UnitResult {
            hyperparams: *hp,
            n_fit: outcome.n_fit,
            n_validation: outcome.n_validation,
            best_epoch: outcome.best_epoch,
            history: outcome.history.clone(),
            scored: test.to_vec(),
            logits,
            macro_f1: Metrics::compute(&truth, &predictions, self.n_classes)
                .macro_avg
                .f1,
            predictions,
            train_seconds,
            score_seconds,
        };
        if let Some(parent) = file.parent() {
            crate::fsx::create_dir_all(parent)?;
        }
        write_json(file, &result)?;
        Ok((result, Some(outcome)))
    }

    /// Runs every grid point on every inner fold and chooses the point with the best mean
    /// macro-F1. Unit `(i, c)` (inner fold `i`, grid point `c`) is kept in `unit_file(i, c)`.
    pub fn select(
        &self,
        unit_file: impl Fn(usize, usize) -> PathBuf,
        folds: &[InnerFold],
        seed_path: &[u64],
        units: &ProgressBar,
        epochs: &ProgressBar,
    ) -> anyhow::Result<Selection> {
        let points = self.grid.points();
        let mut scores = Vec::with_capacity(points.len());
        let (mut train_seconds, mut score_seconds) = (0.0, 0.0);
        for (c, hp) in points.iter().enumerate() {
            let mut f1 = Vec::with_capacity(folds.len());
            for (i, fold) in folds.iter().enumerate() {
                units.set_message(format!("inner {i} {hp}"));
                let mut path = seed_path.to_vec();
                path.extend([seed::tag("inner-unit"), i as u64, c as u64]);
                let (result, _) =
                    self.unit(&unit_file(i, c), &fold.train, &fold.test, hp, &path, epochs)?;
                f1.push(result.macro_f1);
                train_seconds += result.train_seconds;
                score_seconds += result.score_seconds;
                units.inc(1);
            }
            scores.push((*hp, MeanStd::of(&f1)));
        }
        let chosen = scores.iter().enumerate().fold(0, |best, (c, (_, s))| {
            if s.mean > scores[best].1.mean {
                c
            } else {
                best
            }
        });
        Ok(Selection {
            scores,
            chosen,
            train_seconds,
            score_seconds,
        })
    }
}

/// A finished unit, if `file` holds one for the same configuration and clips.
fn read_unit(file: &Path, hp: &HyperParams, test: &[usize]) -> anyhow::Result<Option<UnitResult>> {
    if !file.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(file)?;
    match serde_json::from_str::<UnitResult>(&text) {
        Ok(unit) if unit.hyperparams == *hp && unit.scored == test => Ok(Some(unit)),
        Ok(_) => anyhow::bail!(
            "{} belongs to a different configuration or split; use a new output directory",
            file.display()
        ),
        Err(e) => {
            log::warn!("recomputing {} (unreadable: {e})", file.display());
            Ok(None)
        }
    }
}
