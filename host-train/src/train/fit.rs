//! One fine-tuning run: fresh head, AdamW with warm-up/decay and clipping, class-weighted loss
//! on random crops, early stopping on a validation part carved from the training part by group.

use burn::module::{Module, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use cry_core::scoring::argmax;
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::features::BoundaryFeatures;
use super::grid::HyperParams;
use super::loss::{inverse_frequency_weights, weighted_cross_entropy};
use super::schedule::linear_warmup_decay;
use crate::cv::held_out_kfold;
use crate::eval::Metrics;
use crate::model::boundary::{forward_from, train_above};
use crate::model::init;
use crate::model::{HubertConfig, HubertForSequenceClassification};
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
    /// Class of every clip.
    pub labels: &'a [usize],
    /// Leakage group of every clip.
    pub groups: &'a [&'a str],
    /// Whether each clip may be validated on (augmented copies only train).
    pub eligible: &'a [bool],
    /// Number of classes.
    pub n_classes: usize,
}

/// One epoch, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Macro-F1 on the validation part.
    pub validation_macro_f1: Option<f64>,
    /// Unweighted cross-entropy of the clip scores on the validation part.
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
    device.seed(seed_value);
    let mut model = base.clone();
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
    let layers = config.num_hidden_layers + 1;
    model.layer_weights = model
        .layer_weights
        .map(|_| Param::from_tensor(Tensor::full([layers], 1.0 / layers as f64, device)));
    model
}

/// Mean logits over each clip's scoring windows.
///
/// # Shapes
/// One `[classes]` vector per clip in `clips`.
pub fn score_clips(
    model: &HubertForSequenceClassification,
    features: &BoundaryFeatures,
    clips: &[usize],
    device: &Device,
) -> Vec<Vec<f32>> {
    clips
        .iter()
        .map(|&clip| {
            let items: Vec<(usize, usize)> = features.clips[clip]
                .windows
                .score
                .iter()
                .map(|&w| (clip, w))
                .collect();
            let logits = forward_from(model, features.boundary, features.batch(&items, device));
            logits
                .mean_dim(0)
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 logits")
        })
        .collect()
}

/// Mean cross-entropy of clip logits against their labels.
fn clip_loss(logits: &[Vec<f32>], labels: &[usize]) -> f64 {
    let total: f64 = logits
        .iter()
        .zip(labels)
        .map(|(l, &y)| {
            let max = l.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let log_sum = l.iter().map(|v| f64::from(v - max).exp()).sum::<f64>().ln();
            log_sum - f64::from(l[y] - max)
        })
        .sum();
    total / logits.len().max(1) as f64
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
    let fit_labels: Vec<usize> = fit_part.iter().map(|&i| data.labels[i]).collect();
    let weights = if hp.class_weighting {
        inverse_frequency_weights(&fit_labels, data.n_classes)
    } else {
        vec![1.0; data.n_classes]
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
    let validation_labels: Vec<usize> = validation.iter().map(|&i| data.labels[i]).collect();

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
            let targets: Vec<usize> = chunk.iter().map(|&i| data.labels[i]).collect();
            let logits = forward_from(&model, boundary, data.features.batch(&items, device));
            let loss = weighted_cross_entropy(logits, &targets, &weights);
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
            validation_loss: None,
        };
        if !validation.is_empty() {
            let logits = score_clips(&model.valid(), data.features, &validation, &plain);
            let predicted: Vec<usize> = logits.iter().map(|l| argmax(l)).collect();
            let f1 = Metrics::compute(&validation_labels, &predicted, data.n_classes)
                .macro_avg
                .f1;
            let loss = clip_loss(&logits, &validation_labels);
            log.validation_macro_f1 = Some(f1);
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
