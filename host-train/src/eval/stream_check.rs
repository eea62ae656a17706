//! The end-to-end check of the edge stream: held-out clips laid end to end into one recording
//! ([`Truth`] says which span is which clip), streamed through `edge-infer stream`, and the
//! `cry`/`calm` events it printed counted against the truth ([`check`]).
//!
//! Definitions (also printed with the figures):
//! - An alert is a `cry` event at `t`; its window is `[t - window, t]`. It is **true** when that
//!   window overlaps a cry clip, otherwise a **false alarm**, charged to the clip under the
//!   window's midpoint.
//! - An alert lasts from its `cry` event to the next `calm` (or the end of the recording).
//! - A cry clip, or an **episode** (a run of adjacent cry clips), is **alerted** when an alert
//!   lasts into `[start, end + window)`: the span in which windows still hold some of it.
//! - An episode's **latency** is from its start to the first alert raised inside that span;
//!   an episode that starts while an earlier alert still lasts is counted as alerted already.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Layout version of [`Truth`].
pub const TRUTH_SCHEMA: &str = "cry-held-out-recording/1";

/// What a recording made of held-out clips contains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Layout version.
    pub schema: String,
    /// The run and outer fold the clips are held out of.
    pub run: String,
    /// Outer fold (0-based).
    pub outer_fold: usize,
    /// Sample rate of the recording in Hz.
    pub sample_rate: u32,
    /// Length of the recording, seconds.
    pub seconds: f64,
    /// The clips in recording order.
    pub segments: Vec<Segment>,
}

/// One clip's span in the recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// The clip's path as the run lists it.
    pub path: String,
    /// Its class in the run.
    pub label: String,
    /// Whether it is a cry (any class but `not_cry`).
    pub cry: bool,
    /// The dataset it comes from (the first part of its path when the run had several roots).
    pub source: String,
}

/// A `cry` or `calm` event of `edge-infer stream`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StreamEvent {
    /// A cry alert raised at `t` (seconds, the end of the window that raised it).
    Cry(f64),
    /// The alert ended at `t`.
    Calm(f64),
}

/// A line of the event stream that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct EventLineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// The `cry` and `calm` events of `edge-infer stream`'s JSON lines, in order (window lines and
/// other kinds are passed over).
pub fn parse_events(text: &str) -> Result<Vec<StreamEvent>, EventLineError> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |reason: String| EventLineError {
            line: i + 1,
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| error(format!("not JSON: {e}")))?;
        let kind = value.get("type").and_then(|k| k.as_str());
        if !matches!(kind, Some("cry" | "calm")) {
            continue;
        }
        let t = value
            .get("t")
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| error("a cry or calm event without a number `t`".into()))?;
        events.push(match kind {
            Some("cry") => StreamEvent::Cry(t),
            _ => StreamEvent::Calm(t),
        });
    }
    Ok(events)
}

/// Cry clips and false alarms of one source dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceCheck {
    /// The source.
    pub source: String,
    /// Its cry clips.
    pub cry_clips: usize,
    /// Those alerted.
    pub cry_clips_alerted: usize,
    /// Its non-cry clips.
    pub non_cry_clips: usize,
    /// Their length, seconds.
    pub non_cry_seconds: f64,
    /// False alarms charged to its non-cry clips.
    pub false_alarms: usize,
}

/// The alerts of a stream counted against the truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamCheck {
    /// Window length the events were computed with, seconds.
    pub window_seconds: f64,
    /// Length of the recording, seconds.
    pub seconds: f64,
    /// Cry audio, seconds.
    pub cry_seconds: f64,
    /// Non-cry audio, seconds.
    pub non_cry_seconds: f64,
    /// `cry` events.
    pub alerts: usize,
    /// Those whose window overlaps a cry.
    pub true_alerts: usize,
    /// Those whose window holds no cry.
    pub false_alarms: usize,
    /// False alarms per hour of non-cry audio (`None` without non-cry audio).
    pub false_alarms_per_hour: Option<f64>,
    /// `calm` events.
    pub calms: usize,
    /// Cry clips.
    pub cry_clips: usize,
    /// Cry clips alerted.
    pub cry_clips_alerted: usize,
    /// Episodes (runs of adjacent cry clips).
    pub episodes: usize,
    /// Episodes alerted by an alert raised inside them.
    pub episodes_alerted: usize,
    /// Episodes that started while an earlier alert still lasted.
    pub episodes_already_alerting: usize,
    /// Seconds from each episode's start to its alert (episodes alerted by an alert raised
    /// inside them), in recording order.
    pub latencies: Vec<f64>,
    /// Per source dataset, in name order.
    pub by_source: Vec<SourceCheck>,
}

