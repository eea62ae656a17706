//! One fine-tuning run: fresh heads, AdamW with warm-up/decay and clipping, class-weighted loss
//! on random crops, early stopping on a validation part carved from the training part by group.
//!
//! With a cry head, each clip teaches what its [`Target`] says: a reason trains both heads, a
//! cry of unknown reason and a clip without a cry train the cry head only. The loss is the
//! reason head's class-weighted cross-entropy over the clips that have a reason plus the cry
//! head's class-weighted binary cross-entropy over every clip.

use burn::module::{Module, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use cry_core::scoring::{argmax, mean_sigmoid};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::features::BoundaryFeatures;
use super::grid::HyperParams;
use super::loss::{
    binary_weights, inverse_frequency_weights, masked_cross_entropy, weighted_binary_cross_entropy,
};
use super::schedule::linear_warmup_decay;
use crate::cv::held_out_kfold;
use crate::data::Target;
use crate::eval::Metrics;
use crate::model::boundary::{forward_from, train_above};
use crate::model::{HubertConfig, HubertForSequenceClassification};
use crate::model::{dropout, init};
use crate::seed;

/// Settings shared by every fit of a run (the grid varies [`HyperParams`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitSettings {
    /// Maximum passes over the training part.
    pub epochs: usize,
    /// Windows per optimiser step.
    pub batch_size: usize,
    /// Share of the optimiser steps spent warming up.
    pub warmup_ratio: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// Each parameter's gradient is rescaled to at most this L2 norm (burn's per-tensor
    /// `GradientClipping::Norm`).
    pub clip_norm: f32,
    /// Epochs without a better validation macro-F1 before stopping.
    pub patience: usize,
    /// Share of the training groups held out for early stopping (0 turns it off).
    pub validation_share: f64,
}

impl Default for FitSettings {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 8,
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            clip_norm: 1.0,
            patience: 3,
            validation_share: 0.2,
        }
    }
}

/// The labelled clips a fit draws from.
#[derive(Debug, Clone, Copy)]
pub struct FitData<'a> {
    /// Frozen features of every clip at the fit's boundary.
    pub features: &'a BoundaryFeatures,
    /// Dataset class of every clip (what folds are stratified by).
    pub labels: &'a [usize],
    /// What every clip teaches.
    pub targets: &'a [Target],
    /// Leakage group of every clip.
    pub groups: &'a [&'a str],
    /// Whether each clip may be validated on (augmented copies only train).
    pub eligible: &'a [bool],
    /// Number of dataset classes.
    pub n_classes: usize,
    /// Number of reasons (the reason head's outputs).
    pub n_reasons: usize,
}

/// One epoch, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Macro-F1 of the reasons on the validation part.
    pub validation_macro_f1: Option<f64>,
    /// Macro-F1 of the cry head (cry probability at 0.5) on the validation part, with a cry
    /// head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_cry_f1: Option<f64>,
    /// Unweighted cross-entropy of the clip scores on the validation part (plus the cry head's
    /// binary cross-entropy, with one).
    pub validation_loss: Option<f64>,
}

/// What a fit produced.
#[derive(Debug)]
pub struct FitOutcome {
    /// The model of the best epoch, in inference mode.
    pub model: HubertForSequenceClassification,
    /// The epoch it comes from (1-based).
    pub best_epoch: usize,
    /// Every epoch run.
    pub history: Vec<EpochLog>,
    /// Clips trained on and held out for early stopping.
    pub n_fit: usize,
    /// Clips held out (0 when the part had too few groups to carve one).
    pub n_validation: usize,
}

/// Splits `train` into a part to fit and a validation part of about `share` of its groups,
/// stratified by class. Only eligible clips are validated on; a train-only clip whose group is
/// validated on is in neither part. Too few groups (or `share` 0) leaves no validation part.
pub fn carve_validation(
    train: &[usize],
    data: &FitData<'_>,
    share: f64,
    seed_value: u64,
) -> (Vec<usize>, Vec<usize>) {
    if share <= 0.0 {
        return (train.to_vec(), Vec::new());
    }
    let k = ((1.0 / share).round() as usize).max(2);
    let labels: Vec<usize> = train.iter().map(|&i| data.labels[i]).collect();
    let groups: Vec<&str> = train.iter().map(|&i| data.groups[i]).collect();
    let eligible: Vec<bool> = train.iter().map(|&i| data.eligible[i]).collect();
    match held_out_kfold(&labels, &groups, &eligible, data.n_classes, k, seed_value) {
        Ok(split) => {
            let pick =
                |part: Vec<usize>| -> Vec<usize> { part.into_iter().map(|j| train[j]).collect() };
            (pick(split.train(0)), pick(split.test(0)))
        }
        Err(e) => {
            log::warn!("no validation part for early stopping ({e}); training every epoch");
            (train.to_vec(), Vec::new())
        }
    }
}

