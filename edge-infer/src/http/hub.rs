//! The live monitor's side of the HTTP API: the detector's events, as the inference loop hands
//! them over, become the state, the recent past and the messages of `/api/v1/live`.
//!
//! The inference loop calls [`LiveHub::observe`], which holds a mutex for a few field updates
//! and sends to a broadcast channel that never blocks: a client that does not keep up loses its
//! place (it is dropped and counted), never the loop's time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::api::{ModelInfo, MonitorState, Thresholds};
use super::metrics::Metrics;
use crate::alerts::{AlertEvent, AlertKind, SuspensionChange, SuspensionEvent};
use crate::clock::unix_now;
use crate::output::json::round;
use crate::stream::decision::{Verdict, WindowReport};

/// Seconds of windows a new live client receives first.
pub const BACKLOG_SECONDS: f64 = 600.0;
/// `/healthz` fails when the loop produced no window for this long.
pub const STALL: Duration = Duration::from_secs(10);
/// Messages a live client may fall behind by before it is dropped.
pub const CLIENT_LAG: usize = 256;

/// One message of `/api/v1/live`: its SSE event name and JSON data.
#[derive(Debug, Clone)]
pub struct Message {
    /// `window`, `event` or `suspend`.
    pub kind: &'static str,
    /// The JSON payload.
    pub data: Arc<str>,
}

/// What the state reports about the model and the detector.
#[derive(Debug, Clone)]
pub struct LiveInfo {
    /// `stream` or `listen`.
    pub mode: &'static str,
    /// The model file's name.
    pub model: String,
    /// The class names in output order.
    pub labels: Vec<String>,
    /// Two-head models: the cry threshold in force.
    pub cry_threshold: Option<f32>,
    /// The energy gate in dBFS.
    pub gate_dbfs: f32,
}

#[derive(Debug, Clone)]
struct Crying {
    since: f64,
    since_unix: f64,
    reason: String,
    confidence: f32,
}

#[derive(Debug, Default)]
struct Live {
    crying: Option<Crying>,
    last_window: Option<Value>,
    last_at: Option<Instant>,
    cry_prob: Option<f32>,
    level_dbfs: Option<f64>,
    windows: u64,
    dropped_samples: u64,
    backlog: VecDeque<(f64, Message)>,
    suspended_until: Option<f64>,
    /// Suspensions and resumptions requested and not yet recorded, with their Unix time.
    pending: VecDeque<(SuspensionChange, f64)>,
    /// Stream time of the last window.
    last_t: f64,
}

/// The shared live state of a `stream` or `listen` run.
pub struct LiveHub {
    info: LiveInfo,
    started: Instant,
    metrics: Arc<Metrics>,
    live: Mutex<Live>,
    tx: broadcast::Sender<Message>,
}

impl LiveHub {
    /// A hub for a run with `info`, counting into `metrics`.
    pub fn new(info: LiveInfo, metrics: Arc<Metrics>) -> Arc<Self> {
        let (tx, _) = broadcast::channel(CLIENT_LAG);
        Arc::new(Self {
            info,
            started: Instant::now(),
            metrics,
            live: Mutex::new(Live::default()),
            tx,
        })
    }

