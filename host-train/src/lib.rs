//! Training, evaluation and export of infant-cry classifiers.
//!
//! The binary is a thin wrapper over [`cli::run`]; everything it does is callable from here.

pub mod backend;
pub mod cli;
pub mod commands;
pub mod cv;
pub mod data;
pub mod error;
pub mod eval;
pub mod export;
pub mod fsx;
pub mod model;
pub mod npy;
pub mod plots;
pub mod progress;
pub mod report;
pub mod run;
pub mod seed;
pub mod synth;
pub mod train;
