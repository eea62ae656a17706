//! Stream events as JSON lines, and the closing summary line.

use std::io::Write;

use cry_core::contract::SAMPLE_RATE_HZ;

use super::json::{push_f64, push_str};
use crate::stream::decision::{Event, Verdict};
use crate::stream::{Stop, Summary};

/// Writes [`Event`]s as JSON lines through one reused line buffer.
pub struct EventWriter<W: Write> {
    out: W,
    labels: Vec<String>,
    line: String,
    cry_head: bool,
}

impl<W: Write> EventWriter<W> {
    /// A writer to `out` naming classes by `labels` (the model's output order).
    pub fn new(out: W, labels: &[String]) -> Self {
        Self {
            out,
            line: String::with_capacity(256 + labels.len() * 64),
            labels: labels.to_vec(),
            cry_head: false,
        }
    }

    /// For a two-head model: every window line carries `cry_prob` (`null` when gated).
    pub fn with_cry_head(mut self, cry_head: bool) -> Self {
        self.cry_head = cry_head;
        self
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Gives the underlying writer back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn label(&self, index: usize) -> &str {
        self.labels.get(index).map_or("?", String::as_str)
    }

    /// Writes one event as a line.
    pub fn write(&mut self, event: &Event) -> std::io::Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        match event {
            Event::Window(window) => {
                line.push_str("{\"type\":\"window\",\"t\":");
                push_f64(&mut line, window.t, 3);
                match &window.verdict {
                    Verdict::Quiet => {
                        line.push_str(
                            ",\"label\":\"quiet\",\"confidence\":null,\"probs\":null,\"gated\":true,\"rms_dbfs\":",
                        );
                        push_f64(&mut line, window.rms_dbfs, 1);
                        line.push_str(",\"latency_ms\":null");
                        if self.cry_head {
                            line.push_str(",\"cry_prob\":null");
                        }
                    }
                    Verdict::Classified {
                        label,
                        confidence,
                        probabilities,
                        cry_prob,
                        latency_seconds,
                    } => {
                        line.push_str(",\"label\":");
                        push_str(&mut line, self.label(*label));
                        line.push_str(",\"confidence\":");
                        push_f64(&mut line, f64::from(*confidence), 4);
                        line.push_str(",\"probs\":{");
                        for (i, p) in probabilities.iter().enumerate() {
                            if i > 0 {
                                line.push(',');
                            }
                            push_str(&mut line, self.label(i));
                            line.push(':');
                            push_f64(&mut line, f64::from(*p), 4);
                        }
                        line.push_str("},\"gated\":false,\"rms_dbfs\":");
                        push_f64(&mut line, window.rms_dbfs, 1);
                        line.push_str(",\"latency_ms\":");
                        push_f64(&mut line, latency_seconds * 1e3, 3);
                        match cry_prob {
                            Some(p) => {
                                line.push_str(",\"cry_prob\":");
                                push_f64(&mut line, f64::from(*p), 4);
                            }
                            None if self.cry_head => line.push_str(",\"cry_prob\":null"),
                            None => {}
                        }
                    }
                }
                line.push_str(",\"dropped_samples\":");
                push_f64(&mut line, window.dropped_samples as f64, 0);
                line.push_str("}\n");
            }
            Event::Cry {
                seq,
                t,
                label,
                confidence,
                cry_prob,
            } => event_line(
                &mut line,
                ("cry", *seq),
                *t,
                ("label", self.label(*label)),
                ("confidence", f64::from(*confidence), 4),
                cry_prob.map(|p| ("cry_prob", f64::from(p), 4)),
            ),
            Event::Calm {
                seq,
                t,
                after,
                cry_started,
            } => event_line(
                &mut line,
                ("calm", *seq),
                *t,
                ("after", self.label(*after)),
                ("cry_started", *cry_started, 3),
                None,
            ),
        }
        let written = self.out.write_all(line.as_bytes());
        self.line = line;
        written
    }

    /// Writes the closing summary line and flushes.
    pub fn write_summary(&mut self, summary: &Summary, stop: Stop) -> std::io::Result<()> {
        let s = summary;
        let classified = s.windows - s.gated;
        let mean = if classified > 0 {
            s.latency_sum / classified as f64
        } else {
            f64::NAN
        };
        let mut line = String::with_capacity(256);
        line.push_str("{\"type\":\"summary\",\"stopped\":");
        push_str(
            &mut line,
            match stop {
                Stop::EndOfInput => "end_of_input",
                Stop::Interrupted => "interrupted",
            },
        );
        line.push_str(",\"audio_seconds\":");
        push_f64(&mut line, s.samples as f64 / f64::from(SAMPLE_RATE_HZ), 3);
        for (key, value) in [
            ("windows", s.windows),
            ("gated", s.gated),
            ("classified", classified),
            ("cry_events", s.cry_events),
            ("calm_events", s.calm_events),
            ("dropped_samples", s.dropped_samples),
        ] {
            line.push_str(",\"");
            line.push_str(key);
            line.push_str("\":");
            push_f64(&mut line, value as f64, 0);
        }
        line.push_str(",\"latency_ms_mean\":");
        push_f64(&mut line, mean * 1e3, 3);
        line.push_str(",\"latency_ms_max\":");
        push_f64(&mut line, s.latency_max * 1e3, 3);
        line.push_str("}\n");
        self.out.write_all(line.as_bytes())?;
        self.out.flush()
    }
}

