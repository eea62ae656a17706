//! What an exported model carries about itself (ONNX `metadata_props`), and the names of its
//! input and output tensors. `host-train export` writes these; `edge-infer` reads and checks
//! them before it trusts a model.

use std::collections::BTreeMap;

use crate::alerts::AlertPolicy;
use crate::contract::{HOP_SAMPLES, LEGACY_HOP_SAMPLES, SAMPLE_RATE_HZ, WINDOW_SAMPLES};

/// Name of the model's input: f32 `[1, window_samples]` of raw 16 kHz audio in [-1, 1]
/// (normalised inside the graph when the model was trained that way).
pub const INPUT_NAME: &str = "audio";

/// Name of the model's output: f32 `[1, classes]` logits in label order.
pub const OUTPUT_NAME: &str = "logits";

/// Name of a two-head model's second output: f32 `[1, 1]`, the logit of "this window holds a
/// cry" (its sigmoid is the cry probability). Models without it are reason-only.
pub const CRY_OUTPUT_NAME: &str = "cry_logit";

/// `metadata_props` keys.
pub mod keys {
    /// JSON array of class names in output order.
    pub const LABELS: &str = "cry.labels";
    /// Sample rate of the input in Hz.
    pub const SAMPLE_RATE: &str = "cry.sample_rate";
    /// Input length in samples.
    pub const WINDOW_SAMPLES: &str = "cry.window_samples";
    /// Advance between scoring windows in samples: the hop the alert policy was chosen at and
    /// the clip score averages over (absent in models exported before it was stored:
    /// [`LEGACY_HOP_SAMPLES`](crate::contract::LEGACY_HOP_SAMPLES)).
    pub const HOP_SAMPLES: &str = "cry.hop_samples";
    /// `true` when the graph normalises each window to zero mean and unit variance.
    pub const NORMALIZE: &str = "cry.normalize";
    /// BLAKE3 of the source checkpoint's `config.json` and weights.
    pub const CHECKPOINT_HASH: &str = "cry.checkpoint_blake3";
    /// BLAKE3 of the nested-CV report that evaluated the model's recipe, when there is one.
    pub const REPORT_HASH: &str = "cry.report_blake3";
    /// `fp32` or `int8-dynamic`.
    pub const QUANTIZATION: &str = "cry.quantization";
    /// True when the weights started from random initialisation, not pretraining.
    pub const RANDOM_INIT: &str = "cry.random_init";
    /// The band (Hz) every input was limited to in training; the edge applies the same
    /// low-pass before the model. Absent: full band.
    pub const BANDWIDTH: &str = "cry.bandwidth_hz";
    /// Cry probability at which a window is a cry window (two-head models).
    pub const ALERT_THRESHOLD: &str = "cry.alert.threshold";
    /// Hysteresis: the level a cry window's successor may drop to and stay a cry window.
    pub const ALERT_RELEASE: &str = "cry.alert.release";
    /// Consecutive cry windows before a cry alert.
    pub const ALERT_DEBOUNCE: &str = "cry.alert.debounce";
    /// Consecutive non-cry windows before calm.
    pub const ALERT_CALM_WINDOWS: &str = "cry.alert.calm_windows";
    /// Cry windows the reason is averaged over.
    pub const ALERT_SMOOTHING: &str = "cry.alert.smoothing";
    /// What the stored threshold was chosen for: false alarms per hour of non-cry audio.
    pub const ALERT_TARGET: &str = "cry.alert.max_false_alarms_per_hour";

    /// Keys of the alert policy: all present (a two-head model) or none.
    pub const ALERT: [&str; 5] = [
        ALERT_THRESHOLD,
        ALERT_RELEASE,
        ALERT_DEBOUNCE,
        ALERT_CALM_WINDOWS,
        ALERT_SMOOTHING,
    ];

    /// Keys every model must carry.
    pub const REQUIRED: [&str; 6] = [
        LABELS,
        SAMPLE_RATE,
        WINDOW_SAMPLES,
        NORMALIZE,
        CHECKPOINT_HASH,
        QUANTIZATION,
    ];
}

/// A metadata problem.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetadataError {
    /// A required key is absent.
    #[error("model metadata lacks `{0}`")]
    Missing(&'static str),
    /// A value does not parse.
    #[error("model metadata `{key}` = `{value}`: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
        /// Why it is unusable.
        reason: String,
    },
}

