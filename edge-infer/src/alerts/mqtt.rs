//! The MQTT publisher. One thread owns the connection; the inference loop only hands it what
//! happened ([`MqttAlerts::observe`]: a mutex held for a push, never a network call), so a slow
//! or absent broker never reaches the audio path.
//!
//! Delivery: `cry_started` and `calm` events wait in a bounded outbox and go out one at a time
//! with QoS 1; an event leaves the outbox only when the broker acknowledged it, so a broker that
//! is down at start, restarts or drops the connection loses nothing within the bound, and events
//! arrive in order (after a lost acknowledgement one may arrive twice; its `seq` says so). What
//! the bound cannot hold is counted in `health` and at exit, never dropped silently. Each event
//! is preceded by the `state` (and `reason`) it brings, so no transition is skipped; `status`,
//! `health`, the live state and the discovery configs are re-sent on every connection (a
//! restarted broker may have lost them). Reconnects back off from 0.5 s to
//! 30 s. A broker that refuses the credentials, or a certificate that does not verify, is a
//! configuration error: the publisher stops and [`MqttAlerts::fatal`] says why.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{
    Client, ConnectReturnCode, Connection, ConnectionError, Event as MqttEvent, LastWill,
    MqttOptions, Outgoing, Packet, QoS, RecvTimeoutError, TlsConfiguration, Transport,
};
use serde_json::json;

use super::target::{MqttTarget, Secret};
use super::topics::{
    AlertEvent, AlertKind, Discovery, OFF, OFFLINE, ON, ONLINE, Topics, reason_payload,
};
use crate::stream::decision::{Verdict, WindowReport};

/// Events the outbox holds by default.
pub const DEFAULT_QUEUE_EVENTS: usize = 1000;
/// Seconds between `health` messages by default.
pub const DEFAULT_HEALTH_SECONDS: u64 = 60;

const POLL: Duration = Duration::from_millis(50);
/// How long one connection attempt may take (TCP, TLS, CONNACK) before it is given up; the
/// client's own connection timeout (5 s) ends it first. A poll shorter than that would cancel
/// every attempt that needs more than one poll, which a TLS handshake on a Pi over Wi-Fi can.
const CONNECT_WAIT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How to reach the broker and what to announce.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// Broker and topic prefix.
    pub target: MqttTarget,
    /// Password (from a file or the environment).
    pub password: Option<Secret>,
    /// PEM file of the CA to trust for `mqtts://` instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// MQTT client id.
    pub client_id: String,
    /// Home Assistant discovery, when asked for.
    pub discovery: Option<Discovery>,
    /// Events the outbox holds.
    pub queue_events: usize,
    /// Time between `health` messages.
    pub health_every: Duration,
    /// The model's class names, in output order.
    pub labels: Vec<String>,
}

/// Why alerts cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MqttError {
    /// The CA file cannot be used.
    #[error("cannot use the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No root certificates to verify the broker with.
    #[error("no trusted root certificates for mqtts:// ({0}); give the broker's CA with --mqtt-ca")]
    NoRoots(String),
    /// The broker refused the connection (credentials, authorisation).
    #[error("the broker {target} refused the connection: {reason}")]
    Refused {
        /// The broker.
        target: String,
        /// Its answer.
        reason: String,
    },
    /// The broker's certificate does not verify (or TLS failed otherwise).
    #[error("TLS with {target} failed: {reason}")]
    Tls {
        /// The broker.
        target: String,
        /// What rustls said.
        reason: String,
    },
}

/// Delivery counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Events the broker acknowledged.
    pub delivered: u64,
    /// Events waiting in the outbox.
    pub queued: u64,
    /// Events the full outbox could not take.
    pub overflowed: u64,
}

#[derive(Default)]
struct Inner {
    outbox: VecDeque<AlertEvent>,
    /// Events the outbox may hold.
    bound: usize,
    stats: DeliveryStats,
    crying: bool,
    reason: Option<(String, f32)>,
    windows: u64,
    dropped_samples: u64,
    latency_sum: f64,
    latency_count: u64,
    latency_max: f64,
    fatal: Option<MqttError>,
}

