//! Training, evaluation and export of infant-cry classifiers.

pub mod data;
pub mod synth;
