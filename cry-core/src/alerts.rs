//! From per-window cry probabilities to cry and calm alerts: hysteresis, debounce and calm, and
//! the reason smoothed over the cry windows only. The edge raises its events with this, and the
//! host's evaluation replays held-out clips through exactly this, so an alert counted in a
//! report is an alert a parent would have had.
//!
//! No allocation once an [`AlertState`] exists, no I/O, no model.

use serde::{Deserialize, Serialize};

use crate::scoring::argmax;

/// The most reason classes an [`AlertState`] holds.
pub const MAX_CLASSES: usize = 32;

/// The longest reason-smoothing history.
pub const MAX_SMOOTHING: usize = 32;

/// How windows' cry probabilities become alerts. Chosen on training data and stored with the
/// model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    /// A window whose cry probability reaches this is a cry window.
    pub threshold: f32,
    /// Hysteresis: after a cry window, the next stays one down to this probability
    /// (`release <= threshold`).
    pub release: f32,
    /// A cry alert needs this many consecutive cry windows.
    pub debounce: usize,
    /// A calm alert follows this many consecutive windows that are not cry windows.
    pub calm_windows: usize,
    /// The reason is averaged over the last this many cry windows.
    pub smoothing: usize,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            release: 0.4,
            debounce: 2,
            calm_windows: 3,
            smoothing: 3,
        }
    }
}

/// An [`AlertPolicy`] value out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertPolicyError {
    /// The threshold is not a probability.
    #[error("the cry threshold {0} is not a probability in (0, 1]")]
    Threshold(f32),
    /// The release is not in `[0, threshold]`.
    #[error("the release level {release} is not in [0, threshold {threshold}]")]
    Release {
        /// The release level.
        release: f32,
        /// The threshold.
        threshold: f32,
    },
    /// The debounce is zero windows.
    #[error("the debounce must be at least 1 window")]
    ZeroDebounce,
    /// The calm count is zero windows.
    #[error("the calm count must be at least 1 window")]
    ZeroCalmWindows,
    /// The smoothing length is zero or too long.
    #[error("reason smoothing over {0} windows; it must be in 1..={MAX_SMOOTHING}")]
    Smoothing(usize),
}

impl AlertPolicy {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), AlertPolicyError> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(AlertPolicyError::Threshold(self.threshold));
        }
        if !(self.release >= 0.0 && self.release <= self.threshold) {
            return Err(AlertPolicyError::Release {
                release: self.release,
                threshold: self.threshold,
            });
        }
        if self.debounce == 0 {
            return Err(AlertPolicyError::ZeroDebounce);
        }
        if self.calm_windows == 0 {
            return Err(AlertPolicyError::ZeroCalmWindows);
        }
        if !(1..=MAX_SMOOTHING).contains(&self.smoothing) {
            return Err(AlertPolicyError::Smoothing(self.smoothing));
        }
        Ok(())
    }

    /// This policy with another threshold, the release kept at the same fraction of it.
    pub fn with_threshold(&self, threshold: f32) -> Self {
        let ratio = if self.threshold > 0.0 {
            self.release / self.threshold
        } else {
            1.0
        };
        Self {
            threshold,
            release: (threshold * ratio).min(threshold),
            ..*self
        }
    }
}

/// A change of state, at the end of the window that caused it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Alert {
    /// Enough consecutive cry windows: a cry began.
    Cry {
        /// Stream time (seconds) at the end of the confirming window.
        t: f64,
        /// The most probable reason, averaged over the cry windows so far.
        reason: usize,
        /// Its averaged probability.
        reason_confidence: f32,
        /// The confirming window's cry probability.
        cry_prob: f32,
    },
    /// Enough windows without a cry after one: calm.
    Calm {
        /// Stream time (seconds) at the end of the last window.
        t: f64,
        /// When the cry was confirmed.
        cry_started: f64,
        /// The reason over the whole cry (its last `smoothing` cry windows).
        reason: usize,
    },
}

/// One window as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub enum WindowInput<'a> {
    /// Not run through the model (below the power-saving gate, or a gap): not a cry window.
    Skipped,
    /// The model's output for the window.
    Scored {
        /// Probability that the window holds a cry.
        cry_prob: f32,
        /// Reason probabilities in class order (may be empty).
        reasons: &'a [f32],
    },
}

