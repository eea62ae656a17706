//! Fine-tuning building blocks: feature cache, learning-rate schedule, class-weighted loss,
//! training crops.

pub mod cache;
pub mod crops;
pub mod loss;
pub mod schedule;
