//! Fine-tuning building blocks: learning-rate schedule, class-weighted loss, training crops.

pub mod crops;
pub mod loss;
pub mod schedule;
