//! The HuBERT classifier as an ONNX graph, node for node what the burn model computes.
//!
//! `audio [1, N]` → (normalisation) → conv stack → feature projection → positional conv →
//! encoder layers → projector → mean over frames → classifier → `logits [1, C]` (and, with a cry
//! head, cry classifier → `cry_logit [1, 1]` from the same pooled projection). GroupNorm with
//! one group per channel is `InstanceNormalization`; GELU is `0.5·x·(1 + erf(x/√2))`; the
//! weight-normalised positional conv is exported with its effective weight and explicit
//! asymmetric padding.

use burn::nn::conv::Conv1d;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;

use super::graph::{Attr, GraphBuilder};
use crate::model::HubertConfig;
use crate::model::classifier::HubertForSequenceClassification;
use crate::model::encoder::EncoderLayer;
use crate::model::feature_extractor::ConvNorm;
use crate::model::preprocess::NORMALIZE_EPS;

/// Epsilon of the conv-stack norms (PyTorch's default).
const CONV_NORM_EPS: f32 = 1e-5;

/// How weight-bearing ops are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32 `MatMul` and `Conv`.
    Fp32,
    /// Dynamic int8: weights int8 per output channel, activations u8 per tensor.
    Int8,
}

fn values<const D: usize>(t: Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    let data = t.into_data();
    let shape = data.shape().to_vec();
    (shape, data.try_into_vec::<f32>().expect("f32 weights"))
}

/// Emits the graph of one model.
pub struct HubertEmitter<'a> {
    /// The graph being built.
    pub g: GraphBuilder,
    config: &'a HubertConfig,
    precision: Precision,
}

impl<'a> HubertEmitter<'a> {
    /// An emitter for `config` at `precision`.
    pub fn new(config: &'a HubertConfig, precision: Precision) -> Self {
        Self {
            g: GraphBuilder::default(),
            config,
            precision,
        }
    }

