//! `--webhook URL`: every `cry_started` and `calm` POSTed as JSON (the MQTT event payload, so
//! ntfy, Gotify or any automation can take it) for parents without Home Assistant.
//!
//! Each webhook has its own bounded outbox and thread, so a dead webhook never holds back MQTT
//! or another webhook (nor the reverse), and the inference loop only pushes. An event leaves
//! the outbox when the receiver answered 2xx, in order; a network error, 408, 429 or 5xx is
//! retried with backoff (0.5 s doubling to 30 s); any other 4xx is a permanent refusal: logged,
//! counted and skipped. A header (`--webhook-header-file` or `EDGE_INFER_WEBHOOK_HEADER`, such
//! as `Authorization: Bearer ...`) goes with every request and never into a log.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::topics::AlertEvent;

/// The environment variable that may hold the webhook header (`Name: value`).
pub const HEADER_ENV: &str = "EDGE_INFER_WEBHOOK_HEADER";
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// One `--webhook`, validated.
#[derive(Clone)]
pub struct WebhookSettings {
    /// `http://` or `https://` URL.
    pub url: String,
    /// A header sent with every request (its value is a secret).
    pub header: Option<(String, String)>,
    /// Events the outbox holds (`--mqtt-queue`'s bound).
    pub queue_events: usize,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("header", &self.header.as_ref().map(|(name, _)| name))
            .field("queue_events", &self.queue_events)
            .finish()
    }
}

/// Why a webhook option is refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not an http(s) URL.
    #[error("--webhook {0}: not an http:// or https:// URL")]
    Url(String),
    /// The header file or variable is unusable.
    #[error("the webhook header {0}")]
    Header(String),
    /// No trust roots for https.
    #[error("--webhook over https: {0}")]
    Tls(String),
}

/// Reads the header from `file` (its first line) or `env`: `Name: value`.
pub fn read_header(
    file: Option<&std::path::Path>,
    env: Option<String>,
) -> Result<Option<(String, String)>, WebhookError> {
    let text = match (file, env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| WebhookError::Header(format!("file {}: {e}", path.display())))?,
        (None, Some(v)) => v,
        (None, None) => return Ok(None),
    };
    let line = text.lines().next().unwrap_or("").trim();
    let (name, value) = line
        .split_once(':')
        .filter(|(n, v)| {
            !n.trim().is_empty()
                && !v.trim().is_empty()
                && n.trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .ok_or_else(|| {
            WebhookError::Header(
                "must be one line `Name: value`, e.g. `Authorization: Bearer ...`".into(),
            )
        })?;
    Ok(Some((name.trim().to_string(), value.trim().to_string())))
}

/// Validates one URL.
pub fn settings(
    url: &str,
    header: Option<(String, String)>,
    queue_events: usize,
) -> Result<WebhookSettings, WebhookError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| WebhookError::Url(url.to_string()))?;
    if rest.is_empty() || rest.starts_with('/') || url.contains(char::is_whitespace) {
        return Err(WebhookError::Url(url.to_string()));
    }
    Ok(WebhookSettings {
        url: url.to_string(),
        header,
        queue_events: queue_events.max(1),
    })
}

/// What a webhook did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Events the receiver accepted (2xx).
    pub delivered: u64,
    /// Events it refused for good (a 4xx other than 408 and 429), skipped.
    pub refused: u64,
    /// Events waiting in the outbox.
    pub queued: u64,
    /// Events the full outbox could not take.
    pub overflowed: u64,
}

#[derive(Default)]
struct State {
    outbox: VecDeque<AlertEvent>,
    bound: usize,
    stats: WebhookStats,
    stop: bool,
    flush_until: Option<Instant>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running webhook (see the module documentation).
pub struct Webhook {
    url: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// How one POST went.
enum Outcome {
    Accepted,
    Refused(u16),
    Retry(String),
}

impl Webhook {
    /// Starts the webhook's thread.
    pub fn start(settings: WebhookSettings) -> Result<Self, WebhookError> {
        let tls = super::mqtt::tls_config(None).map_err(|e| WebhookError::Tls(e.to_string()));
        let mut builder = ureq::AgentBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .redirects(0);
        match tls {
            Ok(tls) => builder = builder.tls_config(Arc::new(tls)),
            // Without system roots only http:// works; https:// fails now, not at 3 a.m.
            Err(e) if settings.url.starts_with("https://") => return Err(e),
            Err(_) => {}
        }
        let agent = builder.build();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                bound: settings.queue_events,
                ..State::default()
            }),
            wake: Condvar::new(),
        });
        let url = settings.url.clone();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("webhook".into())
            .spawn(move || run(&worker, &agent, &settings))
            .expect("a thread can be spawned");
        Ok(Self {
            url,
            shared,
            thread: Some(thread),
        })
    }

    /// The URL (for the log).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queues one event (or counts it when the outbox is full); never waits on the network.
    pub fn alert(&self, alert: &AlertEvent) {
        let mut state = self.shared.lock();
        if state.outbox.len() >= state.bound {
            state.stats.overflowed += 1;
            return;
        }
        state.outbox.push_back(alert.clone());
        self.shared.wake.notify_all();
    }

    /// The counts so far.
    pub fn stats(&self) -> WebhookStats {
        let state = self.shared.lock();
        WebhookStats {
            queued: state.outbox.len() as u64,
            ..state.stats
        }
    }

    /// Waits up to `flush` for the outbox to empty, then stops; the final counts.
    pub fn shutdown(mut self, flush: Duration) -> WebhookStats {
        self.stop(flush);
        self.stats()
    }

    /// Tells the thread to stop after flushing for at most `flush`, and waits for it (once).
    fn stop(&mut self, flush: Duration) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        {
            let mut state = self.shared.lock();
            state.stop = true;
            state.flush_until = Some(Instant::now() + flush);
            self.shared.wake.notify_all();
        }
        let _ = thread.join();
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

