//! The decision over a stream of windows, in one of two modes.
//!
//! - **Cry head** (a two-head model, whose metadata stores an alert policy): the energy gate
//!   only saves power (a window below it is not run through the model and is not a cry window);
//!   `cry` and `calm` come from [`cry_core::alerts`], the logic the host's evaluation replays:
//!   the window's cry probability against the threshold with hysteresis, the debounce, calm,
//!   and the reason averaged over the cry windows only.
//! - **Gate** (single-output models): any window above the gate is classified, and a run of one
//!   label for the debounce count is a `cry` of that label; `calm` after quiet windows.
//!
//! Window reports carry the smoothed reason probabilities in both modes. It takes levels and
//! model outputs and produces typed [`Event`]s: no model, no I/O, no allocation once its
//! buffers exist.

use cry_core::alerts::{Alert, AlertPolicy, AlertPolicyError, AlertState, WindowInput};
use cry_core::audio::Bandwidth;
use cry_core::contract::HOP_SAMPLES;
use cry_core::scoring::argmax;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use heapless::{Deque, Vec as FixedVec};

/// The most classes a model may have: the histories and events have fixed capacity.
pub const MAX_CLASSES: usize = 32;

/// The longest smoothing history.
pub const MAX_SMOOTHING: usize = 32;

/// How the detector turns audio into events.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Samples (at the model rate) between consecutive windows.
    pub hop_samples: usize,
    /// Windows quieter than this RMS level (dB relative to full scale) are not classified.
    pub gate_dbfs: f32,
    /// Probabilities are averaged over the last this many classified windows.
    pub smoothing: usize,
    /// A `cry` event needs the same label in this many consecutive windows.
    pub debounce: usize,
    /// A `calm` event follows this many consecutive quiet windows after a cry.
    pub calm_windows: usize,
    /// The model-rate audio is limited to this band before windows are cut (`--bandwidth`;
    /// the same filter the host applies to every clip).
    pub bandwidth: Option<Bandwidth>,
    /// Cry-head mode: the alert policy (the model's, under the command line's overrides).
    /// `None`: gate mode.
    pub alert: Option<AlertPolicy>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            hop_samples: HOP_SAMPLES,
            gate_dbfs: -50.0,
            smoothing: 3,
            debounce: 2,
            calm_windows: 3,
            bandwidth: None,
            alert: None,
        }
    }
}

/// A [`DetectorConfig`] value out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectorConfigError {
    /// The hop is zero samples.
    #[error("the hop must be positive")]
    ZeroHop,
    /// The smoothing length is zero or too long.
    #[error("smoothing over {0} windows; it must be in 1..={MAX_SMOOTHING}")]
    Smoothing(usize),
    /// The debounce is zero windows.
    #[error("the debounce must be at least 1 window")]
    ZeroDebounce,
    /// The calm count is zero windows.
    #[error("the calm count must be at least 1 window")]
    ZeroCalmWindows,
    /// The gate level is NaN or infinite.
    #[error("the gate level {0} is not a number of dBFS")]
    Gate(f32),
    /// The alert policy is out of range.
    #[error(transparent)]
    Alert(#[from] AlertPolicyError),
}

impl DetectorConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), DetectorConfigError> {
        if self.hop_samples == 0 {
            return Err(DetectorConfigError::ZeroHop);
        }
        if !(1..=MAX_SMOOTHING).contains(&self.smoothing) {
            return Err(DetectorConfigError::Smoothing(self.smoothing));
        }
        if self.debounce == 0 {
            return Err(DetectorConfigError::ZeroDebounce);
        }
        if self.calm_windows == 0 {
            return Err(DetectorConfigError::ZeroCalmWindows);
        }
        if !self.gate_dbfs.is_finite() {
            return Err(DetectorConfigError::Gate(self.gate_dbfs));
        }
        if let Some(policy) = &self.alert {
            policy.validate()?;
        }
        Ok(())
    }
}