/// `{"type":kind,"t":t,text.0:text.1,number.0:number.1[,extra.0:extra.1]}` and a newline,
/// into `line`.
fn event_line(
    line: &mut String,
    (kind, seq): (&str, u64),
    t: f64,
    text: (&str, &str),
    number: (&str, f64, usize),
    extra: Option<(&str, f64, usize)>,
) {
    line.push_str("{\"type\":");
    push_str(line, kind);
    line.push_str(",\"seq\":");
    let _ = std::fmt::Write::write_fmt(line, format_args!("{seq}"));
    line.push_str(",\"t\":");
    push_f64(line, t, 3);
    line.push(',');
    push_str(line, text.0);
    line.push(':');
    push_str(line, text.1);
    line.push(',');
    push_str(line, number.0);
    line.push(':');
    push_f64(line, number.1, number.2);
    if let Some((key, value, decimals)) = extra {
        line.push(',');
        push_str(line, key);
        line.push(':');
        push_f64(line, value, decimals);
    }
    line.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::decision::WindowReport;

    #[test]
    fn events_are_the_documented_json_lines() {
        let labels = ["hungry".to_string(), "tired".to_string()];
        let mut writer = EventWriter::new(Vec::new(), &labels);
        writer
            .write(&Event::Window(WindowReport {
                t: 12.0,
                rms_dbfs: -23.44,
                verdict: Verdict::Classified {
                    label: 0,
                    confidence: 0.8123,
                    probabilities: heapless::Vec::from_slice(&[0.8123, 0.1877]).unwrap(),
                    cry_prob: None,
                    latency_seconds: 0.0612,
                },
                dropped_samples: 0,
            }))
            .unwrap();
        writer
            .write(&Event::Window(WindowReport {
                t: 13.0,
                rms_dbfs: -70.0,
                verdict: Verdict::Quiet,
                dropped_samples: 5,
            }))
            .unwrap();
        writer
            .write(&Event::Cry {
                seq: 7,
                t: 13.0,
                label: 1,
                confidence: 0.831,
                cry_prob: None,
            })
            .unwrap();
        writer
            .write(&Event::Calm {
                seq: 8,
                t: 21.0,
                after: 1,
                cry_started: 13.0,
            })
            .unwrap();
        let text = String::from_utf8(writer.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"type":"window","t":12.000,"label":"hungry","confidence":0.8123,"probs":{"hungry":0.8123,"tired":0.1877},"gated":false,"rms_dbfs":-23.4,"latency_ms":61.200,"dropped_samples":0}"#,
                r#"{"type":"window","t":13.000,"label":"quiet","confidence":null,"probs":null,"gated":true,"rms_dbfs":-70.0,"latency_ms":null,"dropped_samples":5}"#,
                r#"{"type":"cry","seq":7,"t":13.000,"label":"tired","confidence":0.8310}"#,
                r#"{"type":"calm","seq":8,"t":21.000,"after":"tired","cry_started":13.000}"#,
            ]
        );
    }

    #[test]
    fn a_two_head_model_puts_cry_prob_in_every_window_line_and_in_cry_events() {
        let labels = ["hungry".to_string(), "tired".to_string()];
        let mut writer = EventWriter::new(Vec::new(), &labels).with_cry_head(true);
        writer
            .write(&Event::Window(WindowReport {
                t: 3.0,
                rms_dbfs: -20.04,
                verdict: Verdict::Classified {
                    label: 1,
                    confidence: 0.6,
                    probabilities: heapless::Vec::from_slice(&[0.4, 0.6]).unwrap(),
                    cry_prob: Some(0.91234),
                    latency_seconds: 0.05,
                },
                dropped_samples: 0,
            }))
            .unwrap();
        writer
            .write(&Event::Window(WindowReport {
                t: 4.0,
                rms_dbfs: -80.0,
                verdict: Verdict::Quiet,
                dropped_samples: 0,
            }))
            .unwrap();
        writer
            .write(&Event::Cry {
                seq: 0,
                t: 4.0,
                label: 1,
                confidence: 0.6,
                cry_prob: Some(0.875),
            })
            .unwrap();
        let text = String::from_utf8(writer.into_inner()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["cry_prob"], serde_json::json!(0.9123));
        assert!(lines[1]["cry_prob"].is_null());
        assert!(lines[1].as_object().unwrap().contains_key("cry_prob"));
        assert_eq!(lines[2]["cry_prob"], serde_json::json!(0.875));
        assert_eq!(lines[2]["label"], "tired");
    }
}