/// Counts `events` against `truth` (see the module documentation for the definitions).
pub fn check(truth: &Truth, events: &[StreamEvent], window_seconds: f64) -> StreamCheck {
    // Alert spans: from each cry event to the next calm (a cry while one lasts is not expected
    // from the decision logic, but would simply start a new span).
    let mut spans: Vec<(f64, f64)> = Vec::new();
    let mut open: Option<f64> = None;
    for event in events {
        match *event {
            StreamEvent::Cry(t) => {
                if let Some(start) = open.replace(t) {
                    spans.push((start, t));
                }
            }
            StreamEvent::Calm(t) => {
                if let Some(start) = open.take() {
                    spans.push((start, t));
                }
            }
        }
    }
    if let Some(start) = open {
        spans.push((start, truth.seconds.max(start)));
    }
    let raised: Vec<f64> = spans.iter().map(|s| s.0).collect();
    let lasts_into = |from: f64, to: f64| spans.iter().any(|&(a, b)| a < to && b >= from);

    let segments = &truth.segments;
    let holds_cry = |from: f64, to: f64| {
        segments
            .iter()
            .any(|s| s.cry && s.start < to && s.end > from)
    };
    let mut by_source: BTreeMap<&str, SourceCheck> = BTreeMap::new();
    for s in segments {
        let entry = by_source.entry(&s.source).or_insert_with(|| SourceCheck {
            source: s.source.clone(),
            ..SourceCheck::default()
        });
        if s.cry {
            entry.cry_clips += 1;
            if lasts_into(s.start, s.end + window_seconds) {
                entry.cry_clips_alerted += 1;
            }
        } else {
            entry.non_cry_clips += 1;
            entry.non_cry_seconds += s.end - s.start;
        }
    }

    let mut false_alarms = 0;
    for &t in &raised {
        if holds_cry(t - window_seconds, t) {
            continue;
        }
        false_alarms += 1;
        let mid = t - window_seconds / 2.0;
        let charged = segments
            .iter()
            .find(|s| s.start <= mid && mid < s.end)
            .or_else(|| segments.last());
        if let Some(s) = charged {
            if let Some(entry) = by_source.get_mut(s.source.as_str()) {
                entry.false_alarms += 1;
            }
        }
    }

    let mut episodes: Vec<(f64, f64)> = Vec::new();
    for s in segments.iter().filter(|s| s.cry) {
        match episodes.last_mut() {
            Some((_, end)) if (*end - s.start).abs() < 1e-9 => *end = s.end,
            _ => episodes.push((s.start, s.end)),
        }
    }
    let (mut episodes_alerted, mut episodes_already_alerting) = (0, 0);
    let mut latencies = Vec::new();
    for &(start, end) in &episodes {
        let reach = end + window_seconds;
        if spans.iter().any(|&(a, b)| a < start && b >= start) {
            episodes_already_alerting += 1;
        } else if let Some(&t) = raised.iter().find(|&&t| t >= start && t < reach) {
            episodes_alerted += 1;
            latencies.push(t - start);
        }
    }

    let cry_seconds: f64 = segments
        .iter()
        .filter(|s| s.cry)
        .map(|s| s.end - s.start)
        .sum();
    let non_cry_seconds: f64 = segments
        .iter()
        .filter(|s| !s.cry)
        .map(|s| s.end - s.start)
        .sum();
    let by_source: Vec<SourceCheck> = by_source.into_values().collect();
    StreamCheck {
        window_seconds,
        seconds: truth.seconds,
        cry_seconds,
        non_cry_seconds,
        alerts: raised.len(),
        true_alerts: raised.len() - false_alarms,
        false_alarms,
        false_alarms_per_hour: (non_cry_seconds > 0.0)
            .then(|| false_alarms as f64 / (non_cry_seconds / 3600.0)),
        calms: events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Calm(_)))
            .count(),
        cry_clips: by_source.iter().map(|s| s.cry_clips).sum(),
        cry_clips_alerted: by_source.iter().map(|s| s.cry_clips_alerted).sum(),
        episodes: episodes.len(),
        episodes_alerted,
        episodes_already_alerting,
        latencies,
        by_source,
    }
}