/// The metadata of an exported model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMetadata {
    /// Class names in output order.
    pub labels: Vec<String>,
    /// Input sample rate in Hz.
    pub sample_rate: u32,
    /// Input length in samples.
    pub window_samples: usize,
    /// Advance between scoring and streamed windows in samples (`1..=window_samples`).
    pub hop_samples: usize,
    /// Whether the graph normalises its input.
    pub normalize: bool,
    /// BLAKE3 of the source checkpoint.
    pub checkpoint_hash: String,
    /// BLAKE3 of the evaluating report.
    pub report_hash: Option<String>,
    /// `fp32` or `int8-dynamic`.
    pub quantization: String,
    /// Started from random weights.
    pub random_init: bool,
    /// The band every input is limited to before the model, Hz.
    pub bandwidth_hz: Option<f32>,
    /// The cry head's alert policy: present exactly when the graph has [`CRY_OUTPUT_NAME`].
    pub alert: Option<AlertPolicy>,
    /// The false-alarm rate (per hour) the threshold was chosen for, when it was chosen.
    pub alert_target: Option<f64>,
}

impl ModelMetadata {
    /// Metadata for the project's contract window and rate.
    pub fn new(labels: Vec<String>, normalize: bool, checkpoint_hash: String) -> Self {
        Self {
            labels,
            sample_rate: SAMPLE_RATE_HZ,
            window_samples: WINDOW_SAMPLES,
            hop_samples: HOP_SAMPLES,
            normalize,
            checkpoint_hash,
            report_hash: None,
            quantization: "fp32".into(),
            random_init: false,
            bandwidth_hz: None,
            alert: None,
            alert_target: None,
        }
    }

    /// Sets the window (samples), and keeps the hop no longer than it: a model exported for a
    /// shorter window streams every window, leaving no audio unseen.
    pub fn set_window(&mut self, window_samples: usize) {
        self.window_samples = window_samples;
        self.hop_samples = self.hop_samples.min(window_samples);
    }

