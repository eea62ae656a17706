//! Alerts suspended and resumed (`POST /api/v1/suspend`, or a suspension running out): events
//! of the history and the live stream, numbered among the cries and calms, that silence the
//! pushes (webhooks, the page's notifications) and nothing else.

use serde_json::json;

use super::topics::event_head;
use crate::output::json::round;

/// `event_type` of a suspension.
pub const ALERTS_SUSPENDED: &str = "alerts_suspended";
/// `event_type` of its end.
pub const ALERTS_RESUMED: &str = "alerts_resumed";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SuspensionChange {
    /// Pushes are silenced until `until` (Unix time), `minutes` after the request.
    Suspended {
        /// When they come back, in Unix seconds.
        until: f64,
        /// As requested.
        minutes: u32,
    },
    /// Pushes are back.
    Resumed {
        /// The suspension ran out (else a request ended it).
        expired: bool,
    },
}

/// One suspension or its end, as the history and `/api/v1/live` carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspensionEvent {
    /// Its number, from the sequence the detector's events take theirs from.
    pub seq: u64,
    /// What changed.
    pub change: SuspensionChange,
    /// Stream time (seconds) of the last window before it.
    pub t: f64,
    /// When it was recorded, in Unix seconds.
    pub unix_time: f64,
}

impl SuspensionEvent {
    /// `alerts_suspended` or `alerts_resumed`.
    pub fn event_type(&self) -> &'static str {
        match self.change {
            SuspensionChange::Suspended { .. } => ALERTS_SUSPENDED,
            SuspensionChange::Resumed { .. } => ALERTS_RESUMED,
        }
    }

    /// The JSON payload, shaped like a cry's (`event_type`, `seq`, `t`, `unix_time`).
    pub fn payload(&self) -> String {
        let mut v = event_head(self.event_type(), self.seq, self.t, self.unix_time);
        match self.change {
            SuspensionChange::Suspended { until, minutes } => {
                v["until"] = json!(round(until, 3));
                v["minutes"] = json!(minutes);
            }
            SuspensionChange::Resumed { expired } => v["expired"] = json!(expired),
        }
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_say_what_changed_and_carry_their_seq() {
        let suspended = SuspensionEvent {
            seq: 7,
            change: SuspensionChange::Suspended {
                until: 1_700_000_600.0,
                minutes: 10,
            },
            t: 12.3456,
            unix_time: 1_700_000_000.0,
        };
        let v: serde_json::Value = serde_json::from_str(&suspended.payload()).unwrap();
        assert_eq!(v["event_type"], "alerts_suspended");
        assert_eq!(
            (v["seq"].as_u64(), v["minutes"].as_u64()),
            (Some(7), Some(10))
        );
        assert_eq!(
            (v["until"].as_f64(), v["t"].as_f64()),
            (Some(1_700_000_600.0), Some(12.346))
        );
        let resumed = SuspensionEvent {
            seq: 8,
            change: SuspensionChange::Resumed { expired: true },
            ..suspended
        };
        let v: serde_json::Value = serde_json::from_str(&resumed.payload()).unwrap();
        assert_eq!(
            (v["event_type"].as_str(), v["expired"].as_bool()),
            (Some("alerts_resumed"), Some(true))
        );
    }
}
