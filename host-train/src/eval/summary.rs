//! Mean and spread over folds or seeds.

use serde::{Deserialize, Serialize};

/// Mean and sample standard deviation (n − 1 in the denominator; 0 for a single value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub std: f64,
}

impl MeanStd {
    /// Mean and sample standard deviation of `values` (both 0 when empty).
    pub fn of<'a>(values: impl IntoIterator<Item = &'a f64>) -> Self {
        let values: Vec<f64> = values.into_iter().copied().collect();
        let n = values.len() as f64;
        if values.is_empty() {
            return Self {
                mean: 0.0,
                std: 0.0,
            };
        }
        let mean = values.iter().sum::<f64>() / n;
        let std = if values.len() < 2 {
            0.0
        } else {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        };
        Self { mean, std }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_standard_deviation() {
        let s = MeanStd::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.mean, 5.0);
        assert!((s.std - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(
            MeanStd::of(&[3.0]),
            MeanStd {
                mean: 3.0,
                std: 0.0
            }
        );
    }
}
