//! Linear warm-up, then linear decay to zero.

/// Learning rate at optimiser step `step` (0-based) of `total`: rises linearly over the first
/// `warmup` steps to `peak`, then falls linearly to 0 at `total` (transformers'
/// `get_linear_schedule_with_warmup`).
pub fn linear_warmup_decay(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    if total <= warmup {
        return peak;
    }
    peak * (total.saturating_sub(step)) as f64 / (total - warmup) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rises_then_falls() {
        let lr: Vec<f64> = (0..10)
            .map(|s| linear_warmup_decay(s, 10, 2, 1.0))
            .collect();
        assert_eq!(lr[0], 0.5);
        assert_eq!(lr[1], 1.0);
        assert_eq!(lr[2], 1.0);
        assert!(lr.windows(2).skip(2).all(|w| w[1] < w[0]), "{lr:?}");
        assert!((lr[9] - 0.125).abs() < 1e-12);
        assert_eq!(linear_warmup_decay(10, 10, 2, 1.0), 0.0);
        assert!((linear_warmup_decay(0, 5, 0, 3e-5) - 3e-5).abs() < 1e-18);
    }
}