/// The numbers events take (`seq`), shared by everyone who numbers them: the detector's cry
/// and calm, and the history's records of suspended and resumed alerts. Taken on the inference
/// thread only, in the order the events are written, so numbers never go backwards in the
/// history.
#[derive(Debug, Clone)]
pub struct Sequence(Arc<AtomicU64>);

impl Sequence {
    /// Numbers from `first` on.
    pub fn starting_at(first: u64) -> Self {
        Self(Arc::new(AtomicU64::new(first)))
    }

    /// The next number.
    pub fn take(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }

    /// The number the next event will take.
    pub fn peek(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What happened in the stream. Labels are class indices in the model's output order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A window was considered.
    Window(WindowReport),
    /// A cry began: in cry-head mode the cry probability stayed above the threshold for the
    /// debounce count; in gate mode the same label held for it.
    Cry {
        /// Its number among this monitor's cry and calm events, continuing across runs when
        /// a history is kept ([`Decision::number_with`]).
        seq: u64,
        /// Stream time (seconds) at the end of the window that confirmed it.
        t: f64,
        /// The reason (class).
        label: usize,
        /// Its smoothed probability (over the cry windows, in cry-head mode).
        confidence: f32,
        /// Cry-head mode: the confirming window's cry probability.
        cry_prob: Option<f32>,
    },
    /// Quiet windows followed a cry for the calm count.
    Calm {
        /// Its number, as for [`Event::Cry`].
        seq: u64,
        /// Stream time (seconds) at the end of the last quiet window.
        t: f64,
        /// The class of the cry that ended.
        after: usize,
        /// When that cry was confirmed (its `t`).
        cry_started: f64,
    },
}

/// One window as reported.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowReport {
    /// Stream time (seconds) at the end of the window.
    pub t: f64,
    /// RMS level in dBFS.
    pub rms_dbfs: f64,
    /// Gated or classified.
    pub verdict: Verdict,
    /// Samples the source had dropped so far (a full ring).
    pub dropped_samples: u64,
}

/// Whether a window was classified, and what it gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Below the gate: not classified.
    Quiet,
    /// Classified.
    Classified {
        /// The most probable class after smoothing.
        label: usize,
        /// Its smoothed probability.
        confidence: f32,
        /// Smoothed probabilities in class order.
        probabilities: FixedVec<f32, MAX_CLASSES>,
        /// Cry-head mode: the window's cry probability (not smoothed).
        cry_prob: Option<f32>,
        /// Seconds the model took for this window.
        latency_seconds: f64,
    },
}

/// One window handed to [`Decision::decide`].
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Stream time (seconds) at the end of the window.
    pub t: f64,
    /// RMS level in dBFS.
    pub rms_dbfs: f64,
    /// For a window above the gate: its class probabilities and the model's latency (seconds).
    pub classified: Option<(&'a [f32], f64)>,
    /// For a window above the gate, from a two-head model: its cry probability.
    pub cry_prob: Option<f32>,
    /// Samples the source had dropped so far.
    pub dropped_samples: u64,
}

/// The decision state of one stream: smoothing history, the current label run, the active cry.
pub struct Decision {
    gate_dbfs: f64,
    smoothing: usize,
    debounce: usize,
    calm_windows: usize,
    classes: usize,
    smoothed: [f32; MAX_CLASSES],
    history: Deque<[f32; MAX_CLASSES], MAX_SMOOTHING>,
    run_label: Option<usize>,
    run_len: usize,
    active: Option<(usize, f64)>,
    quiet_run: usize,
    alerts: Option<AlertState>,
    seq: Sequence,
}

impl Decision {
    /// The decision for `classes` classes (at most [`MAX_CLASSES`]) under a validated `config`.
    pub fn new(config: &DetectorConfig, classes: usize) -> Self {
        Self {
            gate_dbfs: f64::from(config.gate_dbfs),
            smoothing: config.smoothing.clamp(1, MAX_SMOOTHING),
            debounce: config.debounce,
            calm_windows: config.calm_windows,
            classes: classes.min(MAX_CLASSES),
            smoothed: [0.0; MAX_CLASSES],
            history: Deque::new(),
            run_label: None,
            run_len: 0,
            active: None,
            quiet_run: 0,
            alerts: config
                .alert
                .map(|policy| AlertState::new(policy, classes.min(MAX_CLASSES))),
            seq: Sequence::starting_at(0),
        }
    }

