//! Metrics, their aggregation over folds, and the baselines every model must beat.

mod baselines;
pub mod detection;
mod metrics;
mod stats;
pub mod stream_check;
mod summary;

pub use baselines::{Baseline, BaselineFold, BaselineResult, score_baselines};
pub use metrics::{Averages, ClassMetrics, Metrics, Scalars};
pub use stats::{PairedTest, paired_tests};
pub use summary::MeanStd;