struct Shared {
    inner: Mutex<Inner>,
    stop: AtomicBool,
    flush_until: Mutex<Option<Instant>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not silence alerts: the data stays usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running MQTT publisher (see the module documentation).
pub struct MqttAlerts {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl MqttAlerts {
    /// Checks the TLS settings and starts the publisher's thread; it connects (and reconnects)
    /// on its own, so a broker that is down does not fail this.
    pub fn start(settings: MqttSettings) -> Result<Self, MqttError> {
        let topics = Topics::new(settings.target.prefix.clone());
        let mut options = client_options(&settings, &settings.client_id)?;
        options.set_last_will(LastWill::new(
            topics.status(),
            OFFLINE,
            QoS::AtLeastOnce,
            true,
        ));
        let (client, connection) = Client::new(options, 64);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                bound: settings.queue_events.max(1),
                ..Inner::default()
            }),
            stop: AtomicBool::new(false),
            flush_until: Mutex::new(None),
        });
        let worker = Worker {
            shared: Arc::clone(&shared),
            client,
            topics,
            settings,
            connected: false,
            in_flight: None,
            sent: VecDeque::new(),
            published_state: None,
            backoff: BACKOFF_MIN,
            started: Instant::now(),
            next_health: Instant::now(),
            errors_logged: 0,
        };
        let thread = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || worker.run(connection))
            .expect("a thread can be spawned");
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Takes one scored window: it feeds `health`.
    pub fn window(&self, window: &WindowReport) {
        let mut inner = self.shared.lock();
        inner.windows += 1;
        inner.dropped_samples = window.dropped_samples;
        if let Verdict::Classified {
            latency_seconds, ..
        } = window.verdict
        {
            inner.latency_sum += latency_seconds;
            inner.latency_count += 1;
            inner.latency_max = inner.latency_max.max(latency_seconds);
        }
    }

    /// Takes one cry or calm: it updates `state` and `reason` and joins the outbox (or, when
    /// that is full, the overflow count).
    pub fn alert(&self, alert: &AlertEvent) {
        let mut inner = self.shared.lock();
        match &alert.kind {
            AlertKind::CryStarted {
                reason, confidence, ..
            } => {
                inner.crying = true;
                inner.reason = Some((reason.clone(), *confidence));
            }
            AlertKind::Calm { .. } => inner.crying = false,
        }
        if inner.outbox.len() >= inner.bound {
            inner.stats.overflowed += 1;
            return;
        }
        inner.outbox.push_back(alert.clone());
    }

    /// The configuration error that stopped the publisher, if any.
    pub fn fatal(&self) -> Option<MqttError> {
        self.shared.lock().fatal.clone()
    }

    /// Delivery counts so far.
    pub fn stats(&self) -> DeliveryStats {
        let inner = self.shared.lock();
        DeliveryStats {
            queued: inner.outbox.len() as u64,
            ..inner.stats
        }
    }

    /// Stops the publisher: waits up to `flush` for the outbox to empty, publishes `offline`,
    /// disconnects. Returns the final counts, or the configuration error that stopped it.
    pub fn shutdown(mut self, flush: Duration) -> Result<DeliveryStats, MqttError> {
        self.stop(flush);
        match self.fatal() {
            Some(fatal) => Err(fatal),
            None => Ok(self.stats()),
        }
    }

    fn stop(&mut self, flush: Duration) {
        *self
            .shared
            .flush_until
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + flush);
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MqttAlerts {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(2));
    }
}

/// The client options every connection shares: broker, keep-alive, a clean session,
/// credentials and TLS.
fn client_options(settings: &MqttSettings, client_id: &str) -> Result<MqttOptions, MqttError> {
    let mut options = MqttOptions::new(
        client_id.to_string(),
        settings.target.host.clone(),
        settings.target.port,
    );
    options.set_keep_alive(Duration::from_secs(15));
    // A new session on every connection: unacknowledged events are re-sent from the outbox,
    // not by the client library (which drops them when the broker lost the session).
    options.set_clean_session(true);
    if let Some(user) = &settings.target.user {
        let password = settings
            .password
            .as_ref()
            .map_or(String::new(), |p| p.expose().to_string());
        options.set_credentials(user.clone(), password);
    }
    if settings.target.tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(tls_config(settings.ca_file.as_deref())?),
        )));
    }
    Ok(options)
}