    /// Numbers the cry and calm events from `seq`, which others may number from too (the
    /// history's records of suspended alerts): each takes the next number.
    pub fn number_with(&mut self, seq: Sequence) {
        self.seq = seq;
    }

    fn take_seq(&mut self) -> u64 {
        self.seq.take()
    }

    /// Whether events come from the cry head's alert policy (else from the gate).
    pub fn has_cry_head(&self) -> bool {
        self.alerts.is_some()
    }

    /// True when a window at this level is below the gate (reported quiet, not classified).
    pub fn is_quiet(&self, rms_dbfs: f64) -> bool {
        rms_dbfs < self.gate_dbfs
    }

    /// Decides one window: appends its [`Event::Window`] to `events`, then the `Cry` or `Calm`
    /// it causes. A window without probabilities counts as quiet.
    pub fn decide(&mut self, window: Observation<'_>, events: &mut Vec<Event>) {
        let verdict = match window.classified {
            None => {
                self.history.clear();
                self.run_label = None;
                self.run_len = 0;
                self.quiet_run += 1;
                Verdict::Quiet
            }
            Some((probabilities, latency_seconds)) => {
                self.quiet_run = 0;
                self.smooth(probabilities);
                let smoothed = &self.smoothed[..self.classes];
                let label = argmax(smoothed);
                if self.run_label == Some(label) {
                    self.run_len += 1;
                } else {
                    self.run_label = Some(label);
                    self.run_len = 1;
                }
                Verdict::Classified {
                    label,
                    confidence: smoothed[label],
                    probabilities: FixedVec::from_slice(smoothed)
                        .expect("at most MAX_CLASSES classes"),
                    cry_prob: window.cry_prob,
                    latency_seconds,
                }
            }
        };
        let t = window.t;
        events.push(Event::Window(WindowReport {
            t,
            rms_dbfs: window.rms_dbfs,
            verdict,
            dropped_samples: window.dropped_samples,
        }));
        if let Some(alerts) = &mut self.alerts {
            let input = match window.classified {
                // Below the power-saving gate, or a model that gave no cry output: not a cry
                // window.
                None => WindowInput::Skipped,
                Some((reasons, _)) => match window.cry_prob {
                    Some(cry_prob) => WindowInput::Scored { cry_prob, reasons },
                    None => WindowInput::Skipped,
                },
            };
            let alert = alerts.step(t, input);
            match alert {
                Some(Alert::Cry {
                    t,
                    reason,
                    reason_confidence,
                    cry_prob,
                }) => events.push(Event::Cry {
                    seq: self.take_seq(),
                    t,
                    label: reason,
                    confidence: reason_confidence,
                    cry_prob: Some(cry_prob),
                }),
                Some(Alert::Calm {
                    t,
                    cry_started,
                    reason,
                }) => events.push(Event::Calm {
                    seq: self.take_seq(),
                    t,
                    after: reason,
                    cry_started,
                }),
                None => {}
            }
            return;
        }
        if let Some(label) = self.run_label
            && self.run_len >= self.debounce
            && self.active.map(|(l, _)| l) != Some(label)
        {
            self.active = Some((label, t));
            let seq = self.take_seq();
            events.push(Event::Cry {
                seq,
                t,
                label,
                confidence: self.smoothed[label],
                cry_prob: None,
            });
        }
        if let Some((after, cry_started)) = self.active
            && self.quiet_run >= self.calm_windows
        {
            self.active = None;
            let seq = self.take_seq();
            events.push(Event::Calm {
                seq,
                t,
                after,
                cry_started,
            });
        }
    }

    /// Forgets the smoothing history and the current label run (after a gap in the audio); an
    /// active cry stays active until calm.
    pub fn reset(&mut self) {
        self.history.clear();
        self.run_label = None;
        self.run_len = 0;
    }