fn share(part: usize, whole: usize) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!(
            "{part}/{whole} ({:.1} %)",
            100.0 * part as f64 / whole as f64
        )
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

impl StreamCheck {
    /// The figures as markdown: a summary table and one row per source.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let minutes = |s: f64| format!("{:.1} min", s / 60.0);
        let seconds = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.1} s"));
        let max = self.latencies.iter().copied().reduce(f64::max);
        let _ = writeln!(out, "| figure | value |\n|---|---:|");
        let _ = writeln!(
            out,
            "| recording | {} ({} cry, {} other) |",
            minutes(self.seconds),
            minutes(self.cry_seconds),
            minutes(self.non_cry_seconds)
        );
        let _ = writeln!(
            out,
            "| alerts (`cry` events) | {} ({} true, {} false) |",
            self.alerts, self.true_alerts, self.false_alarms
        );
        let _ = writeln!(
            out,
            "| false alarms per hour of non-cry audio | {} |",
            self.false_alarms_per_hour
                .map_or("–".into(), |v| format!("{v:.1}"))
        );
        let _ = writeln!(
            out,
            "| cry clips alerted | {} |",
            share(self.cry_clips_alerted, self.cry_clips)
        );
        let _ = writeln!(
            out,
            "| cry episodes alerted by their own alert | {} |",
            share(self.episodes_alerted, self.episodes)
        );
        let _ = writeln!(
            out,
            "| cry episodes that began while an alert lasted | {} |",
            share(self.episodes_already_alerting, self.episodes)
        );
        let _ = writeln!(
            out,
            "| time from an episode's start to its alert, median / max | {} / {} |",
            seconds(median(&self.latencies)),
            seconds(max)
        );
        let _ = writeln!(out, "| `calm` events | {} |", self.calms);
        let _ = writeln!(
            out,
            "\n| source | cry clips alerted | non-cry clips | false alarms | per hour of its non-cry audio |\n|---|---:|---:|---:|---:|"
        );
        for s in &self.by_source {
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}) | {} | {} |",
                s.source,
                share(s.cry_clips_alerted, s.cry_clips),
                s.non_cry_clips,
                minutes(s.non_cry_seconds),
                s.false_alarms,
                if s.non_cry_seconds > 0.0 {
                    format!(
                        "{:.1}",
                        s.false_alarms as f64 / (s.non_cry_seconds / 3600.0)
                    )
                } else {
                    "–".into()
                }
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, end: f64, cry: bool, source: &str) -> Segment {
        Segment {
            start,
            end,
            path: format!("{source}/{start}.wav"),
            label: if cry { "hungry" } else { "not_cry" }.into(),
            cry,
            source: source.into(),
        }
    }

    fn truth(segments: Vec<Segment>) -> Truth {
        Truth {
            schema: TRUTH_SCHEMA.into(),
            run: "run".into(),
            outer_fold: 0,
            sample_rate: 16_000,
            seconds: segments.last().map_or(0.0, |s| s.end),
            segments,
        }
    }

    #[test]
    fn events_are_read_from_the_stream_lines_and_bad_lines_named() {
        let text = concat!(
            r#"{"type":"window","t":3.000,"label":"quiet"}"#,
            "\n",
            r#"{"type":"cry","t":4.000,"label":"hungry","confidence":0.8}"#,
            "\n\n",
            r#"{"type":"calm","t":9.000,"after":"hungry","cry_started":4.0}"#,
            "\n"
        );
        assert_eq!(
            parse_events(text).unwrap(),
            vec![StreamEvent::Cry(4.0), StreamEvent::Calm(9.0)]
        );
        let err = parse_events("{\"type\":\"cry\"}\nnot json").unwrap_err();
        assert_eq!(err.line, 1, "{err}");
        assert_eq!(parse_events("{}\nnot json").unwrap_err().line, 2);
    }

    #[test]
    fn alerts_are_true_when_their_window_holds_a_cry_and_false_alarms_are_charged_by_source() {
        // noise 0-10 (a), cry 10-15 (b), noise 15-25 (b), cry 25-30 (a)
        let truth = truth(vec![
            seg(0.0, 10.0, false, "a"),
            seg(10.0, 15.0, true, "b"),
            seg(15.0, 25.0, false, "b"),
            seg(25.0, 30.0, true, "a"),
        ]);
        let events = [
            StreamEvent::Cry(5.0), // false alarm inside a's noise
            StreamEvent::Calm(8.0),
            StreamEvent::Cry(12.0), // true: raised 2 s into the first cry
            StreamEvent::Calm(16.5),
            StreamEvent::Cry(17.0), // window 14-17 still holds the cry: true
            StreamEvent::Calm(20.0),
            StreamEvent::Cry(22.0), // window 19-22: false, charged to b's noise
            StreamEvent::Calm(24.0),
        ];
        let c = check(&truth, &events, 3.0);
        assert_eq!((c.alerts, c.true_alerts, c.false_alarms), (4, 2, 2));
        assert_eq!(c.non_cry_seconds, 20.0);
        assert_eq!(c.false_alarms_per_hour, Some(2.0 / (20.0 / 3600.0)));
        assert_eq!((c.cry_clips, c.cry_clips_alerted), (2, 1));
        assert_eq!((c.episodes, c.episodes_alerted), (2, 1));
        assert_eq!(c.latencies, vec![2.0]);
        assert_eq!(c.calms, 4);
        let a = &c.by_source[0];
        let b = &c.by_source[1];
        assert_eq!(
            (a.source.as_str(), a.false_alarms, a.cry_clips_alerted),
            ("a", 1, 0)
        );
        assert_eq!(
            (b.source.as_str(), b.false_alarms, b.cry_clips_alerted),
            ("b", 1, 1)
        );
    }

    #[test]
    fn adjacent_cries_form_one_episode_and_a_lasting_alert_covers_the_next() {
        let truth = truth(vec![
            seg(0.0, 5.0, true, "a"),
            seg(5.0, 10.0, true, "a"),
            seg(10.0, 11.0, false, "a"),
            seg(11.0, 16.0, true, "a"),
            seg(16.0, 40.0, false, "a"),
        ]);
        // Raised at 4 s, lasting until 14 s: the second episode began under it.
        let events = [StreamEvent::Cry(4.0), StreamEvent::Calm(14.0)];
        let c = check(&truth, &events, 3.0);
        assert_eq!(c.episodes, 2);
        assert_eq!((c.episodes_alerted, c.episodes_already_alerting), (1, 1));
        assert_eq!(c.cry_clips_alerted, 3);
        assert_eq!(c.false_alarms, 0);
        // Without events nothing is alerted, and an alert never closed lasts to the end.
        let none = check(&truth, &[], 3.0);
        assert_eq!((none.cry_clips_alerted, none.episodes_alerted), (0, 0));
        // Raised at 12 s from the window 9-12 s: it holds the end of the first episode and the
        // start of the second, so it counts for both.
        let open = check(&truth, &[StreamEvent::Cry(12.0)], 3.0);
        assert_eq!(open.cry_clips_alerted, 2, "the second and third cry clips");
        assert_eq!(open.latencies, vec![12.0, 1.0]);
    }

    #[test]
    fn the_markdown_names_every_source() {
        let truth = truth(vec![seg(0.0, 5.0, true, "x"), seg(5.0, 10.0, false, "y")]);
        let md = check(&truth, &[StreamEvent::Cry(3.0)], 3.0).to_markdown();
        assert!(md.contains("| x | 1/1 (100.0 %) |"), "{md}");
        assert!(md.contains("| y | – | 1 (0.1 min) | 0 |"), "{md}");
    }
}
