//! Training, evaluation and export of infant-cry classifiers.

pub mod cv;
pub mod data;
pub mod eval;
pub mod seed;
pub mod synth;