/// `base` with a newly initialised head (seeded): every fit starts from the same backbone and
/// never from a head that may have seen the test part.
pub fn fresh_head(
    base: &HubertForSequenceClassification,
    config: &HubertConfig,
    seed_value: u64,
    device: &Device,
) -> HubertForSequenceClassification {
    let mut model = base.clone();
    init::seeded(device, seed_value, || {
        model.projector = init::linear(
            config.hidden_size,
            config.classifier_proj_size,
            config,
            device,
        );
        model.classifier = init::linear(
            config.classifier_proj_size,
            config.num_labels(),
            config,
            device,
        );
        model.cry_classifier = config
            .has_cry_head()
            .then(|| init::linear(config.classifier_proj_size, 1, config, device));
        // burn draws a parameter when it is first read: read them here, holding the generator.
        let _ = model.projector.weight.val();
        let _ = model.classifier.weight.val();
        if let Some(head) = &model.cry_classifier {
            let _ = head.weight.val();
        }
    });
    let layers = config.num_hidden_layers + 1;
    model.layer_weights = model
        .layer_weights
        .map(|_| Param::from_tensor(Tensor::full([layers], 1.0 / layers as f64, device)));
    model
}

/// What a model says about held-out clips.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClipScores {
    /// Reason logits averaged over each clip's scoring windows, `[classes]` per clip.
    pub logits: Vec<Vec<f32>>,
    /// With a cry head: the cry logit of each scoring window of each clip, in window order.
    pub cry: Option<Vec<Vec<f32>>>,
}

impl ClipScores {
    /// Each clip's cry probability: the mean of its windows' (0 without a cry head).
    pub fn cry_probs(&self) -> Option<Vec<f32>> {
        self.cry
            .as_ref()
            .map(|clips| clips.iter().map(|w| mean_sigmoid(w)).collect())
    }
}

/// Mean reason logits over each clip's scoring windows and, with a cry head, every window's
/// cry logit.
///
/// # Shapes
/// One `[classes]` vector per clip in `clips`.
pub fn score_clips(
    model: &HubertForSequenceClassification,
    features: &BoundaryFeatures,
    clips: &[usize],
    device: &Device,
) -> ClipScores {
    let mut scores = ClipScores {
        logits: Vec::with_capacity(clips.len()),
        cry: model
            .cry_classifier
            .as_ref()
            .map(|_| Vec::with_capacity(clips.len())),
    };
    for &clip in clips {
        let items: Vec<(usize, usize)> = features.clips[clip]
            .windows
            .score
            .iter()
            .map(|&w| (clip, w))
            .collect();
        let heads = forward_from(model, features.boundary, features.batch(&items, device));
        scores.logits.push(
            heads
                .logits
                .mean_dim(0)
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 logits"),
        );
        if let (Some(cry), Some(out)) = (heads.cry_logit, scores.cry.as_mut()) {
            out.push(cry.into_data().try_into_vec::<f32>().expect("f32 logits"));
        }
    }
    scores
}

/// Mean cross-entropy of clip logits against their reasons (clips without one skipped).
fn clip_loss(logits: &[Vec<f32>], reasons: &[Option<usize>]) -> f64 {
    let mut n = 0;
    let total: f64 = logits
        .iter()
        .zip(reasons)
        .filter_map(|(l, y)| y.map(|y| (l, y)))
        .map(|(l, y)| {
            n += 1;
            let max = l.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let log_sum = l.iter().map(|v| f64::from(v - max).exp()).sum::<f64>().ln();
            log_sum - f64::from(l[y] - max)
        })
        .sum();
    total / f64::from(n.max(1))
}

