//! Fine-tuning building blocks: feature cache, learning-rate schedule, class-weighted loss,
//! training crops.

pub mod cache;
pub mod crops;
pub mod features;
pub mod fit;
pub mod grid;
pub mod jobs;
pub mod loss;
pub mod schedule;
pub mod session;