    fn label(&self, i: usize) -> String {
        self.info
            .labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| "?".into())
    }

    /// Takes one scored window from the inference loop.
    pub fn window(&self, w: &WindowReport) {
        self.metrics.windows.inc();
        self.metrics
            .dropped_samples
            .set(i64::try_from(w.dropped_samples).unwrap_or(i64::MAX));
        let (cry_prob, label, confidence, probs) = match &w.verdict {
            Verdict::Quiet => (None, None, None, None),
            Verdict::Classified {
                label,
                confidence,
                probabilities,
                cry_prob,
                latency_seconds,
            } => {
                self.metrics.inference_seconds.observe(*latency_seconds);
                let probs: serde_json::Map<String, Value> = probabilities
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (self.label(i), json!(round(f64::from(*p), 4))))
                    .collect();
                (
                    *cry_prob,
                    Some(self.label(*label)),
                    Some(round(f64::from(*confidence), 4)),
                    Some(probs),
                )
            }
        };
        let data = json!({
            "t": round(w.t, 3),
            "unix_time": round(unix_now(), 3),
            "cry_prob": cry_prob.map(|p| round(f64::from(p), 4)),
            "level_dbfs": round(w.rms_dbfs, 1),
            "gated": matches!(w.verdict, Verdict::Quiet),
            "label": label,
            "confidence": confidence,
            "probs": probs,
        });
        let message = Message {
            kind: "window",
            data: data.to_string().into(),
        };
        {
            let mut live = self.live.lock().expect("live state");
            live.windows += 1;
            live.dropped_samples = w.dropped_samples;
            live.last_at = Some(Instant::now());
            live.cry_prob = cry_prob;
            live.level_dbfs = Some(w.rms_dbfs);
            live.last_window = Some(data);
            live.last_t = w.t;
            live.backlog.push_back((w.t, message.clone()));
            while live
                .backlog
                .front()
                .is_some_and(|(t, _)| *t < w.t - BACKLOG_SECONDS)
            {
                live.backlog.pop_front();
            }
        }
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(message);
    }

    /// Takes one cry or calm: its message is the MQTT event payload, `seq` included.
    pub fn alert(&self, alert: &AlertEvent) {
        self.metrics.event(alert.event_type());
        let crying = match &alert.kind {
            AlertKind::CryStarted {
                reason, confidence, ..
            } => Some(Crying {
                since: alert.t,
                since_unix: alert.unix_time,
                reason: reason.clone(),
                confidence: *confidence,
            }),
            AlertKind::Calm { .. } => None,
        };
        self.live.lock().expect("live state").crying = crying;
        let _ = self.tx.send(Message {
            kind: "event",
            data: alert.payload().into(),
        });
    }

    /// Suspends the pushes for `minutes` (0 resumes them): the state says until when, live
    /// clients get a `suspend` message, and the change waits for the inference loop to record
    /// it ([`LiveHub::next_suspension_change`]). Returns the end, or `None` when resumed.
    pub fn suspend(&self, minutes: u32) -> Option<f64> {
        let now = unix_now();
        let until = (minutes > 0).then(|| round(now + f64::from(minutes) * 60.0, 3));
        {
            let mut live = self.live.lock().expect("live state");
            let was_suspended = live.suspended_until.is_some_and(|u| u > now);
            live.suspended_until = until;
            match until {
                Some(until) => live
                    .pending
                    .push_back((SuspensionChange::Suspended { until, minutes }, now)),
                None if was_suspended => live
                    .pending
                    .push_back((SuspensionChange::Resumed { expired: false }, now)),
                None => {}
            }
        }
        let _ = self.tx.send(Message {
            kind: "suspend",
            data: json!({"until": until, "minutes": minutes})
                .to_string()
                .into(),
        });
        until
    }

    /// The next change of the suspension to record, at `now`: one a request made, else the
    /// end of a suspension that ran out (dated when it did), with its Unix time and the stream
    /// time of the last window. The inference loop takes them between its batches of events,
    /// so their numbers follow those of the events before them.
    pub fn next_suspension_change(&self, now: f64) -> Option<(SuspensionChange, f64, f64)> {
        let mut live = self.live.lock().expect("live state");
        if let Some((change, at)) = live.pending.pop_front() {
            return Some((change, at, live.last_t));
        }
        let until = live.suspended_until.filter(|u| *u <= now)?;
        live.suspended_until = None;
        Some((
            SuspensionChange::Resumed { expired: true },
            until,
            live.last_t,
        ))
    }

    /// Takes a recorded suspension or resumption: live clients get it as an `event`.
    pub fn suspension(&self, event: &SuspensionEvent) {
        self.metrics.event(event.event_type());
        let _ = self.tx.send(Message {
            kind: "event",
            data: event.payload().into(),
        });
    }

    /// The metrics it counts into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether the pushes are suspended now.
    pub fn suspended(&self) -> bool {
        self.live
            .lock()
            .expect("live state")
            .suspended_until
            .is_some_and(|u| u > unix_now())
    }

    /// The recent windows and a receiver for what follows, taken together so that nothing is
    /// missed or repeated in between.
    pub fn subscribe(&self) -> (Vec<Message>, broadcast::Receiver<Message>) {
        let live = self.live.lock().expect("live state");
        let backlog = live.backlog.iter().map(|(_, m)| m.clone()).collect();
        (backlog, self.tx.subscribe())
    }

    /// `GET /api/v1/state`.
    pub fn state(&self) -> MonitorState {
        // Read under the lock, without copying the backlog.
        let live = self.live.lock().expect("live state");
        let crying = live.crying.as_ref();
        MonitorState {
            mode: self.info.mode,
            crying: Some(crying.is_some()),
            since: crying.map(|c| round(c.since, 3)),
            since_unix_time: crying.map(|c| round(c.since_unix, 3)),
            reason: crying.map(|c| c.reason.clone()),
            reason_prob: crying.map(|c| round(f64::from(c.confidence), 4)),
            cry_prob: live.cry_prob.map(|p| round(f64::from(p), 4)),
            level_dbfs: live.level_dbfs.map(|l| round(l, 1)),
            last_window: live.last_window.clone(),
            thresholds: Thresholds {
                cry_prob: self.info.cry_threshold,
                gate_dbfs: Some(self.info.gate_dbfs),
            },
            model: ModelInfo {
                name: self.info.model.clone(),
                labels: self.info.labels.clone(),
            },
            uptime_s: round(self.started.elapsed().as_secs_f64(), 1),
            windows: live.windows,
            dropped_samples: live.dropped_samples,
            suspended_until: live.suspended_until.filter(|u| *u > unix_now()),
        }
    }

    /// `Ok` while the loop produced a window within [`STALL`] (or, before the first window,
    /// within [`STALL`] of the start); otherwise why not.
    pub fn health(&self) -> Result<(), String> {
        let last = self.live.lock().expect("live state").last_at;
        let since = last.unwrap_or(self.started).elapsed();
        if since <= STALL {
            Ok(())
        } else {
            Err(format!(
                "no audio window for {:.0} s (the source stalled)",
                since.as_secs_f64()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::decision::WindowReport;

    fn hub() -> Arc<LiveHub> {
        LiveHub::new(
            LiveInfo {
                mode: "stream",
                model: "m.onnx".into(),
                labels: vec!["hungry".into(), "tired".into()],
                cry_threshold: Some(0.5),
                gate_dbfs: -50.0,
            },
            Arc::new(Metrics::new()),
        )
    }

    fn quiet(t: f64) -> WindowReport {
        WindowReport {
            t,
            rms_dbfs: -70.0,
            verdict: Verdict::Quiet,
            dropped_samples: 3,
        }
    }

    fn alert(seq: u64, t: f64, kind: AlertKind) -> AlertEvent {
        AlertEvent {
            seq,
            kind,
            t,
            unix_time: 1_000.0 + t,
        }
    }

    #[test]
    fn events_drive_the_state_and_reach_subscribers_in_order() {
        let hub = hub();
        let (backlog, mut rx) = hub.subscribe();
        assert!(backlog.is_empty());
        hub.window(&quiet(2.0));
        hub.alert(&alert(
            41,
            4.0,
            AlertKind::CryStarted {
                reason: "tired".into(),
                confidence: 0.8,
                cry_prob: Some(0.9),
            },
        ));
        let s = serde_json::to_value(hub.state()).unwrap();
        assert_eq!(s["crying"], true);
        assert_eq!(s["reason"], "tired");
        assert_eq!(s["since"], 4.0);
        assert_eq!(s["windows"], 1);
        assert_eq!(s["dropped_samples"], 3);
        hub.alert(&alert(
            42,
            9.0,
            AlertKind::Calm {
                after: "tired".into(),
                cry_started: 4.0,
            },
        ));
        assert_eq!(serde_json::to_value(hub.state()).unwrap()["crying"], false);
        let messages: Vec<Message> = (0..3).map(|_| rx.try_recv().unwrap()).collect();
        let kinds: Vec<&str> = messages.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, ["window", "event", "event"]);
        let calm: Value = serde_json::from_str(&messages[2].data).unwrap();
        assert_eq!(
            (&calm["event_type"], &calm["seq"], &calm["reason"]),
            (&json!("calm"), &json!(42), &json!("tired")),
            "the MQTT payload, seq included"
        );
        assert!(
            hub.metrics
                .encode()
                .contains("edge_infer_events_total{event_type=\"calm\"} 1")
        );
    }

    #[test]
    fn the_backlog_keeps_ten_minutes_of_windows() {
        let hub = hub();
        for i in 0..400 {
            hub.window(&quiet(f64::from(i) * 2.0));
        }
        let (backlog, _) = hub.subscribe();
        // Windows from t = 798 - 600 = 198 s on: 198, 200, ..., 798.
        assert_eq!(backlog.len(), 301);
        assert!(
            backlog[0].data.contains("\"t\":198.0"),
            "{}",
            backlog[0].data
        );
    }

    #[test]
    fn suspensions_wait_for_the_loop_and_one_that_runs_out_ends_at_its_time() {
        let hub = hub();
        hub.window(&quiet(7.5));
        assert_eq!(hub.next_suspension_change(unix_now()), None);
        assert_eq!(hub.suspend(0), None);
        assert_eq!(
            hub.next_suspension_change(unix_now()),
            None,
            "resuming what was not suspended is no event"
        );
        let until = hub.suspend(10).unwrap();
        assert!(hub.suspended());
        let (change, at, t) = hub.next_suspension_change(unix_now()).unwrap();
        assert_eq!(change, SuspensionChange::Suspended { until, minutes: 10 });
        assert!((until - at - 600.0).abs() < 1.0);
        assert_eq!(t, 7.5, "the last window's stream time");
        assert_eq!(hub.next_suspension_change(unix_now()), None);
        // Ten minutes on, it has run out: an end dated when it did, once.
        let later = until + 1.0;
        assert_eq!(
            hub.next_suspension_change(later),
            Some((SuspensionChange::Resumed { expired: true }, until, 7.5))
        );
        assert_eq!(hub.next_suspension_change(later), None);
        // A request that ends one early.
        hub.suspend(5);
        hub.suspend(0);
        let kinds: Vec<SuspensionChange> =
            std::iter::from_fn(|| hub.next_suspension_change(unix_now()))
                .map(|(change, _, _)| change)
                .collect();
        assert!(matches!(
            kinds[..],
            [
                SuspensionChange::Suspended { minutes: 5, .. },
                SuspensionChange::Resumed { expired: false }
            ]
        ));
        assert!(!hub.suspended());
    }

    #[test]
    fn a_client_that_falls_behind_is_told_so() {
        let hub = hub();
        let (_, mut rx) = hub.subscribe();
        for i in 0..(CLIENT_LAG + 10) {
            hub.window(&quiet(i as f64));
        }
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
    }
}
