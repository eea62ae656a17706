//! The HTTP API of the monitor (`--http` on `stream` and `listen`) and of `serve`: live state,
//! the live stream of windows and events (SSE), classification of uploads, health and metrics.
//!
//! - [`api`]: what each route takes and answers, as types; [`openapi`]: the document
//!   generated from them and the handlers (`GET /api/v1/openapi.json`).
//! - [`config`]: the address, the token (never on the command line, never logged, compared in
//!   constant time) and the limits, validated: a non-loopback address needs a token.
//! - [`hub`]: the detector's events, handed over by the inference loop through the same sink
//!   as MQTT, become the live state and messages.
//! - [`metrics`]: Prometheus text.
//! - [`page`]: the live page (`GET /`) and its login form, embedded in the binary.
//! - [`server`]: axum on a runtime of its own thread.

pub mod api;
pub mod config;
pub mod hub;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod server;

pub use config::{HttpConfig, HttpConfigError, TOKEN_ENV, Token};
pub use hub::{LiveHub, LiveInfo};
pub use metrics::Metrics;
pub use server::{Classify, HttpServer, ServerError};