/// Why [`publish_once`] did not finish.
#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    /// A configuration error (credentials, TLS).
    #[error(transparent)]
    Mqtt(#[from] MqttError),
    /// The broker was not reached or did not acknowledge in time.
    #[error("{target}: {reason}")]
    Unfinished {
        /// The broker.
        target: String,
        /// What happened last.
        reason: String,
    },
}

/// Connects, publishes `messages` retained with QoS 1, waits for every acknowledgement (at most
/// `timeout`), and disconnects.
pub fn publish_once(
    settings: &MqttSettings,
    messages: Vec<(String, String)>,
    timeout: Duration,
) -> Result<(), OnceError> {
    let options = client_options(settings, &format!("{}-once", settings.client_id))?;
    let (client, mut connection) = Client::new(options, messages.len() + 4);
    let target = settings.target.to_string();
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer");
    let mut waiting: Option<usize> = None;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        // The whole remaining time: a shorter wait would cancel a connection attempt midway.
        match connection.recv_timeout(left) {
            Ok(Ok(MqttEvent::Incoming(Packet::ConnAck(_)))) => {
                for (topic, payload) in &messages {
                    client
                        .try_publish(topic.clone(), QoS::AtLeastOnce, true, payload.clone())
                        .map_err(|e| OnceError::Unfinished {
                            target: target.clone(),
                            reason: e.to_string(),
                        })?;
                }
                waiting = Some(messages.len());
            }
            Ok(Ok(MqttEvent::Incoming(Packet::PubAck(_)))) => {
                if let Some(n) = &mut waiting {
                    *n -= 1;
                    if *n == 0 {
                        let _ = client.try_disconnect();
                        return Ok(());
                    }
                }
            }
            Ok(Ok(_)) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Err(e)) => {
                if let Some(fatal) = fatal_error(&e, &settings.target) {
                    return Err(fatal.into());
                }
                last = e.to_string();
                waiting = None;
                std::thread::sleep(BACKOFF_MIN);
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Err(OnceError::Unfinished {
        target,
        reason: format!(
            "not finished within {:.0} s ({last})",
            timeout.as_secs_f64()
        ),
    })
}

pub(crate) fn tls_config(
    ca_file: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, MqttError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let ca_error = |reason: String| MqttError::CaFile {
                path: path.to_path_buf(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| ca_error(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ca_error(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("no PEM certificate in it".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or("the system store is empty".to_string(), |e| e.to_string());
                return Err(MqttError::NoRoots(why));
            }
        }
    }
    // ring rather than aws-lc-rs: a smaller C build, also for the Pi. rustls deprecates ring's
    // provider only for lacking post-quantum key exchange, which a broker on the home network
    // does not need.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MqttError::Tls {
            target: String::new(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// What was handed to the client, in order, to match the client's `Outgoing::Publish` ids:
/// `Some(seq)` for an event, `None` for anything else.
type SentTag = Option<u64>;

struct Worker {
    shared: Arc<Shared>,
    client: Client,
    topics: Topics,
    settings: MqttSettings,
    connected: bool,
    /// The event on the wire: its sequence number and, once the client numbered it, its
    /// packet id.
    in_flight: Option<(u64, Option<u16>)>,
    sent: VecDeque<SentTag>,
    /// The `state` last published on this connection.
    published_state: Option<bool>,
    backoff: Duration,
    started: Instant,
    next_health: Instant,
    errors_logged: u64,
}

impl Worker {
    fn run(mut self, mut connection: Connection) {
        loop {
            if self.shared.stop.load(Ordering::SeqCst) && self.finish_due() {
                self.say_goodbye(&mut connection);
                return;
            }
            let wait = if self.connected { POLL } else { CONNECT_WAIT };
            match connection.recv_timeout(wait) {
                Ok(Ok(event)) => self.on_event(event),
                Ok(Err(error)) => {
                    if !self.on_error(&error) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if self.connected {
                self.send_due();
            }
        }
    }

    /// Whether a stopping publisher should leave now: nothing left to send, or the flush
    /// time is over, or no broker to send to.
    fn finish_due(&self) -> bool {
        let deadline = *self
            .shared
            .flush_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let empty = self.shared.lock().outbox.is_empty();
        empty || deadline.is_none_or(|d| Instant::now() >= d)
    }

    fn say_goodbye(&mut self, connection: &mut Connection) {
        if !self.connected {
            return;
        }
        self.publish_health();
        let _ = self
            .client
            .try_publish(self.topics.status(), QoS::AtLeastOnce, true, OFFLINE);
        let _ = self.client.try_disconnect();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            match connection.recv_timeout(POLL) {
                Ok(Ok(MqttEvent::Outgoing(Outgoing::Disconnect))) | Ok(Err(_)) => return,
                Err(RecvTimeoutError::Disconnected) => return,
                _ => {}
            }
        }
    }

    fn publish(&mut self, topic: String, retain: bool, payload: String, tag: SentTag) -> bool {
        match self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            Ok(()) => {
                self.sent.push_back(tag);
                true
            }
            Err(_) => false,
        }
    }

    /// Publishes `state` (and with a reason, `reason`), retained.
    fn publish_state(&mut self, crying: bool, reason: Option<(String, f32)>) {
        self.publish(
            self.topics.state(),
            true,
            if crying { ON } else { OFF }.into(),
            None,
        );
        if crying || self.published_state.is_none() {
            let payload = reason_payload(reason.as_ref().map(|(r, c)| (r.as_str(), *c)));
            self.publish(self.topics.reason(), true, payload, None);
        }
        self.published_state = Some(crying);
    }

    /// The live state, when no queued event will bring it.
    fn publish_current_state(&mut self) {
        let (crying, reason) = {
            let inner = self.shared.lock();
            (inner.crying, inner.reason.clone())
        };
        self.publish_state(crying, reason);
    }

    fn publish_discovery(&mut self) {
        if let Some(discovery) = self.settings.discovery.clone() {
            for (topic, payload) in discovery.configs(&self.topics) {
                self.publish(topic, true, payload, None);
            }
        }
    }

    fn publish_health(&mut self) {
        let payload = {
            let inner = self.shared.lock();
            let mean = (inner.latency_count > 0)
                .then(|| inner.latency_sum / inner.latency_count as f64 * 1e3);
            json!({
                "uptime_s": self.started.elapsed().as_secs(),
                "windows": inner.windows,
                "dropped_samples": inner.dropped_samples,
                "latency_ms": {
                    "mean": mean.map(|m| (m * 1e3).round() / 1e3),
                    "max": (inner.latency_count > 0).then(|| (inner.latency_max * 1e6).round() / 1e3),
                },
                "events": {
                    "delivered": inner.stats.delivered,
                    "queued": inner.outbox.len(),
                    "overflowed": inner.stats.overflowed,
                    "bound": self.settings.queue_events,
                },
            })
            .to_string()
        };
        self.publish(self.topics.health(), true, payload, None);
        self.next_health = Instant::now() + self.settings.health_every;
    }

    fn on_connected(&mut self) {
        log::info!("MQTT: connected to {}", self.settings.target);
        self.connected = true;
        self.backoff = BACKOFF_MIN;
        self.errors_logged = 0;
        self.sent.clear();
        self.in_flight = None;
        self.published_state = None;
        if let Some(discovery) = &self.settings.discovery {
            let _ = self
                .client
                .try_subscribe(discovery.birth_topic(), QoS::AtLeastOnce);
        }
        self.publish(self.topics.status(), true, ONLINE.into(), None);
        self.publish_discovery();
        self.publish_health();
    }

    fn on_event(&mut self, event: MqttEvent) {
        match event {
            MqttEvent::Incoming(Packet::ConnAck(_)) => self.on_connected(),
            MqttEvent::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(Some(seq)) = self.sent.pop_front() {
                    if let Some((in_flight, id)) = &mut self.in_flight {
                        if *in_flight == seq {
                            *id = Some(pkid);
                        }
                    }
                }
            }
            MqttEvent::Incoming(Packet::PubAck(ack)) => {
                if let Some((seq, Some(pkid))) = self.in_flight {
                    if pkid == ack.pkid {
                        self.in_flight = None;
                        let mut inner = self.shared.lock();
                        if inner.outbox.front().is_some_and(|e| e.seq == seq) {
                            inner.outbox.pop_front();
                            inner.stats.delivered += 1;
                        }
                    }
                }
            }
            MqttEvent::Incoming(Packet::Publish(p)) => {
                let birth = self.settings.discovery.as_ref().map(Discovery::birth_topic);
                if birth.as_deref() == Some(p.topic.as_str())
                    && p.payload.as_ref() == ONLINE.as_bytes()
                {
                    log::info!("MQTT: Home Assistant came online; sending discovery again");
                    self.publish_discovery();
                    self.published_state = None;
                }
            }
            _ => {}
        }
    }

    /// Handles a connection error; false when it is fatal.
    fn on_error(&mut self, error: &ConnectionError) -> bool {
        let was_connected = std::mem::replace(&mut self.connected, false);
        self.sent.clear();
        self.in_flight = None;
        if let Some(fatal) = fatal_error(error, &self.settings.target) {
            log::error!("MQTT: {fatal}");
            self.shared.lock().fatal = Some(fatal);
            return false;
        }
        if was_connected {
            log::warn!("MQTT: lost {}: {error}; reconnecting", self.settings.target);
        } else if self.errors_logged < 3 || self.errors_logged.is_power_of_two() {
            log::warn!(
                "MQTT: cannot reach {}: {error}; retrying in {:.1} s (events wait in the queue)",
                self.settings.target,
                self.backoff.as_secs_f64()
            );
        }
        self.errors_logged += 1;
        let started = Instant::now();
        let until = started + self.backoff;
        while Instant::now() < until {
            // A stopping publisher has a short flush window: with events still queued it
            // retries at the shortest backoff rather than sleep the window away.
            if self.shared.stop.load(Ordering::SeqCst)
                && (self.finish_due() || started.elapsed() >= BACKOFF_MIN)
            {
                break;
            }
            std::thread::sleep(POLL);
        }
        if !self.shared.stop.load(Ordering::SeqCst) {
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        }
        true
    }

    /// Sends what is due: the next queued event (after the `state` and `reason` it brings, so
    /// every transition is published in order), the live state once nothing is queued, and
    /// `health` on its period.
    fn send_due(&mut self) {
        if Instant::now() >= self.next_health {
            self.publish_health();
        }
        if self.in_flight.is_some() {
            return;
        }
        let (next, live) = {
            let inner = self.shared.lock();
            (inner.outbox.front().cloned(), inner.crying)
        };
        match next {
            Some(event) => {
                let seq = event.seq;
                match &event.kind {
                    AlertKind::CryStarted {
                        reason, confidence, ..
                    } => self.publish_state(true, Some((reason.clone(), *confidence))),
                    AlertKind::Calm { .. } => self.publish_state(false, None),
                }
                if self.publish(self.topics.event(), false, event.payload(), Some(seq)) {
                    self.in_flight = Some((seq, None));
                }
            }
            None if self.published_state != Some(live) => self.publish_current_state(),
            None => {}
        }
    }
}

/// A connection error that retrying cannot mend: refused credentials or authorisation, or a
/// TLS failure such as a certificate that does not verify.
fn fatal_error(error: &ConnectionError, target: &MqttTarget) -> Option<MqttError> {
    let target = target.to_string();
    match error {
        ConnectionError::ConnectionRefused(code) => match code {
            ConnectReturnCode::BadUserNamePassword => Some(MqttError::Refused {
                target,
                reason: "bad user name or password".into(),
            }),
            ConnectReturnCode::NotAuthorized => Some(MqttError::Refused {
                target,
                reason: "not authorised (a wrong user name or password, or a user without access)"
                    .into(),
            }),
            ConnectReturnCode::BadClientId => Some(MqttError::Refused {
                target,
                reason: "client id rejected".into(),
            }),
            _ => None,
        },
        ConnectionError::Tls(tls) => {
            let reason = match tls {
                rumqttc::TlsError::Io(io) => rustls_reason(io)?,
                other => other.to_string(),
            };
            Some(MqttError::Tls { target, reason })
        }
        ConnectionError::Io(io) => {
            rustls_reason(io).map(|reason| MqttError::Tls { target, reason })
        }
        _ => None,
    }
}

/// The rustls error inside an I/O error, as text (a network failure has none).
fn rustls_reason(io: &std::io::Error) -> Option<String> {
    io.get_ref()?
        .downcast_ref::<rustls::Error>()
        .map(ToString::to_string)
}
