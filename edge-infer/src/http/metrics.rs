//! `/metrics`: the monitor's counters in Prometheus text format (prometheus-client).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// An HTTP request's route and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's pattern (`/api/v1/state`), or `unmatched`.
    pub route: String,
    /// The status code.
    pub status: String,
}

/// A cry event's type.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// `cry_started` or `calm`.
    pub event_type: String,
}

/// An alert sink: `mqtt`, or `webhook1`, `webhook2`, ... in `--webhook` order (not the URL,
/// which may carry a secret).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    /// The sink's name.
    pub sink: String,
}

/// One alert sink's counts, as `/metrics` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Events the receiver accepted.
    pub delivered: u64,
    /// Events waiting in the sink's outbox.
    pub queued: u64,
    /// Events the full outbox could not take.
    pub overflowed: u64,
    /// Events refused for good (webhooks: a 4xx).
    pub refused: u64,
}

/// Every metric the monitor exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Windows the detector considered.
    pub windows: Counter,
    /// The model's latency per classified window, in seconds.
    pub inference_seconds: Histogram,
    /// Samples the capture ring dropped since the start.
    pub dropped_samples: Gauge,
    /// Cry and calm events.
    pub events: Family<EventLabels, Counter>,
    /// HTTP requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Clients on `/api/v1/live`.
    pub sse_clients: Gauge,
    /// Live clients dropped for not keeping up.
    pub sse_dropped: Counter,
    /// Time to classify an upload, in seconds (decoding included).
    pub classify_seconds: Histogram,
    /// Per alert sink: delivered, queued, overflowed and refused events.
    sinks: [Family<SinkLabels, Gauge>; 4],
}

impl Metrics {
    /// The metrics, registered under `edge_infer_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("edge_infer");
        let m = Self {
            registry: Mutex::new(Registry::default()),
            windows: Counter::default(),
            inference_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            dropped_samples: Gauge::default(),
            events: Family::default(),
            requests: Family::default(),
            sse_clients: Gauge::default(),
            sse_dropped: Counter::default(),
            classify_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 12)),
            sinks: Default::default(),
        };
        for (family, (name, help)) in m.sinks.iter().zip([
            (
                "alerts_delivered",
                "Alert events the sink's receiver accepted",
            ),
            ("alerts_queued", "Alert events waiting in the sink's outbox"),
            (
                "alerts_overflowed",
                "Alert events the sink's full outbox could not take",
            ),
            (
                "alerts_refused",
                "Alert events the receiver refused for good (a webhook's 4xx)",
            ),
        ]) {
            registry.register(name, help, family.clone());
        }
        registry.register(
            "windows",
            "Windows the detector considered",
            m.windows.clone(),
        );
        registry.register(
            "inference_seconds",
            "Model latency per classified window",
            m.inference_seconds.clone(),
        );
        registry.register(
            "dropped_samples",
            "Samples the capture ring dropped since the start",
            m.dropped_samples.clone(),
        );
        registry.register(
            "events",
            "Events by type: cry_started, calm, alerts_suspended, alerts_resumed",
            m.events.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            m.requests.clone(),
        );
        registry.register(
            "sse_clients",
            "Clients on /api/v1/live",
            m.sse_clients.clone(),
        );
        registry.register(
            "sse_dropped_clients",
            "Live clients dropped for not keeping up",
            m.sse_dropped.clone(),
        );
        registry.register(
            "classify_seconds",
            "Time to classify an upload, decoding included",
            m.classify_seconds.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        *m.registry.lock().expect("metrics registry") = registry;
        m
    }

    /// Counts an HTTP request.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
    }

    /// Counts a cry or calm event.
    pub fn event(&self, event_type: &str) {
        self.events
            .get_or_create(&EventLabels {
                event_type: event_type.to_string(),
            })
            .inc();
    }

    /// Sets an alert sink's counts.
    pub fn sink(&self, labels: &SinkLabels, counts: SinkCounts) {
        let values = [
            counts.delivered,
            counts.queued,
            counts.overflowed,
            counts.refused,
        ];
        for (family, value) in self.sinks.iter().zip(values) {
            family
                .get_or_create(labels)
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().expect("metrics registry");
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_text_format() {
        let m = Metrics::new();
        m.windows.inc();
        m.windows.inc();
        m.event("cry_started");
        m.request("/api/v1/state", 200);
        m.inference_seconds.observe(0.004);
        let text = m.encode();
        assert!(text.contains("edge_infer_windows_total 2"), "{text}");
        assert!(
            text.contains("edge_infer_events_total{event_type=\"cry_started\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "edge_infer_http_requests_total{route=\"/api/v1/state\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("edge_infer_inference_seconds_count 1"),
            "{text}"
        );
        assert!(text.contains("edge_infer_build_info{version="), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