/// The alert state of one stream.
#[derive(Debug, Clone)]
pub struct AlertState {
    policy: AlertPolicy,
    classes: usize,
    above: bool,
    run: usize,
    calm_run: usize,
    active: Option<f64>,
    history: [[f32; MAX_CLASSES]; MAX_SMOOTHING],
    history_len: usize,
    history_next: usize,
}

impl AlertState {
    /// The state for `classes` reasons (at most [`MAX_CLASSES`]) under a validated `policy`.
    pub fn new(policy: AlertPolicy, classes: usize) -> Self {
        Self {
            policy: AlertPolicy {
                smoothing: policy.smoothing.clamp(1, MAX_SMOOTHING),
                ..policy
            },
            classes: classes.min(MAX_CLASSES),
            above: false,
            run: 0,
            calm_run: 0,
            active: None,
            history: [[0.0; MAX_CLASSES]; MAX_SMOOTHING],
            history_len: 0,
            history_next: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &AlertPolicy {
        &self.policy
    }

    /// Whether a cry is active (alerted and not yet calm).
    pub fn is_crying(&self) -> bool {
        self.active.is_some()
    }

    /// Whether the last window counted as a cry window (after hysteresis).
    pub fn is_cry_window(&self) -> bool {
        self.above
    }

    /// The reason averaged over the recent cry windows, with its probability; `None` before any.
    pub fn reason(&self) -> Option<(usize, f32)> {
        if self.history_len == 0 || self.classes == 0 {
            return None;
        }
        let mut mean = [0.0f32; MAX_CLASSES];
        for entry in &self.history[..self.history_len] {
            for (m, p) in mean.iter_mut().zip(&entry[..self.classes]) {
                *m += p / self.history_len as f32;
            }
        }
        let best = argmax(&mean[..self.classes]);
        Some((best, mean[best]))
    }

    /// Decides one window ending at `t` and returns the alert it causes, if any.
    pub fn step(&mut self, t: f64, window: WindowInput<'_>) -> Option<Alert> {
        let cry_prob = match window {
            WindowInput::Skipped => None,
            WindowInput::Scored { cry_prob, reasons } => {
                let level = if self.above {
                    self.policy.release
                } else {
                    self.policy.threshold
                };
                let is_cry = cry_prob >= level && cry_prob.is_finite();
                if is_cry {
                    self.remember(reasons);
                }
                is_cry.then_some(cry_prob)
            }
        };
        self.above = cry_prob.is_some();
        match cry_prob {
            Some(cry_prob) => {
                self.run += 1;
                self.calm_run = 0;
                if self.active.is_none() && self.run >= self.policy.debounce {
                    self.active = Some(t);
                    let (reason, reason_confidence) = self.reason().unwrap_or((0, 0.0));
                    return Some(Alert::Cry {
                        t,
                        reason,
                        reason_confidence,
                        cry_prob,
                    });
                }
                None
            }
            None => {
                self.run = 0;
                self.calm_run += 1;
                let started = self.active?;
                if self.calm_run < self.policy.calm_windows {
                    return None;
                }
                let reason = self.reason().map_or(0, |(r, _)| r);
                self.active = None;
                self.history_len = 0;
                self.history_next = 0;
                Some(Alert::Calm {
                    t,
                    cry_started: started,
                    reason,
                })
            }
        }
    }

    fn remember(&mut self, reasons: &[f32]) {
        let mut entry = [0.0f32; MAX_CLASSES];
        let n = reasons.len().min(self.classes);
        entry[..n].copy_from_slice(&reasons[..n]);
        self.history[self.history_next] = entry;
        self.history_next = (self.history_next + 1) % self.policy.smoothing;
        self.history_len = (self.history_len + 1).min(self.policy.smoothing);
    }
}

/// The alerts of a whole recording whose windows end at `t0 + i * hop_seconds`, from a fresh
/// state: what the edge would have raised.
pub fn replay(
    policy: AlertPolicy,
    classes: usize,
    t0: f64,
    hop_seconds: f64,
    windows: impl IntoIterator<Item = (f32, Vec<f32>)>,
) -> Vec<Alert> {
    let mut state = AlertState::new(policy, classes);
    windows
        .into_iter()
        .enumerate()
        .filter_map(|(i, (cry_prob, reasons))| {
            state.step(
                t0 + i as f64 * hop_seconds,
                WindowInput::Scored {
                    cry_prob,
                    reasons: &reasons,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AlertPolicy {
        AlertPolicy {
            threshold: 0.6,
            release: 0.3,
            debounce: 2,
            calm_windows: 2,
            smoothing: 2,
        }
    }

    fn run(probs: &[f32]) -> Vec<(&'static str, f64)> {
        replay(
            policy(),
            0,
            1.0,
            1.0,
            probs.iter().map(|&p| (p, Vec::new())),
        )
        .into_iter()
        .map(|a| match a {
            Alert::Cry { t, .. } => ("cry", t),
            Alert::Calm { t, .. } => ("calm", t),
        })
        .collect()
    }

    #[test]
    fn debounce_needs_consecutive_cry_windows() {
        assert!(run(&[0.9, 0.1, 0.9, 0.1, 0.9]).is_empty());
        assert_eq!(run(&[0.9, 0.9]), [("cry", 2.0)]);
        assert_eq!(run(&[0.1, 0.7, 0.8, 0.9]), [("cry", 3.0)]);
    }

    #[test]
    fn hysteresis_holds_a_cry_between_release_and_threshold() {
        // 0.4 is below the threshold but above the release: the cry windows continue.
        assert_eq!(run(&[0.9, 0.4, 0.4, 0.4]), [("cry", 2.0)]);
        // From silence, 0.4 never starts one.
        assert!(run(&[0.4, 0.4, 0.4]).is_empty());
        // Below the release the run breaks and calm follows after two windows.
        assert_eq!(
            run(&[0.9, 0.9, 0.2, 0.2, 0.9]),
            [("cry", 2.0), ("calm", 4.0)]
        );
    }

    #[test]
    fn calm_needs_consecutive_quiet_windows_and_skipped_windows_count() {
        assert_eq!(run(&[0.9, 0.9, 0.1, 0.9, 0.1]), [("cry", 2.0)]);
        let mut state = AlertState::new(policy(), 0);
        let loud = WindowInput::Scored {
            cry_prob: 0.95,
            reasons: &[],
        };
        assert_eq!(state.step(1.0, loud), None);
        assert!(matches!(state.step(2.0, loud), Some(Alert::Cry { .. })));
        assert_eq!(state.step(3.0, WindowInput::Skipped), None);
        assert!(state.is_crying());
        assert_eq!(
            state.step(4.0, WindowInput::Skipped),
            Some(Alert::Calm {
                t: 4.0,
                cry_started: 2.0,
                reason: 0
            })
        );
        assert!(!state.is_crying());
    }

    #[test]
    fn the_reason_is_averaged_over_cry_windows_only() {
        let mut state = AlertState::new(policy(), 2);
        // A non-cry window with a strong reason 1 must not count.
        state.step(
            1.0,
            WindowInput::Scored {
                cry_prob: 0.1,
                reasons: &[0.0, 1.0],
            },
        );
        state.step(
            2.0,
            WindowInput::Scored {
                cry_prob: 0.9,
                reasons: &[0.7, 0.3],
            },
        );
        let Some(Alert::Cry {
            reason,
            reason_confidence,
            ..
        }) = state.step(
            3.0,
            WindowInput::Scored {
                cry_prob: 0.9,
                reasons: &[0.5, 0.5],
            },
        )
        else {
            panic!("no cry");
        };
        assert_eq!(reason, 0);
        assert!((reason_confidence - 0.6).abs() < 1e-6);
    }

    #[test]
    fn nan_is_never_a_cry_and_ranges_are_checked() {
        assert!(run(&[f32::NAN, f32::NAN, f32::NAN]).is_empty());
        assert!(policy().validate().is_ok());
        let bad = |f: fn(&mut AlertPolicy)| {
            let mut p = policy();
            f(&mut p);
            p.validate().unwrap_err()
        };
        assert_eq!(bad(|p| p.threshold = 0.0), AlertPolicyError::Threshold(0.0));
        assert!(matches!(
            bad(|p| p.release = 0.7),
            AlertPolicyError::Release { .. }
        ));
        assert_eq!(bad(|p| p.debounce = 0), AlertPolicyError::ZeroDebounce);
        assert_eq!(bad(|p| p.smoothing = 33), AlertPolicyError::Smoothing(33));
        let moved = policy().with_threshold(0.9);
        assert!((moved.release - 0.45).abs() < 1e-6);
    }
}
