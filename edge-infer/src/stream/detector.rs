//! The detector: audio is pushed in, events come out. It joins the three parts of a stream's
//! state: [`WindowAssembler`] (downmix, resample, the last window, the hop), a [`Classifier`]
//! for the windows above the gate, and the [`Decision`] (gate, smoothing, debounce, calm).
//!
//! The caller owns the loop ([`super::Pump`] for a source, or a test pushing samples), so a
//! microphone, a file and a test all drive the same object. Once running, a window costs no
//! allocation on this side: every buffer is sized at construction and reused (tract allocates
//! its own intermediate tensors inside a run).

use std::time::Instant;

use cry_core::contract::SAMPLE_RATE_HZ;
use cry_core::scoring::{sigmoid, softmax};
use cry_core::windows::rms_dbfs;

use super::decision::{
    Decision, DetectorConfig, DetectorConfigError, Event, MAX_CLASSES, Observation, Sequence,
    Verdict,
};
use super::source::Format;
use super::window::{FormatError, STEP_FRAMES, WindowAssembler};
use crate::engine::{Classifier, EngineError};

/// Why the detector cannot be built or go on.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// The configuration is out of range.
    #[error(transparent)]
    Config(#[from] DetectorConfigError),
    /// The classifier has no classes or more than the detector keeps.
    #[error("{0} model outputs; the detector supports 1 to {MAX_CLASSES}")]
    Classes(usize),
    /// An alert policy for a model without a cry head.
    #[error("the detector has a cry alert policy but the model has no cry head (`cry_logit`)")]
    NoCryHead,
    /// The input format cannot be handled.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The model failed on a window.
    #[error(transparent)]
    Classify(#[from] EngineError),
}

/// Totals over a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Model-rate samples received.
    pub samples: u64,
    /// Windows considered.
    pub windows: u64,
    /// Windows under the gate.
    pub gated: u64,
    /// `cry` events.
    pub cry_events: u64,
    /// `calm` events.
    pub calm_events: u64,
    /// Samples the source dropped (full ring).
    pub dropped_samples: u64,
    /// Sum of the model latencies, in seconds.
    pub latency_sum: f64,
    /// Largest model latency, in seconds.
    pub latency_max: f64,
}

impl Summary {
    fn count(&mut self, event: &Event) {
        match event {
            Event::Window(window) => {
                self.windows += 1;
                match window.verdict {
                    Verdict::Quiet => self.gated += 1,
                    Verdict::Classified {
                        latency_seconds, ..
                    } => {
                        self.latency_sum += latency_seconds;
                        self.latency_max = self.latency_max.max(latency_seconds);
                    }
                }
            }
            Event::Cry { .. } => self.cry_events += 1,
            Event::Calm { .. } => self.calm_events += 1,
        }
    }
}

/// The streaming state of one input.
pub struct Detector<C: Classifier> {
    classifier: C,
    windows: WindowAssembler,
    decision: Decision,
    logits: Vec<f32>,
    probabilities: Vec<f32>,
    summary: Summary,
}

impl<C: Classifier> Detector<C> {
    /// A detector for `classifier` under `config`, taking mono model-rate input until
    /// [`Detector::set_format`].
    pub fn new(classifier: C, config: DetectorConfig) -> Result<Self, DetectorError> {
        config.validate()?;
        let classes = classifier.classes();
        if classes == 0 || classes > MAX_CLASSES {
            return Err(DetectorError::Classes(classes));
        }
        if config.alert.is_some() && !classifier.has_cry_head() {
            return Err(DetectorError::NoCryHead);
        }
        Ok(Self {
            windows: WindowAssembler::new(classifier.window_samples(), config.hop_samples)
                .with_bandwidth(config.bandwidth),
            decision: Decision::new(&config, classes),
            logits: vec![0.0; classes],
            probabilities: vec![0.0; classes],
            summary: Summary::default(),
            classifier,
        })
    }

    /// Takes interleaved input in `format` from now on.
    pub fn set_format(&mut self, format: Format) -> Result<(), DetectorError> {
        Ok(self.windows.set_format(format)?)
    }

    /// Records the source's running count of dropped samples; window events report it.
    pub fn set_dropped_samples(&mut self, dropped: u64) {
        self.summary.dropped_samples = dropped;
    }

    /// Pushes interleaved whole frames; appends the events they complete to `events`, in
    /// order. `events` only grows beyond its capacity when one push completes more windows than
    /// ever before.
    pub fn push(
        &mut self,
        interleaved: &[f32],
        events: &mut Vec<Event>,
    ) -> Result<(), DetectorError> {
        let step = STEP_FRAMES * usize::from(self.windows.format().channels);
        for piece in interleaved.chunks(step) {
            self.windows.push(piece)?;
            self.summary.samples = self.windows.samples();
            while let Some((end, samples)) = self.windows.ready() {
                let rms_dbfs = rms_dbfs(samples);
                let (classified, cry_prob) = if self.decision.is_quiet(rms_dbfs) {
                    (None, None)
                } else {
                    let started = Instant::now();
                    let cry_logit = self.classifier.logits(samples, &mut self.logits)?;
                    let latency = started.elapsed().as_secs_f64();
                    softmax(&self.logits, &mut self.probabilities);
                    (
                        Some((&self.probabilities[..], latency)),
                        cry_logit.map(sigmoid),
                    )
                };
                let first = events.len();
                self.decision.decide(
                    Observation {
                        t: end as f64 / f64::from(SAMPLE_RATE_HZ),
                        rms_dbfs,
                        classified,
                        cry_prob,
                        dropped_samples: self.summary.dropped_samples,
                    },
                    events,
                );
                for event in &events[first..] {
                    self.summary.count(event);
                }
                self.windows.advance();
            }
        }
        Ok(())
    }