    /// Whether a cry is active (alerted and not yet calm), in either mode.
    pub fn is_crying(&self) -> bool {
        match &self.alerts {
            Some(alerts) => alerts.is_crying(),
            None => self.active.is_some(),
        }
    }

    /// Averages the probabilities of the last `smoothing` classified windows.
    fn smooth(&mut self, probabilities: &[f32]) {
        if self.history.len() >= self.smoothing {
            self.history.pop_front();
        }
        let mut entry = [0.0f32; MAX_CLASSES];
        let n = probabilities.len().min(self.classes);
        entry[..n].copy_from_slice(&probabilities[..n]);
        // Capacity is MAX_SMOOTHING >= smoothing, and one was just removed if full.
        let _ = self.history.push_back(entry);
        let count = self.history.len() as f32;
        self.smoothed.fill(0.0);
        for past in self.history.iter() {
            for (s, p) in self.smoothed.iter_mut().zip(past) {
                *s += p / count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DetectorConfig {
        DetectorConfig {
            smoothing: 1,
            debounce: 2,
            calm_windows: 2,
            ..DetectorConfig::default()
        }
    }

    fn loud<'a>(t: f64, probabilities: &'a [f32]) -> Observation<'a> {
        Observation {
            t,
            rms_dbfs: -20.0,
            classified: Some((probabilities, 0.01)),
            cry_prob: None,
            dropped_samples: 0,
        }
    }

    fn quiet(t: f64) -> Observation<'static> {
        Observation {
            t,
            rms_dbfs: -90.0,
            classified: None,
            cry_prob: None,
            dropped_samples: 0,
        }
    }

    fn kinds(events: &[Event]) -> Vec<(&'static str, f64)> {
        events
            .iter()
            .map(|e| match e {
                Event::Window(w) => ("window", w.t),
                Event::Cry { t, .. } => ("cry", *t),
                Event::Calm { t, .. } => ("calm", *t),
            })
            .collect()
    }

    #[test]
    fn debounce_then_calm() {
        let mut decision = Decision::new(&config(), 2);
        let mut events = Vec::new();
        decision.decide(loud(1.0, &[0.9, 0.1]), &mut events);
        decision.decide(loud(2.0, &[0.8, 0.2]), &mut events);
        decision.decide(loud(3.0, &[0.7, 0.3]), &mut events);
        decision.decide(quiet(4.0), &mut events);
        decision.decide(quiet(5.0), &mut events);
        assert_eq!(
            kinds(&events),
            [
                ("window", 1.0),
                ("window", 2.0),
                ("cry", 2.0),
                ("window", 3.0),
                ("window", 4.0),
                ("window", 5.0),
                ("calm", 5.0)
            ]
        );
        assert!(matches!(events[2], Event::Cry { label: 0, .. }));
        assert_eq!(
            events[6],
            Event::Calm {
                seq: 1,
                t: 5.0,
                after: 0,
                cry_started: 2.0
            }
        );
    }

    #[test]
    fn a_changing_label_restarts_the_debounce_and_smoothing_averages() {
        let config = DetectorConfig {
            smoothing: 2,
            ..config()
        };
        let mut decision = Decision::new(&config, 2);
        let mut events = Vec::new();
        decision.decide(loud(1.0, &[0.9, 0.1]), &mut events);
        decision.decide(loud(2.0, &[0.0, 1.0]), &mut events);
        let Event::Window(WindowReport {
            verdict:
                Verdict::Classified {
                    label,
                    probabilities,
                    ..
                },
            ..
        }) = &events[1]
        else {
            panic!("{events:?}");
        };
        // (0.9 + 0.0) / 2 vs (0.1 + 1.0) / 2: label 1, and only its first window.
        assert_eq!(*label, 1);
        assert!((probabilities[1] - 0.55).abs() < 1e-6);
        assert_eq!(events.len(), 2, "{events:?}");
    }

    #[test]
    fn the_gate_is_a_level_below_which_windows_are_quiet() {
        let decision = Decision::new(&config(), 2);
        assert!(decision.is_quiet(-50.1));
        assert!(!decision.is_quiet(-50.0));
    }

