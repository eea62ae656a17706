//! What the API's routes take and answer, as types: the handlers serialize these, and the
//! OpenAPI document ([`super::openapi`]) is generated from the same types, so it cannot
//! describe fields the server does not send.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::history::NightSummary;

/// A refused or failed request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, naming the request's problem.
    pub error: String,
    /// The HTTP status again.
    pub code: u16,
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Why it is unavailable (the source stalled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /api/v1/state`. In `serve` (no audio source) the live fields are `null`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitorState {
    /// `stream`, `listen` or `serve`.
    pub mode: &'static str,
    /// Whether a cry is going on (`null` in `serve`).
    pub crying: Option<bool>,
    /// Stream time (s) the cry was confirmed.
    pub since: Option<f64>,
    /// Its Unix time.
    pub since_unix_time: Option<f64>,
    /// The cry's reason.
    pub reason: Option<String>,
    /// The reason's smoothed probability.
    pub reason_prob: Option<f64>,
    /// The last window's cry probability (two-head models).
    pub cry_prob: Option<f64>,
    /// The last window's level in dBFS.
    pub level_dbfs: Option<f64>,
    /// The last window, as `/api/v1/live` sent it.
    #[schema(value_type = Option<Object>)]
    pub last_window: Option<Value>,
    /// The thresholds in force.
    pub thresholds: Thresholds,
    /// The model.
    pub model: ModelInfo,
    /// Seconds since the start.
    pub uptime_s: f64,
    /// Windows scored so far.
    pub windows: u64,
    /// Samples the capture ring had to drop so far.
    pub dropped_samples: u64,
    /// Until when pushes are suspended (Unix time), if they are.
    pub suspended_until: Option<f64>,
}

/// The thresholds in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct Thresholds {
    /// A window is a cry window from this cry probability on (two-head models).
    pub cry_prob: Option<f32>,
    /// Windows below this level (dBFS) are not run through the model (`null` in `serve`).
    pub gate_dbfs: Option<f32>,
}

/// The model served.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    /// Its file name.
    pub name: String,
    /// Its classes (the reasons), in output order.
    pub labels: Vec<String>,
}

/// The query of `GET /api/v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Events after this `seq` (oldest first); without it, the newest `limit`.
    pub after: Option<u64>,
    /// From this Unix time on.
    pub since: Option<f64>,
    /// Before this Unix time.
    pub until: Option<f64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// `GET /api/v1/events`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    /// The events, oldest first: each the MQTT event payload (`event_type` `cry_started`,
    /// `calm`, `alerts_suspended` or `alerts_resumed`, `seq`, `t`, `unix_time`, ...).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
    /// The last event's `seq`: the next page's `after`.
    pub last_seq: Option<u64>,
}

/// The query of `GET /api/v1/nights`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NightsParams {
    /// How many nights (default 7, at most 366).
    pub last: Option<usize>,
}

/// `GET /api/v1/nights`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NightsPage {
    /// The local hours of a night (`--night`), `18-10`.
    pub night_hours: String,
    /// The nights, oldest first; the one in progress last.
    pub nights: Vec<NightSummary>,
}

/// The body of `POST /api/v1/suspend`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// Minutes to silence the pushes for, at most 120; 0 resumes them.
    pub minutes: u32,
}

/// The answer of `POST /api/v1/suspend`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suspension {
    /// When the pushes come back (Unix time); `null` when resumed.
    pub until: Option<f64>,
    /// As requested.
    pub minutes: u32,
}

/// `POST /api/v1/classify` as a multipart form.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Only its schema is used: the handler reads the form field by field.
pub struct Upload {
    /// The audio file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}