    /// Forgets buffered audio and smoothing, e.g. after the device came back: the next window
    /// is a full window of new audio. Stream time keeps counting.
    pub fn reset_audio(&mut self) {
        self.windows.reset();
        self.decision.reset();
    }

    /// Numbers the cry and calm events from `seq` ([`Decision::number_with`]).
    pub fn number_with(&mut self, seq: Sequence) {
        self.decision.number_with(seq);
    }

    /// Totals so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The classifier (e.g. to inspect a test stand-in).
    pub fn classifier(&self) -> &C {
        &self.classifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits [energy, -energy]: loud windows are class 0.
    struct Energy;

    impl Classifier for Energy {
        fn window_samples(&self) -> usize {
            1600
        }
        fn classes(&self) -> usize {
            2
        }
        fn logits(&mut self, window: &[f32], out: &mut [f32]) -> Result<Option<f32>, EngineError> {
            let energy = window.iter().map(|s| s * s).sum::<f32>();
            out.copy_from_slice(&[energy, -energy]);
            Ok(None)
        }
    }

    #[test]
    fn pushed_audio_in_any_pieces_gives_the_same_events() {
        let config = DetectorConfig {
            hop_samples: 800,
            calm_windows: 2,
            smoothing: 1,
            ..DetectorConfig::default()
        };
        let mut audio = vec![0.0f32; 3200];
        audio.extend((0..8000).map(|i| if i % 2 == 0 { 0.5 } else { -0.5 }));
        audio.extend(vec![0.0; 4000]);
        let run = |piece: usize| {
            let mut detector = Detector::new(Energy, config.clone()).unwrap();
            // As after a restart with 41 events in the history.
            detector.number_with(Sequence::starting_at(41));
            let mut events = Vec::new();
            for chunk in audio.chunks(piece) {
                detector.push(chunk, &mut events).unwrap();
            }
            (events, detector.summary().clone())
        };
        let (events, summary) = run(audio.len());
        for piece in [1, 799, 5000] {
            let (other, _) = run(piece);
            let strip = |e: &[Event]| -> Vec<Event> {
                e.iter()
                    .cloned()
                    .map(|mut e| {
                        if let Event::Window(w) = &mut e
                            && let Verdict::Classified {
                                latency_seconds, ..
                            } = &mut w.verdict
                        {
                            *latency_seconds = 0.0;
                        }
                        e
                    })
                    .collect()
            };
            assert_eq!(strip(&events), strip(&other), "pieces of {piece}");
        }
        let cries: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(e, Event::Cry { .. } | Event::Calm { .. }))
            .collect();
        // 0.1 s windows every 0.05 s; loud audio from 0.2 s to 0.7 s. The second window touching
        // it (debounce 2) ends at 0.3 s; the second wholly after it (calm 2) at 0.85 s.
        assert_eq!(cries.len(), 2, "{cries:?}");
        assert!(
            matches!(cries[0], Event::Cry { seq: 41, t, label: 0, .. } if *t == 0.3),
            "{cries:?}"
        );
        assert_eq!(
            *cries[1],
            Event::Calm {
                seq: 42,
                t: 0.85,
                after: 0,
                cry_started: 0.3
            }
        );
        assert_eq!(summary.windows, 18);
        assert_eq!(summary.gated, 3 + 4);
        assert_eq!(summary.cry_events, 1);
        assert_eq!(summary.calm_events, 1);
        assert_eq!(summary.samples, 15_200);
    }

    #[test]
    fn too_many_classes_and_bad_config_are_refused() {
        struct Wide;
        impl Classifier for Wide {
            fn window_samples(&self) -> usize {
                10
            }
            fn classes(&self) -> usize {
                MAX_CLASSES + 1
            }
            fn logits(&mut self, _: &[f32], _: &mut [f32]) -> Result<Option<f32>, EngineError> {
                Ok(None)
            }
        }
        assert!(matches!(
            Detector::new(Wide, DetectorConfig::default()),
            Err(DetectorError::Classes(33))
        ));
        let config = DetectorConfig {
            hop_samples: 0,
            ..DetectorConfig::default()
        };
        assert!(matches!(
            Detector::new(Energy, config),
            Err(DetectorError::Config(DetectorConfigError::ZeroHop))
        ));
        let with_policy = DetectorConfig {
            alert: Some(cry_core::alerts::AlertPolicy::default()),
            ..DetectorConfig::default()
        };
        assert!(matches!(
            Detector::new(Energy, with_policy),
            Err(DetectorError::NoCryHead)
        ));
    }
}
