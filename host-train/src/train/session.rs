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
use super::fit::{ClipScores, EpochLog, FitData, FitOutcome, FitSettings, fit, score_clips};
use super::grid::{Grid, HyperParams};
use super::jobs::run_jobs;
use crate::cv::InnerFold;
use crate::data::Target;
use crate::eval::detection::DetectionClip;
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
    /// Window-averaged reason logits of each scored clip.
    pub logits: Vec<Vec<f32>>,
    /// With a cry head: the cry logit of every scoring window of each scored clip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cry_logits: Option<Vec<Vec<f32>>>,
    /// With a cry head: where (in samples) each of those windows starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cry_window_starts: Option<Vec<Vec<usize>>>,
    /// Argmax of each row of `logits`.
    pub predictions: Vec<usize>,
    /// Macro-F1 of the reasons, on the scored clips that have one.
    pub macro_f1: f64,
    /// With a cry head: macro-F1 of cry vs not cry (clip probability at 0.5) on every scored
    /// clip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cry_f1: Option<f64>,
    /// Seconds spent training.
    pub train_seconds: f64,
    /// Seconds spent scoring.
    pub score_seconds: f64,
}

impl UnitResult {
    /// What model selection ranks: the reasons' macro-F1, averaged with the cry head's
    /// macro-F1 when there is one.
    pub fn selection_score(&self) -> f64 {
        match self.cry_f1 {
            Some(cry) => (self.macro_f1 + cry) / 2.0,
            None => self.macro_f1,
        }
    }

    /// With a cry head: each scored clip as the edge's stream would have seen it, given its
    /// truth and length (seconds) by dataset index.
    pub fn detection_clips(
        &self,
        is_cry: impl Fn(usize) -> bool,
        seconds: impl Fn(usize) -> f64,
    ) -> Option<Vec<DetectionClip>> {
        let (logits, starts) = (self.cry_logits.as_ref()?, self.cry_window_starts.as_ref()?);
        Some(
            self.scored
                .iter()
                .zip(logits.iter().zip(starts))
                .map(|(&clip, (logits, starts))| {
                    DetectionClip::from_scoring_windows(is_cry(clip), seconds(clip), starts, logits)
                })
                .collect(),
        )
    }
}

/// The inner-CV choice of one configuration among the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Mean ± std of the inner selection score ([`UnitResult::selection_score`]: the macro-F1,
    /// or with a cry head its mean with the cry head's) per grid point, in grid order.
    pub scores: Vec<(HyperParams, MeanStd)>,
    /// Index into `scores` of the chosen point: best mean, ties to the earlier point.
    pub chosen: usize,
    /// Seconds spent training and scoring, summed over the inner units.
    pub train_seconds: f64,
    /// Seconds spent scoring.
    pub score_seconds: f64,
    /// The chosen point's inner units in fold order, as [`Session::select`] ran or read them
    /// (not stored with the selection).
    #[serde(skip)]
    pub chosen_units: Vec<UnitResult>,
}

/// What every unit of a run shares.
pub struct Session {
    /// The model's configuration, labelled with the dataset's classes.
    pub config: HubertConfig,
    /// The starting model on the autodiff device (its head is re-initialised per fit).
    pub base: HubertForSequenceClassification,
    /// Frozen features per boundary the grid needs.
    pub features: Vec<BoundaryFeatures>,
    /// Dataset class of every clip.
    pub labels: Vec<usize>,
    /// What every clip teaches.
    pub targets: Vec<Target>,
    /// Leakage group of every clip.
    pub groups: Vec<String>,
    /// Whether each clip may be validated on (augmented copies only train).
    pub eligible: Vec<bool>,
    /// Number of dataset classes.
    pub n_classes: usize,
    /// Number of reasons (the reason head's outputs).
    pub n_reasons: usize,
    /// The grid.
    pub grid: Grid,
    /// Settings shared by every fit.
    pub settings: FitSettings,
    /// Run seed.
    pub seed: u64,
    /// Autodiff device.
    pub device: Device,
    /// Units run side by side ([`run_jobs`]): the results do not depend on it.
    pub jobs: usize,
}

impl Session {
    fn features(&self, boundary: Boundary) -> &BoundaryFeatures {
        self.features
            .iter()
            .find(|f| f.boundary == boundary)
            .expect("features computed for every boundary of the grid")
    }