    fn gelu(&mut self, x: &str) -> String {
        let inv_sqrt2 = self.g.scalar("inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2);
        let half = self.g.scalar("half", 0.5);
        let one = self.g.scalar("one", 1.0);
        let scaled = self.g.node("Mul", &[x, &inv_sqrt2], vec![]);
        let erf = self.g.node("Erf", &[&scaled], vec![]);
        let plus = self.g.node("Add", &[&erf, &one], vec![]);
        let hx = self.g.node("Mul", &[x, &half], vec![]);
        self.g.node("Mul", &[&hx, &plus], vec![])
    }

    /// `x @ W + b` over the last axis.
    fn linear(&mut self, x: &str, layer: &Linear, hint: &str) -> String {
        let (shape, w) = values(layer.weight.val()); // [in, out]
        let y = match self.precision {
            Precision::Fp32 => {
                let w = self.g.f32(&format!("{hint}_w"), &shape, w);
                self.g.node("MatMul", &[x, &w], vec![])
            }
            Precision::Int8 => super::quant::matmul_int8(&mut self.g, x, &shape, &w, hint),
        };
        match &layer.bias {
            Some(b) => {
                let (bs, bv) = values(b.val());
                let b = self.g.f32(&format!("{hint}_b"), &bs, bv);
                self.g.node("Add", &[&y, &b], vec![])
            }
            None => y,
        }
    }

    /// LayerNormalization over the last axis.
    fn layer_norm(&mut self, x: &str, norm: &LayerNorm, eps: f32, hint: &str) -> String {
        let (gs, gv) = values(norm.gamma.val());
        let gamma = self.g.f32(&format!("{hint}_gamma"), &gs, gv);
        let beta = match &norm.beta {
            Some(b) => {
                let (bs, bv) = values(b.val());
                self.g.f32(&format!("{hint}_beta"), &bs, bv)
            }
            None => self.g.f32(&format!("{hint}_beta"), &gs, vec![0.0; gs[0]]),
        };
        self.g.node(
            "LayerNormalization",
            &[x, &gamma, &beta],
            vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))],
        )
    }

    fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.g
            .node("Transpose", &[x], vec![("perm", Attr::Ints(perm.to_vec()))])
    }

    /// A conv of the feature encoder (`[1, C_in, T]` → `[1, C_out, T']`).
    fn conv(&mut self, x: &str, conv: &Conv1d, hint: &str) -> String {
        let (shape, w) = values(conv.weight.val());
        let bias = conv.bias.as_ref().map(|b| values(b.val()));
        let attrs = vec![
            ("kernel_shape", Attr::Ints(vec![conv.kernel_size as i64])),
            ("strides", Attr::Ints(vec![conv.stride as i64])),
        ];
        let y = match self.precision {
            Precision::Fp32 => {
                let w = self.g.f32(&format!("{hint}_w"), &shape, w);
                self.g.node("Conv", &[x, &w], attrs)
            }
            Precision::Int8 => super::quant::conv_int8(&mut self.g, x, &shape, &w, attrs, hint),
        };
        match bias {
            Some((bs, bv)) => {
                let b = self.g.f32(&format!("{hint}_b"), &[1, bs[0], 1], bv);
                self.g.node("Add", &[&y, &b], vec![])
            }
            None => y,
        }
    }

    fn encoder_layer(&mut self, x: &str, layer: &EncoderLayer, frames: usize, i: usize) -> String {
        let eps = self.config.layer_norm_eps as f32;
        let hint = format!("layer{i}");
        if layer.pre_norm {
            let normed = self.layer_norm(x, &layer.layer_norm, eps, &format!("{hint}_ln"));
            let att = self.attention(&normed, layer, frames, &hint);
            let x = self.g.node("Add", &[x, &att], vec![]);
            let normed = self.layer_norm(&x, &layer.final_layer_norm, eps, &format!("{hint}_fln"));
            let ff = self.feed_forward(&normed, layer, &hint);
            self.g.node("Add", &[&x, &ff], vec![])
        } else {
            let att = self.attention(x, layer, frames, &hint);
            let sum = self.g.node("Add", &[x, &att], vec![]);
            let x = self.layer_norm(&sum, &layer.layer_norm, eps, &format!("{hint}_ln"));
            let ff = self.feed_forward(&x, layer, &hint);
            let sum = self.g.node("Add", &[&x, &ff], vec![]);
            self.layer_norm(&sum, &layer.final_layer_norm, eps, &format!("{hint}_fln"))
        }
    }

    fn feed_forward(&mut self, x: &str, layer: &EncoderLayer, hint: &str) -> String {
        let h = self.linear(
            x,
            &layer.feed_forward.intermediate_dense,
            &format!("{hint}_ff1"),
        );
        let h = self.gelu(&h);
        self.linear(&h, &layer.feed_forward.output_dense, &format!("{hint}_ff2"))
    }

    fn attention(&mut self, x: &str, layer: &EncoderLayer, frames: usize, hint: &str) -> String {
        let a = &layer.attention;
        let hidden = self.config.hidden_size;
        let d = hidden / a.heads;
        let split_shape = self
            .g
            .i64("split_shape", &[1, frames as i64, a.heads as i64, d as i64]);
        let q = self.linear(x, &a.q_proj, &format!("{hint}_q"));
        let scale = self.g.scalar("scale", (d as f32).powf(-0.5));
        let q = self.g.node("Mul", &[&q, &scale], vec![]);
        let k = self.linear(x, &a.k_proj, &format!("{hint}_k"));
        let v = self.linear(x, &a.v_proj, &format!("{hint}_v"));
        let q = self.g.node("Reshape", &[&q, &split_shape], vec![]);
        let k = self.g.node("Reshape", &[&k, &split_shape], vec![]);
        let v = self.g.node("Reshape", &[&v, &split_shape], vec![]);
        let q = self.transpose(&q, &[0, 2, 1, 3]); // [1, heads, t, d]
        let k = self.transpose(&k, &[0, 2, 3, 1]); // [1, heads, d, t]
        let v = self.transpose(&v, &[0, 2, 1, 3]);
        let scores = self.g.node("MatMul", &[&q, &k], vec![]);
        let probs = self
            .g
            .node("Softmax", &[&scores], vec![("axis", Attr::Int(-1))]);
        let context = self.g.node("MatMul", &[&probs, &v], vec![]);
        let context = self.transpose(&context, &[0, 2, 1, 3]);
        let merged = self
            .g
            .i64("merge_shape", &[1, frames as i64, hidden as i64]);
        let context = self.g.node("Reshape", &[&context, &merged], vec![]);
        self.linear(&context, &a.out_proj, &format!("{hint}_o"))
    }

    /// Emits the whole classifier for a `[1, window]` input and returns the names of the
    /// reason logits `[1, classes]` and, with a cry head, the cry logit `[1, 1]`.
    pub fn classifier(
        &mut self,
        model: &HubertForSequenceClassification,
        input: &str,
        window: usize,
        normalize: bool,
    ) -> (String, Option<String>) {
        let mut x = input.to_string();
        if normalize {
            let mean = self.g.node(
                "ReduceMean",
                &[&x],
                vec![("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(1))],
            );
            let centred = self.g.node("Sub", &[&x, &mean], vec![]);
            let sq = self.g.node("Mul", &[&centred, &centred], vec![]);
            let var = self.g.node(
                "ReduceMean",
                &[&sq],
                vec![("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(1))],
            );
            let eps = self.g.scalar("norm_eps", NORMALIZE_EPS as f32);
            let var = self.g.node("Add", &[&var, &eps], vec![]);
            let std = self.g.node("Sqrt", &[&var], vec![]);
            x = self.g.node("Div", &[&centred, &std], vec![]);
        }
        let axis = self.g.i64("axis1", &[1]);
        x = self.g.node("Unsqueeze", &[&x, &axis], vec![]); // [1, 1, N]
        for (i, layer) in model
            .hubert
            .feature_extractor
            .conv_layers
            .iter()
            .enumerate()
        {
            x = self.conv(&x, &layer.conv, &format!("conv{i}"));
            x = match &layer.layer_norm {
                None => x,
                Some(ConvNorm::Group(norm)) => {
                    let channels = norm.num_groups;
                    let gamma = norm
                        .gamma
                        .as_ref()
                        .map_or(vec![1.0; channels], |g| values(g.val()).1);
                    let beta = norm
                        .beta
                        .as_ref()
                        .map_or(vec![0.0; channels], |b| values(b.val()).1);
                    let gamma = self.g.f32(&format!("conv{i}_gn_gamma"), &[channels], gamma);
                    let beta = self.g.f32(&format!("conv{i}_gn_beta"), &[channels], beta);
                    self.g.node(
                        "InstanceNormalization",
                        &[&x, &gamma, &beta],
                        vec![("epsilon", Attr::Float(CONV_NORM_EPS))],
                    )
                }
                Some(ConvNorm::Layer(norm)) => {
                    let t = self.transpose(&x, &[0, 2, 1]);
                    let n = self.layer_norm(&t, norm, CONV_NORM_EPS, &format!("conv{i}_ln"));
                    self.transpose(&n, &[0, 2, 1])
                }
            };
            x = self.gelu(&x);
        }
        let frames = self.config.frames_for(window);
        x = self.transpose(&x, &[0, 2, 1]); // [1, frames, conv]
        let projection = &model.hubert.feature_projection;
        if let Some(norm) = &projection.layer_norm {
            x = self.layer_norm(&x, norm, self.config.layer_norm_eps as f32, "proj_ln");
        }
        x = self.linear(&x, &projection.projection, "proj");

        let encoder = &model.hubert.encoder;
        let pos = &encoder.pos_conv_embed;
        let (left, right) = pos.padding();
        let (ws, wv) = values(pos.conv.weight());
        let (bs, bv) = values(pos.conv.bias.val());
        let b = self.g.f32("pos_b", &[1, bs[0], 1], bv);
        let t = self.transpose(&x, &[0, 2, 1]);
        let attrs = vec![
            ("kernel_shape", Attr::Ints(vec![pos.kernel as i64])),
            ("pads", Attr::Ints(vec![left as i64, right as i64])),
            ("group", Attr::Int(pos.conv.groups as i64)),
        ];
        let conv = match self.precision {
            Precision::Fp32 => {
                let w = self.g.f32("pos_w", &ws, wv);
                self.g.node("Conv", &[&t, &w], attrs)
            }
            Precision::Int8 => super::quant::conv_int8(&mut self.g, &t, &ws, &wv, attrs, "pos"),
        };
        let conv = self.g.node("Add", &[&conv, &b], vec![]);
        let conv = self.gelu(&conv);
        let conv = self.transpose(&conv, &[0, 2, 1]);
        x = self.g.node("Add", &[&x, &conv], vec![]);
        if !encoder.pre_norm {
            x = self.layer_norm(
                &x,
                &encoder.layer_norm,
                self.config.layer_norm_eps as f32,
                "enc_ln",
            );
        }
        let mut hidden_states = vec![x.clone()];
        for (i, layer) in encoder.layers.iter().enumerate() {
            x = self.encoder_layer(&x, layer, frames, i);
            hidden_states.push(x.clone());
        }
        if encoder.pre_norm {
            x = self.layer_norm(
                &x,
                &encoder.layer_norm,
                self.config.layer_norm_eps as f32,
                "enc_ln",
            );
        }
        let states = match &model.layer_weights {
            Some(weights) => {
                let w = values(burn::tensor::activation::softmax(weights.val(), 0)).1;
                let mut sum: Option<String> = None;
                for (state, weight) in hidden_states.iter().zip(w) {
                    let s = self.g.scalar("layer_weight", weight);
                    let term = self.g.node("Mul", &[state, &s], vec![]);
                    sum = Some(match sum {
                        Some(acc) => self.g.node("Add", &[&acc, &term], vec![]),
                        None => term,
                    });
                }
                sum.expect("at least one state")
            }
            None => x,
        };
        let projected = self.linear(&states, &model.projector, "projector");
        let pooled = self.g.node(
            "ReduceMean",
            &[&projected],
            vec![("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(0))],
        );
        let cry = model
            .cry_classifier
            .as_ref()
            .map(|head| self.linear(&pooled, head, "cry_classifier"));
        (self.linear(&pooled, &model.classifier, "classifier"), cry)
    }
}