fn post(agent: &ureq::Agent, settings: &WebhookSettings, payload: &str) -> Outcome {
    let mut request = agent
        .post(&settings.url)
        .set("Content-Type", "application/json")
        .set(
            "User-Agent",
            concat!("edge-infer/", env!("CARGO_PKG_VERSION")),
        );
    if let Some((name, value)) = &settings.header {
        request = request.set(name, value);
    }
    match request.send_string(payload) {
        Ok(_) => Outcome::Accepted,
        Err(ureq::Error::Status(code, _))
            if (400..500).contains(&code) && code != 408 && code != 429 =>
        {
            Outcome::Refused(code)
        }
        Err(ureq::Error::Status(code, _)) => Outcome::Retry(format!("HTTP {code}")),
        Err(ureq::Error::Transport(t)) => Outcome::Retry(t.kind().to_string()),
    }
}

fn run(shared: &Shared, agent: &ureq::Agent, settings: &WebhookSettings) {
    let mut backoff = BACKOFF_MIN;
    let mut failing: Option<String> = None;
    loop {
        let next = {
            let mut state = shared.lock();
            loop {
                let past_flush = state.flush_until.is_some_and(|u| Instant::now() >= u);
                if state.stop && (state.outbox.is_empty() || past_flush) {
                    return;
                }
                if let Some(front) = state.outbox.front() {
                    break front.clone();
                }
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
        };
        let outcome = post(agent, settings, &next.payload());
        let mut state = shared.lock();
        match outcome {
            Outcome::Accepted | Outcome::Refused(_) => {
                if state.outbox.front().is_some_and(|e| e.seq == next.seq) {
                    state.outbox.pop_front();
                }
                if let Outcome::Refused(code) = outcome {
                    state.stats.refused += 1;
                    log::warn!(
                        "webhook {}: event {} refused with HTTP {code}: skipped (a 4xx is not retried)",
                        settings.url,
                        next.seq
                    );
                } else {
                    state.stats.delivered += 1;
                    if failing.take().is_some() {
                        log::info!("webhook {}: delivering again", settings.url);
                    }
                }
                backoff = BACKOFF_MIN;
            }
            Outcome::Retry(why) => {
                if failing.as_deref() != Some(why.as_str()) {
                    log::warn!(
                        "webhook {}: {why}; retrying with backoff (events wait in its queue)",
                        settings.url
                    );
                    failing = Some(why);
                }
                let deadline = Instant::now() + backoff;
                while Instant::now() < deadline {
                    let past_flush = state.flush_until.is_some_and(|u| Instant::now() >= u);
                    if state.stop && past_flush {
                        return;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    state = shared
                        .wake
                        .wait_timeout(state, left.min(Duration::from_millis(200)))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_headers_are_validated() {
        assert!(settings("https://ntfy.sh/nursery", None, 10).is_ok());
        assert!(settings("http://127.0.0.1:8080/hook", None, 10).is_ok());
        for bad in [
            "ftp://x/y",
            "ntfy.sh/nursery",
            "http://",
            "https:///x",
            "http://a b/",
        ] {
            assert!(settings(bad, None, 10).is_err(), "{bad}");
        }
        assert_eq!(
            read_header(None, Some("Authorization: Bearer abc\n".into())).unwrap(),
            Some(("Authorization".into(), "Bearer abc".into()))
        );
        for bad in ["no colon", ": value", "Name:", "Bad Name: x"] {
            assert!(read_header(None, Some(bad.into())).is_err(), "{bad}");
        }
        let debug = format!(
            "{:?}",
            settings("http://h/x", Some(("X-Token".into(), "s3cret".into())), 1).unwrap()
        );
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}