    #[test]
    fn config_errors_name_values_not_flags() {
        let bad = |f: fn(&mut DetectorConfig)| {
            let mut c = DetectorConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(bad(|c| c.hop_samples = 0), DetectorConfigError::ZeroHop);
        assert_eq!(
            bad(|c| c.smoothing = 33),
            DetectorConfigError::Smoothing(33)
        );
        assert_eq!(bad(|c| c.debounce = 0), DetectorConfigError::ZeroDebounce);
        assert!(!bad(|c| c.gate_dbfs = f32::NAN).to_string().contains("--"));
    }

    fn policy() -> AlertPolicy {
        AlertPolicy {
            threshold: 0.6,
            release: 0.4,
            debounce: 2,
            calm_windows: 2,
            smoothing: 3,
        }
    }

    /// In cry-head mode the events are exactly what `cry_core::alerts` raises for the same
    /// probabilities (the host's evaluation replays that), whatever the reason labels do, and a
    /// loud non-cry window is no cry.
    #[test]
    fn cry_head_mode_raises_what_the_shared_alert_logic_raises() {
        let config = DetectorConfig {
            alert: Some(policy()),
            ..config()
        };
        let windows: [(Option<f32>, [f32; 2]); 9] = [
            (Some(0.9), [0.2, 0.8]), // loud, but one cry window is no alert
            (Some(0.1), [0.9, 0.1]),
            (None, [0.0, 0.0]), // under the gate: skipped
            (Some(0.7), [0.3, 0.7]),
            (Some(0.5), [0.1, 0.9]), // above the release: still a cry window
            (Some(0.3), [0.6, 0.4]),
            (Some(0.2), [0.9, 0.1]),
            (Some(0.95), [0.5, 0.5]),
            (Some(0.95), [0.5, 0.5]),
        ];
        let mut decision = Decision::new(&config, 2);
        assert!(decision.has_cry_head());
        let mut events = Vec::new();
        let mut state = AlertState::new(policy(), 2);
        let mut expected = Vec::new();
        for (i, (cry_prob, reasons)) in windows.iter().enumerate() {
            let t = 3.0 + i as f64;
            let observation = match cry_prob {
                Some(p) => Observation {
                    cry_prob: Some(*p),
                    ..loud(t, reasons)
                },
                None => quiet(t),
            };
            decision.decide(observation, &mut events);
            let input = match cry_prob {
                Some(p) => WindowInput::Scored {
                    cry_prob: *p,
                    reasons,
                },
                None => WindowInput::Skipped,
            };
            expected.extend(state.step(t, input));
        }
        let got: Vec<Alert> = events
            .iter()
            .filter_map(|e| match *e {
                Event::Cry {
                    t,
                    label,
                    confidence,
                    cry_prob,
                    ..
                } => Some(Alert::Cry {
                    t,
                    reason: label,
                    reason_confidence: confidence,
                    cry_prob: cry_prob.unwrap(),
                }),
                Event::Calm {
                    t,
                    after,
                    cry_started,
                    ..
                } => Some(Alert::Calm {
                    t,
                    cry_started,
                    reason: after,
                }),
                Event::Window(_) => None,
            })
            .collect();
        assert_eq!(got, expected);
        // Cry at the 0.5 window (t 7: 0.7 then 0.5 held by hysteresis), calm two windows
        // later, and a new cry at the end; reason 1, the mean over the cry windows.
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            matches!(got[0], Alert::Cry { t, reason: 1, .. } if t == 7.0),
            "{got:?}"
        );
        assert!(
            matches!(got[1], Alert::Calm { t, .. } if t == 9.0),
            "{got:?}"
        );
        assert!(
            matches!(got[2], Alert::Cry { t, .. } if t == 11.0),
            "{got:?}"
        );
        // Window reports carry the cry probability.
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Window(WindowReport { verdict: Verdict::Classified { cry_prob: Some(p), .. }, .. }) if *p == 0.9
        )));
    }
}