    /// The `(key, value)` pairs to store, sorted by key.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let labels = format!(
            "[{}]",
            self.labels
                .iter()
                .map(|l| json_string(l))
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut pairs = BTreeMap::new();
        pairs.insert(keys::LABELS, labels);
        pairs.insert(keys::SAMPLE_RATE, self.sample_rate.to_string());
        pairs.insert(keys::WINDOW_SAMPLES, self.window_samples.to_string());
        pairs.insert(keys::HOP_SAMPLES, self.hop_samples.to_string());
        pairs.insert(keys::NORMALIZE, self.normalize.to_string());
        pairs.insert(keys::CHECKPOINT_HASH, self.checkpoint_hash.clone());
        pairs.insert(keys::QUANTIZATION, self.quantization.clone());
        pairs.insert(keys::RANDOM_INIT, self.random_init.to_string());
        if let Some(h) = &self.report_hash {
            pairs.insert(keys::REPORT_HASH, h.clone());
        }
        if let Some(hz) = self.bandwidth_hz {
            pairs.insert(keys::BANDWIDTH, hz.to_string());
        }
        if let Some(p) = &self.alert {
            pairs.insert(keys::ALERT_THRESHOLD, p.threshold.to_string());
            pairs.insert(keys::ALERT_RELEASE, p.release.to_string());
            pairs.insert(keys::ALERT_DEBOUNCE, p.debounce.to_string());
            pairs.insert(keys::ALERT_CALM_WINDOWS, p.calm_windows.to_string());
            pairs.insert(keys::ALERT_SMOOTHING, p.smoothing.to_string());
        }
        if let Some(target) = self.alert_target {
            pairs.insert(keys::ALERT_TARGET, target.to_string());
        }
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Reads metadata from `(key, value)` pairs; unknown keys are ignored.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, MetadataError> {
        let map: BTreeMap<&str, &str> = pairs.into_iter().collect();
        let get = |key: &'static str| map.get(key).copied().ok_or(MetadataError::Missing(key));
        let invalid = |key: &'static str, value: &str, reason: String| MetadataError::Invalid {
            key,
            value: value.to_string(),
            reason,
        };
        let labels_text = get(keys::LABELS)?;
        let labels = parse_string_array(labels_text)
            .map_err(|reason| invalid(keys::LABELS, labels_text, reason))?;
        if labels.is_empty() {
            return Err(invalid(keys::LABELS, labels_text, "no classes".into()));
        }
        let number = |key: &'static str| -> Result<usize, MetadataError> {
            let v = get(key)?;
            v.parse::<usize>()
                .map_err(|e| invalid(key, v, e.to_string()))
        };
        let flag = |key: &'static str, v: &str| -> Result<bool, MetadataError> {
            v.parse::<bool>()
                .map_err(|e| invalid(key, v, e.to_string()))
        };
        let sample_rate = number(keys::SAMPLE_RATE)?;
        let real = |key: &'static str| -> Result<Option<f64>, MetadataError> {
            map.get(key)
                .map(|v| match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    Ok(_) => Err(invalid(key, v, "not a finite number".into())),
                    Err(e) => Err(invalid(key, v, e.to_string())),
                })
                .transpose()
        };
        let bandwidth_hz = real(keys::BANDWIDTH)?.map(|hz| hz as f32);
        let present: Vec<&str> = keys::ALERT
            .iter()
            .copied()
            .filter(|k| map.contains_key(k))
            .collect();
        let alert = if present.is_empty() {
            None
        } else {
            let missing = keys::ALERT
                .iter()
                .copied()
                .find(|k| !map.contains_key(k))
                .map(MetadataError::Missing);
            if let Some(missing) = missing {
                return Err(missing);
            }
            let policy = AlertPolicy {
                threshold: real(keys::ALERT_THRESHOLD)?.unwrap_or_default() as f32,
                release: real(keys::ALERT_RELEASE)?.unwrap_or_default() as f32,
                debounce: number(keys::ALERT_DEBOUNCE)?,
                calm_windows: number(keys::ALERT_CALM_WINDOWS)?,
                smoothing: number(keys::ALERT_SMOOTHING)?,
            };
            policy.validate().map_err(|e| {
                invalid(
                    keys::ALERT_THRESHOLD,
                    map.get(keys::ALERT_THRESHOLD).copied().unwrap_or_default(),
                    e.to_string(),
                )
            })?;
            Some(policy)
        };
        let alert_target = real(keys::ALERT_TARGET)?;
        let window_samples = number(keys::WINDOW_SAMPLES)?;
        let hop_samples = match map.get(keys::HOP_SAMPLES) {
            None => LEGACY_HOP_SAMPLES,
            Some(v) => match v.parse::<usize>() {
                Ok(hop) if (1..=window_samples.max(1)).contains(&hop) => hop,
                Ok(_) => {
                    return Err(invalid(
                        keys::HOP_SAMPLES,
                        v,
                        format!("not in 1..={window_samples} (the window)"),
                    ));
                }
                Err(e) => return Err(invalid(keys::HOP_SAMPLES, v, e.to_string())),
            },
        };
        Ok(Self {
            labels,
            sample_rate: u32::try_from(sample_rate)
                .map_err(|e| invalid(keys::SAMPLE_RATE, &sample_rate.to_string(), e.to_string()))?,
            window_samples,
            hop_samples,
            normalize: flag(keys::NORMALIZE, get(keys::NORMALIZE)?)?,
            checkpoint_hash: get(keys::CHECKPOINT_HASH)?.to_string(),
            report_hash: map.get(keys::REPORT_HASH).map(|s| s.to_string()),
            quantization: get(keys::QUANTIZATION)?.to_string(),
            random_init: match map.get(keys::RANDOM_INIT) {
                Some(v) => flag(keys::RANDOM_INIT, v)?,
                None => false,
            },
            bandwidth_hz,
            alert,
            alert_target,
        })
    }
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses a JSON array of strings (the subset [`json_string`] writes, plus whitespace and the
/// common escapes).
fn parse_string_array(text: &str) -> Result<Vec<String>, String> {
    let mut chars = text.trim().chars().peekable();
    if chars.next() != Some('[') {
        return Err("expected a JSON array".into());
    }
    let mut out = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            Some(']') if out.is_empty() => break,
            Some('"') => {}
            _ => return Err("expected a string".into()),
        }
        let mut s = String::new();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    Some('/') => s.push('/'),
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                        let code = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or("bad \\u escape")?;
                        s.push(code);
                    }
                    _ => return Err("bad escape".into()),
                },
                Some(c) => s.push(c),
                None => return Err("unterminated string".into()),
            }
        }
        out.push(s);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            Some(',') => continue,
            Some(']') => break,
            _ => return Err("expected , or ]".into()),
        }
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err("text after the array".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModelMetadata {
        let mut m = ModelMetadata::new(
            vec!["belly_pain".into(), "say \"hi\"\\".into(), "tired".into()],
            true,
            "abc".into(),
        );
        m.report_hash = Some("def".into());
        m.random_init = true;
        m
    }

    /// Reads `pairs` back, without `drop` and with `key` set to `value`.
    fn read_edited(
        pairs: &[(String, String)],
        drop: Option<&str>,
        set: Option<(&str, &str)>,
    ) -> Result<ModelMetadata, MetadataError> {
        ModelMetadata::from_pairs(pairs.iter().filter(|(k, _)| Some(k.as_str()) != drop).map(
            |(k, v)| match set {
                Some((key, value)) if k == key => (k.as_str(), value),
                _ => (k.as_str(), v.as_str()),
            },
        ))
    }

    fn two_head() -> ModelMetadata {
        let mut m = sample();
        m.bandwidth_hz = Some(4000.0);
        m.alert = Some(AlertPolicy {
            threshold: 0.62,
            release: 0.5,
            debounce: 2,
            calm_windows: 4,
            smoothing: 3,
        });
        m.alert_target = Some(1.0);
        m
    }

    #[test]
    fn the_alert_policy_and_bandwidth_round_trip_and_are_all_or_nothing() {
        let m = two_head();
        let pairs = m.to_pairs();
        let back =
            ModelMetadata::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(back, m);
        // A reason-only model's metadata has none of the keys.
        let plain = sample().to_pairs();
        assert!(
            plain
                .iter()
                .all(|(k, _)| !keys::ALERT.contains(&k.as_str()))
        );
        for key in keys::ALERT {
            assert_eq!(
                read_edited(&pairs, Some(key), None),
                Err(MetadataError::Missing(key))
            );
        }
        let err = read_edited(&pairs, None, Some((keys::ALERT_RELEASE, "0.9"))).unwrap_err();
        assert!(err.to_string().contains("release"), "{err}");
        assert!(read_edited(&pairs, None, Some((keys::BANDWIDTH, "NaN"))).is_err());
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let pairs = m.to_pairs();
        let back =
            ModelMetadata::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(back, m);
        let parsed = parse_string_array(r#" [ "a" , "b\u0041" ] "#).unwrap();
        assert_eq!(parsed, ["a", "bA"]);
    }

    #[test]
    fn missing_and_invalid_keys_are_named() {
        let pairs = sample().to_pairs();
        for key in keys::REQUIRED {
            assert_eq!(
                read_edited(&pairs, Some(key), None),
                Err(MetadataError::Missing(key))
            );
        }
        let bad = read_edited(&pairs, None, Some((keys::WINDOW_SAMPLES, "three seconds")));
        let err = bad.unwrap_err();
        assert!(err.to_string().contains(keys::WINDOW_SAMPLES), "{err}");
        assert!(parse_string_array("[\"a\"").is_err());
        assert!(parse_string_array("[\"a\"] x").is_err());
    }

    #[test]
    fn the_hop_is_stored_and_old_models_keep_the_one_second_hop() {
        let pairs = two_head().to_pairs();
        assert!(pairs.contains(&(keys::HOP_SAMPLES.to_string(), HOP_SAMPLES.to_string())));
        let legacy = read_edited(&pairs, Some(keys::HOP_SAMPLES), None).unwrap();
        assert_eq!(legacy.hop_samples, LEGACY_HOP_SAMPLES);
        let mut short = two_head();
        short.set_window(16_000);
        assert_eq!((short.window_samples, short.hop_samples), (16_000, 16_000));
        let other = read_edited(&pairs, None, Some((keys::HOP_SAMPLES, "8000"))).unwrap();
        assert_eq!(other.hop_samples, 8000);
        for bad in ["0", "48001", "-1", "2s"] {
            let err = read_edited(&pairs, None, Some((keys::HOP_SAMPLES, bad))).unwrap_err();
            assert!(err.to_string().contains(keys::HOP_SAMPLES), "{err}");
        }
    }
}