/// Mean binary cross-entropy of clip cry probabilities against the truth.
fn cry_loss(probs: &[f32], is_cry: &[bool]) -> f64 {
    let eps = 1e-7;
    let total: f64 = probs
        .iter()
        .zip(is_cry)
        .map(|(&p, &y)| {
            let p = f64::from(p).clamp(eps, 1.0 - eps);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / probs.len().max(1) as f64
}

/// What early stopping ranks epochs by: the reasons' macro-F1, averaged with the cry head's
/// macro-F1 when there is one (both in [0, 1], so neither head is ignored); ties go to the
/// lower validation loss.
#[derive(Debug, Clone, Copy)]
struct Validation {
    reason_f1: f64,
    cry_f1: Option<f64>,
    loss: f64,
}

impl Validation {
    fn of(scores: &ClipScores, targets: &[Target], n_reasons: usize) -> Self {
        let reasons: Vec<Option<usize>> = targets.iter().map(|t| t.reason()).collect();
        let (truth, predicted): (Vec<usize>, Vec<usize>) = reasons
            .iter()
            .zip(&scores.logits)
            .filter_map(|(r, l)| r.map(|r| (r, argmax(l))))
            .unzip();
        let reason_f1 = Metrics::compute(&truth, &predicted, n_reasons).macro_avg.f1;
        let mut loss = clip_loss(&scores.logits, &reasons);
        let cry_f1 = scores.cry_probs().map(|probs| {
            let is_cry: Vec<bool> = targets.iter().map(|t| t.is_cry()).collect();
            loss += cry_loss(&probs, &is_cry);
            let truth: Vec<usize> = is_cry.iter().map(|&y| usize::from(y)).collect();
            let predicted: Vec<usize> = probs.iter().map(|&p| usize::from(p >= 0.5)).collect();
            Metrics::compute(&truth, &predicted, 2).macro_avg.f1
        });
        Self {
            reason_f1,
            cry_f1,
            loss,
        }
    }

    fn score(&self) -> f64 {
        match self.cry_f1 {
            Some(cry) => (self.reason_f1 + cry) / 2.0,
            None => self.reason_f1,
        }
    }
}

/// Fine-tunes `base` (on an autodiff `device`) on the clips `train` with `hp`.
/// `on_epoch(epoch, epochs)` reports progress. Deterministic for a given `seed_value`.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    base: &HubertForSequenceClassification,
    config: &HubertConfig,
    data: &FitData<'_>,
    train: &[usize],
    hp: &HyperParams,
    settings: &FitSettings,
    seed_value: u64,
    device: &Device,
    mut on_epoch: impl FnMut(usize, usize),
) -> FitOutcome {
    let boundary = data.features.boundary;
    let (fit_part, validation) = carve_validation(
        train,
        data,
        settings.validation_share,
        seed::derive(seed_value, &[seed::tag("validation")]),
    );
    let fit_reasons: Vec<usize> = fit_part
        .iter()
        .filter_map(|&i| data.targets[i].reason())
        .collect();
    let fit_cry: Vec<bool> = fit_part.iter().map(|&i| data.targets[i].is_cry()).collect();
    let (weights, cry_weights) = if hp.class_weighting {
        (
            inverse_frequency_weights(&fit_reasons, data.n_reasons),
            binary_weights(&fit_cry),
        )
    } else {
        (vec![1.0; data.n_reasons], [1.0; 2])
    };

    let model = fresh_head(
        base,
        config,
        seed::derive(seed_value, &[seed::tag("head")]),
        device,
    );
    let mut model = train_above(model, boundary);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(settings.weight_decay as f32)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(settings.clip_norm)))
        .init();
    let batch = settings.batch_size.max(1);
    let steps_per_epoch = fit_part.len().div_ceil(batch);
    let total = steps_per_epoch * settings.epochs;
    let warmup = (settings.warmup_ratio * total as f64).ceil() as usize;
    let plain = device.clone().inner();
    let validation_targets: Vec<Target> = validation.iter().map(|&i| data.targets[i]).collect();

    let mut history = Vec::new();
    let mut best: Option<(f64, f64, usize, HubertForSequenceClassification)> = None;
    let mut since_best = 0;
    let mut step = 0;
    for epoch in 1..=settings.epochs {
        let mut rng = seed::rng(seed_value, &[seed::tag("epoch"), epoch as u64]);
        let mut order = fit_part.clone();
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for chunk in order.chunks(batch) {
            let items: Vec<(usize, usize)> = chunk
                .iter()
                .map(|&clip| {
                    let crops = &data.features.clips[clip].windows.crops;
                    (clip, crops[rng.random_range(0..crops.len())])
                })
                .collect();
            let reasons: Vec<Option<usize>> =
                chunk.iter().map(|&i| data.targets[i].reason()).collect();
            // The step's dropout masks: a stream of this fit's own (see `model::dropout`).
            dropout::reseed(seed::derive(
                seed_value,
                &[seed::tag("dropout"), step as u64],
            ));
            let heads = forward_from(&model, boundary, data.features.batch(&items, device));
            let mut loss = masked_cross_entropy(heads.logits, &reasons, &weights);
            if let Some(cry_logit) = heads.cry_logit {
                let is_cry: Vec<bool> = chunk.iter().map(|&i| data.targets[i].is_cry()).collect();
                loss = loss + weighted_binary_cross_entropy(cry_logit, &is_cry, cry_weights);
            }
            loss_sum += f64::from(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr = linear_warmup_decay(step, total, warmup, hp.learning_rate);
            model = optim.step(lr, model, grads);
            step += 1;
        }
        let mut log = EpochLog {
            epoch,
            train_loss: loss_sum / steps_per_epoch.max(1) as f64,
            validation_macro_f1: None,
            validation_cry_f1: None,
            validation_loss: None,
        };
        if !validation.is_empty() {
            let scores = score_clips(&model.valid(), data.features, &validation, &plain);
            let v = Validation::of(&scores, &validation_targets, data.n_reasons);
            let (f1, loss) = (v.score(), v.loss);
            log.validation_macro_f1 = Some(v.reason_f1);
            log.validation_cry_f1 = v.cry_f1;
            log.validation_loss = Some(loss);
            let better = best
                .as_ref()
                .is_none_or(|(bf, bl, ..)| f1 > *bf || (f1 == *bf && loss < *bl));
            if better {
                best = Some((f1, loss, epoch, model.clone()));
                since_best = 0;
            } else {
                since_best += 1;
            }
        }
        history.push(log);
        on_epoch(epoch, settings.epochs);
        if !validation.is_empty() && since_best >= settings.patience {
            break;
        }
    }
    let (best_epoch, model) = match best {
        Some((_, _, epoch, model)) => (epoch, model),
        None => (history.len(), model),
    };
    FitOutcome {
        model: model.valid(),
        best_epoch,
        history,
        n_fit: fit_part.len(),
        n_validation: validation.len(),
    }
}