    /// Where (in samples) each scoring window of `clip` starts, in scoring order.
    pub fn score_starts(&self, clip: usize) -> Vec<usize> {
        let windows = &self.features[0].clips[clip].windows;
        windows
            .score
            .iter()
            .map(|&w| windows.windows[w].start)
            .collect()
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
            targets: &self.targets,
            groups: &groups,
            eligible: &self.eligible,
            n_classes: self.n_classes,
            n_reasons: self.n_reasons,
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

    /// What a fitted model says about `clips`, with the time it took.
    pub fn score(
        &self,
        model: &HubertForSequenceClassification,
        hp: &HyperParams,
        clips: &[usize],
    ) -> (ClipScores, f64) {
        let started = Instant::now();
        let plain = self.device.clone().inner();
        let scores = score_clips(model, self.features(self.boundary(hp)), clips, &plain);
        (scores, started.elapsed().as_secs_f64())
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
        let (scores, score_seconds) = self.score(&outcome.model, hp, test);
        let predictions: Vec<usize> = scores.logits.iter().map(|l| argmax(l)).collect();
        let (truth, predicted): (Vec<usize>, Vec<usize>) = test
            .iter()
            .zip(&predictions)
            .filter_map(|(&i, &p)| self.targets[i].reason().map(|r| (r, p)))
            .unzip();
        let cry_f1 = scores.cry_probs().map(|probs| {
            let truth: Vec<usize> = test
                .iter()
                .map(|&i| usize::from(self.targets[i].is_cry()))
                .collect();
            let predicted: Vec<usize> = probs.iter().map(|&p| usize::from(p >= 0.5)).collect();
            Metrics::compute(&truth, &predicted, 2).macro_avg.f1
        });
        let result = UnitResult {
            hyperparams: *hp,
            n_fit: outcome.n_fit,
            n_validation: outcome.n_validation,
            best_epoch: outcome.best_epoch,
            history: outcome.history.clone(),
            scored: test.to_vec(),
            logits: scores.logits,
            cry_window_starts: scores
                .cry
                .as_ref()
                .map(|_| test.iter().map(|&c| self.score_starts(c)).collect()),
            cry_logits: scores.cry,
            macro_f1: Metrics::compute(&truth, &predicted, self.n_reasons)
                .macro_avg
                .f1,
            cry_f1,
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
        unit_file: impl Fn(usize, usize) -> PathBuf + Sync,
        folds: &[InnerFold],
        seed_path: &[u64],
        units: &ProgressBar,
        epochs: &ProgressBar,
    ) -> anyhow::Result<Selection> {
        let points = self.grid.points();
        // Every (grid point, inner fold) pair, in the order one job would run them.
        let pairs: Vec<(usize, usize)> = (0..points.len())
            .flat_map(|c| (0..folds.len()).map(move |i| (c, i)))
            .collect();
        let run = |&(c, i): &(usize, usize)| -> anyhow::Result<UnitResult> {
            let hp = &points[c];
            units.set_message(format!("inner {i} {hp}"));
            let mut path = seed_path.to_vec();
            path.extend([seed::tag("inner-unit"), i as u64, c as u64]);
            let fold = &folds[i];
            let (result, _) =
                self.unit(&unit_file(i, c), &fold.train, &fold.test, hp, &path, epochs)?;
            units.inc(1);
            Ok(result)
        };
        let mut results = run_jobs(self.jobs, &pairs, run)?.into_iter();
        let mut scores = Vec::with_capacity(points.len());
        let mut units_by_point = Vec::with_capacity(points.len());
        let (mut train_seconds, mut score_seconds) = (0.0, 0.0);
        for hp in &points {
            let mut f1 = Vec::with_capacity(folds.len());
            let mut point_units = Vec::with_capacity(folds.len());
            for _ in folds {
                let result = results.next().expect("one result per pair");
                f1.push(result.selection_score());
                train_seconds += result.train_seconds;
                score_seconds += result.score_seconds;
                point_units.push(result);
            }
            scores.push((*hp, MeanStd::of(&f1)));
            units_by_point.push(point_units);
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
            chosen_units: units_by_point.swap_remove(chosen),
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
