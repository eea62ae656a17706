//! Paired tests of a model against a baseline over the same outer folds.
//!
//! With five outer folds no test can say much; both are reported so the reader sees that. The
//! exact sign-flip permutation test makes no distributional assumption (its smallest two-sided
//! p-value with 5 folds is 2/32 = 0.0625); the paired t-test assumes normal differences.

use serde::Serialize;

/// Result of a paired two-sided test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedTest {
    /// Mean of `a - b`.
    pub mean_difference: f64,
    /// Student's t statistic (`None` when the differences have no spread).
    pub t: Option<f64>,
    /// Two-sided p-value of the paired t-test (`None` when `t` is).
    pub t_test_p: Option<f64>,
    /// Two-sided p-value of the exact sign-flip permutation test.
    pub permutation_p: f64,
}

/// Paired tests of `a` against `b` (same length, at least 2, at most 20 pairs).
pub fn paired_tests(a: &[f64], b: &[f64]) -> PairedTest {
    assert_eq!(a.len(), b.len(), "paired samples");
    let n = a.len();
    assert!((2..=20).contains(&n), "2 to 20 pairs");
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let (t, t_test_p) = if var > 0.0 {
        let t = mean / (var / n as f64).sqrt();
        let df = n as f64 - 1.0;
        (
            Some(t),
            Some(regularized_incomplete_beta(
                df / 2.0,
                0.5,
                df / (df + t * t),
            )),
        )
    } else {
        (None, None)
    };
    PairedTest {
        mean_difference: mean,
        t,
        t_test_p,
        permutation_p: sign_flip_p(&d),
    }
}

/// Share of the 2^n sign assignments whose |mean| is at least the observed |mean|.
fn sign_flip_p(d: &[f64]) -> f64 {
    let observed = d.iter().sum::<f64>().abs();
    let total = 1u32 << d.len();
    let extreme = (0..total)
        .filter(|mask| {
            let s: f64 = d
                .iter()
                .enumerate()
                .map(|(i, x)| if mask & (1 << i) != 0 { -x } else { *x })
                .sum();
            s.abs() >= observed - 1e-12
        })
        .count();
    extreme as f64 / f64::from(total)
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let series = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// I_x(a, b), by the continued fraction (modified Lentz), using the symmetry
/// I_x(a, b) = 1 − I_{1−x}(b, a) where it converges faster.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - regularized_incomplete_beta(b, a, 1.0 - x);
    }
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..500 {
        let m = f64::from(m);
        // Even step.
        let num = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 + num * d;
        d = if d.abs() < TINY { 1.0 / TINY } else { 1.0 / d };
        c = 1.0 + num / c;
        if c.abs() < TINY {
            c = TINY;
        }
        f *= d * c;
        // Odd step.
        let num = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + num * d;
        d = if d.abs() < TINY { 1.0 / TINY } else { 1.0 / d };
        c = 1.0 + num / c;
        if c.abs() < TINY {
            c = TINY;
        }
        let delta = d * c;
        f *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * f / a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference numbers: scipy 1.17.1 `ttest_rel` and `permutation_test(permutation_type=
    /// "samples", n_resamples=inf)` on the same vectors.
    /// a, b, t, t-test p, permutation p.
    type Case<'a> = (&'a [f64], &'a [f64], f64, f64, f64);

    #[test]
    fn equal_to_scipy() {
        let cases: [Case; 3] = [
            (
                &[0.31, 0.28, 0.35, 0.22, 0.30],
                &[0.20, 0.25, 0.18, 0.21, 0.24],
                2.628514962691084,
                0.05827679619083787,
                0.0625,
            ),
            (
                &[0.19, 0.21, 0.18, 0.22, 0.2],
                &[0.2, 0.19, 0.2, 0.21, 0.19],
                0.272165526975908,
                0.7989658591927793,
                1.0,
            ),
            (
                &[0.5, 0.4, 0.45, 0.6, 0.52, 0.41],
                &[0.3, 0.42, 0.2, 0.35, 0.5, 0.44],
                2.017742810952829,
                0.09965682434831616,
                0.21875,
            ),
        ];
        for (a, b, t, p, perm) in cases {
            let r = paired_tests(a, b);
            assert!((r.t.unwrap() - t).abs() < 1e-9, "t {} vs {t}", r.t.unwrap());
            assert!(
                (r.t_test_p.unwrap() - p).abs() < 1e-9,
                "p {} vs {p}",
                r.t_test_p.unwrap()
            );
            assert_eq!(r.permutation_p, perm);
        }
    }

    #[test]
    fn constant_differences_have_no_t_but_a_permutation_p() {
        let r = paired_tests(&[0.5; 5], &[0.3; 5]);
        assert_eq!((r.t, r.t_test_p), (None, None));
        assert_eq!(r.permutation_p, 2.0 / 32.0);
        assert!((r.mean_difference - 0.2).abs() < 1e-12);
    }

    #[test]
    fn ln_gamma_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }
}
