//! The waveform normalisation of transformers' `Wav2Vec2FeatureExtractor`.

/// Variance floor of `Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm`.
pub const NORMALIZE_EPS: f64 = 1e-7;

/// In place: `(x - mean) / sqrt(var + 1e-7)` over the clip (population variance), as
/// transformers does per clip when `do_normalize` is set. Computed in f64.
pub fn zero_mean_unit_var(samples: &mut [f32]) {
    if samples.is_empty() {
        return;
    }
    let n = samples.len() as f64;
    let mean = samples.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = samples
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    let scale = 1.0 / (var + NORMALIZE_EPS).sqrt();
    for x in samples {
        *x = ((f64::from(*x) - mean) * scale) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_mean_unit_variance() {
        let mut x: Vec<f32> = (0..1000)
            .map(|i| (i as f32 * 0.37).sin() * 0.2 + 0.05)
            .collect();
        zero_mean_unit_var(&mut x);
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / 1000.0;
        let var = x
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / 1000.0;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4,
            "{mean} {var}"
        );
        let mut silent = vec![0.0f32; 10];
        zero_mean_unit_var(&mut silent);
        assert!(silent.iter().all(|v| *v == 0.0), "silence stays finite");
    }
}
