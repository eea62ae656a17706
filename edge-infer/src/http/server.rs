//! The HTTP server: axum on a tokio runtime of its own thread, so nothing it does runs on the
//! inference loop. Public routes (`/healthz`, and `/metrics` with `--http-public-metrics`) and
//! protected ones behind the token; a body limit, a limit on classifications at once that
//! answers 429, a request timeout, timing headers, and a graceful stop.

use std::convert::Infallible;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Multipart, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};
use tower_http::timeout::TimeoutLayer;

use super::config::{HttpConfig, REQUEST_TIMEOUT, Token};
use super::hub::{CLIENT_LAG, LiveHub, Message};
use super::metrics::Metrics;
use super::page;
use crate::clips::ClipClassifier;
use crate::engine::Engine;
use crate::history::{EventQuery, History, MAX_PAGE};

/// Seconds between `ping` messages on `/api/v1/live`.
pub const PING: Duration = Duration::from_secs(15);
/// How long a stopping server waits for open requests before it closes them.
const GRACE: Duration = Duration::from_secs(2);
/// The cookie the page's login sets (the token itself, `HttpOnly`, `SameSite=Strict`).
pub const TOKEN_COOKIE: &str = "edge_infer_token";

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The runtime or its thread could not start.
    #[error("cannot start the HTTP server")]
    Start(#[source] std::io::Error),
}

/// A failed request: `{"error": ..., "code": ...}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.status.as_u16();
        let mut res = (
            self.status,
            Json(json!({"error": self.message, "code": code})),
        )
            .into_response();
        let headers = res.headers_mut();
        match self.status {
            StatusCode::TOO_MANY_REQUESTS => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        res
    }
}

/// Classification of uploads: the model, shared by every request, and its clip settings.
pub struct Classify {
    engine: Arc<Engine>,
    clips: ClipClassifier,
}

impl Classify {
    /// Uploads classified by `engine` with `clips`' settings.
    pub fn new(engine: Arc<Engine>, clips: ClipClassifier) -> Self {
        Self { engine, clips }
    }

    /// What `classify` prints for the upload `bytes`, named `name`: the same JSON text.
    fn run(&self, bytes: Vec<u8>, name: &str) -> Result<String, ApiError> {
        let clip = cry_core::load_clip_from_bytes(bytes, &self.clips.load_options())
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("{name}: {e}")))?;
        let internal = |e: &dyn std::fmt::Display| {
            log::error!("classifying {name}: {e}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the model failed: {e}"),
            )
        };
        let mut session = self.engine.session().map_err(|e| internal(&e))?;
        let line = self
            .clips
            .classify(&mut session, Path::new(name), &clip)
            .map_err(|e| internal(&e))?;
        serde_json::to_string(&line).map_err(|e| internal(&e))
    }

    fn info(&self) -> Value {
        json!({
            "labels": self.clips.labels(),
            "cry_threshold": self.clips.cry_threshold(),
        })
    }
}

pub(super) struct Shared {
    hub: Option<Arc<LiveHub>>,
    history: Option<Arc<History>>,
    classify: Arc<Classify>,
    metrics: Arc<Metrics>,
    pub(super) token: Option<Token>,
    /// Served over https (the login cookie is then `Secure`).
    pub(super) tls: bool,
    max_body: usize,
    permits: Arc<Semaphore>,
    started: Instant,
}

#[derive(Clone)]
pub(super) struct AppState(pub(super) Arc<Shared>);

/// The running server; stopping it (or dropping it) closes it gracefully.
pub struct HttpServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `config.addr` (a failure is an error now, not later) and serves on a thread of its
    /// own: the live routes from `hub` and `history` (none in `serve`), classification with
    /// `classify`.
    pub fn start(
        config: &HttpConfig,
        hub: Option<Arc<LiveHub>>,
        history: Option<Arc<History>>,
        classify: Arc<Classify>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ServerError> {
        let bind = |source| ServerError::Bind {
            addr: config.addr,
            source,
        };
        let listener = std::net::TcpListener::bind(config.addr).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("edge-infer-http")
            .enable_all()
            .build()
            .map_err(ServerError::Start)?;
        let shared = Arc::new(Shared {
            hub,
            history,
            classify,
            metrics,
            token: config.token.clone(),
            tls: config.tls.is_some(),
            max_body: config.max_body,
            permits: Arc::new(Semaphore::new(config.max_concurrent)),
            started: Instant::now(),
        });
        let app = router(AppState(shared), config.public_metrics, config.max_body);
        let (stop, stopped) = watch::channel(false);
        let tls = config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let thread = std::thread::Builder::new()
            .name("http".into())
            .spawn(move || serve(runtime, listener, tls, app, stopped))
            .map_err(ServerError::Start)?;
        log::info!(
            "HTTP API on {scheme}://{addr}/ ({})",
            if config.token.is_some() {
                "token required"
            } else {
                "no token: loopback only"
            }
        );
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open requests finish for a moment, then closes.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(
    runtime: tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    stopped: watch::Receiver<bool>,
) {
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                log::error!("HTTP server: {e}");
                return;
            }
        };
        match tls {
            Some(acceptor) => {
                run_until_stopped(TlsListener::new(listener, acceptor), app, stopped).await
            }
            None => run_until_stopped(listener, app, stopped).await,
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(500));
}

async fn run_until_stopped<L>(listener: L, app: Router, stopped: watch::Receiver<bool>)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let stopping = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(stopping(stopped.clone()))
        .into_future();
    // Live clients never finish by themselves: after the grace period they are closed.
    let deadline = async {
        stopping(stopped).await;
        tokio::time::sleep(GRACE).await;
    };
    tokio::select! {
        r = server => if let Err(e) = r { log::error!("HTTP server: {e}") },
        () = deadline => log::info!("HTTP server: closed the connections still open"),
    }
}

/// How long a client may take over its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Connections after their TLS handshake. Handshakes run in tasks of their own, so a slow or
/// broken client never holds up the next one; a failed handshake is logged and forgotten.
struct TlsListener {
    ready: mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        SocketAddr,
    )>,
    local: SocketAddr,
}

impl TlsListener {
    fn new(tcp: tokio::net::TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> Self {
        let local = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        log::warn!("HTTP server: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => log::info!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => log::info!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Self { ready, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

fn router(state: AppState, public_metrics: bool, max_body: usize) -> Router {
    let has_live = state.0.hub.is_some();
    let mut public = Router::new().route("/healthz", get(healthz));
    if has_live {
        // The page checks the token itself: without it, it answers the login form.
        public = public
            .route("/", get(page::index))
            .route("/login", post(page::login))
            .route("/assets/page.js", get(page::script))
            .route("/assets/page.css", get(page::style));
    }
    let mut protected = Router::new()
        .route("/api/v1/state", get(live_state))
        .route("/api/v1/live", get(live))
        .route("/api/v1/events", get(events))
        .route("/api/v1/nights", get(nights))
        .route("/api/v1/suspend", post(suspend))
        .route(
            "/api/v1/classify",
            post(classify).layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            )),
        );
    if public_metrics {
        public = public.route("/metrics", get(metrics));
    } else {
        protected = protected.route("/metrics", get(metrics));
    }
    let protected =
        protected.route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    public
        .merge(protected)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The token from `Authorization: Bearer` or the page's cookie.
pub(super) fn presented_token(headers: &axum::http::HeaderMap) -> Option<&[u8]> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let v = auth.as_bytes();
        return v
            .strip_prefix(b"Bearer ")
            .or_else(|| v.strip_prefix(b"bearer "));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .map(|c| c.trim_ascii())
        .find_map(|c| c.strip_prefix(format!("{TOKEN_COOKIE}=").as_bytes()))
}

async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &s.0.token else {
        return next.run(req).await;
    };
    match presented_token(req.headers()) {
        Some(given) if token.matches(given) => next.run(req).await,
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "wrong token").into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a token is required: send `Authorization: Bearer TOKEN`",
        )
        .into_response(),
    }
}

/// Counts every request by route and status, and says how long it took (`x-total-time`, ms).
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let started = Instant::now();
    let mut res = next.run(req).await;
    s.0.metrics.request(&route, res.status().as_u16());
    let ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3);
    if let Ok(v) = HeaderValue::from_str(&ms) {
        res.headers_mut().insert("x-total-time", v);
    }
    res
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route {} {}", req.method(), req.uri().path()),
    )
}

async fn healthz(State(s): State<AppState>) -> Response {
    match s.0.hub.as_ref().map(|h| h.health()) {
        None | Some(Ok(())) => Json(json!({"status": "ok"})).into_response(),
        Some(Err(reason)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": reason})),
        )
            .into_response(),
    }
}

async fn live_state(State(s): State<AppState>) -> Json<Value> {
    Json(match &s.0.hub {
        Some(hub) => hub.state(),
        None => json!({
            "mode": "serve",
            "crying": null,
            "model": s.0.classify.info(),
            "uptime_s": (s.0.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        }),
    })
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.0.metrics.encode(),
    )
        .into_response()
}

fn to_sse(m: Message) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().event(m.kind).data(&*m.data))
}

/// Counts a live client while its stream exists.
struct ClientGuard(Arc<Metrics>);

impl ClientGuard {
    fn new(metrics: Arc<Metrics>) -> Self {
        metrics.sse_clients.inc();
        Self(metrics)
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.sse_clients.dec();
    }
}

/// `GET /api/v1/live`: the last 10 minutes of windows, then every window and event as it
/// happens, a `ping` every 15 s. Each client has a bounded queue filled by a task of its own:
/// a client that lets it fill is dropped and counted, and the inference loop never waits.
async fn live(
    State(s): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let hub = s.0.hub.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no live source: `serve` only classifies uploads (use --http with stream or listen)",
        )
    })?;
    let (backlog, mut rx) = hub.subscribe();
    let (tx, queue) = mpsc::channel::<Message>(backlog.len() + CLIENT_LAG);
    let metrics = s.0.metrics.clone();
    tokio::spawn(async move {
        for m in backlog {
            if tx.try_send(m).is_err() {
                return;
            }
        }
        loop {
            let dropped = match rx.recv().await {
                Ok(m) => match tx.try_send(m) {
                    Ok(()) => continue,
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                    Err(mpsc::error::TrySendError::Full(_)) => "its queue is full",
                },
                Err(broadcast::error::RecvError::Lagged(_)) => "it fell behind",
                Err(broadcast::error::RecvError::Closed) => return,
            };
            log::warn!("dropped a live client: {dropped}");
            metrics.sse_dropped.inc();
            return;
        }
    });
    let guard = ClientGuard::new(s.0.metrics.clone());
    let events = stream::unfold((queue, guard), |(mut queue, guard)| async move {
        let m = queue.recv().await?;
        Some((to_sse(m), (queue, guard)))
    });
    Ok(Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(PING)
            .event(SseEvent::default().event("ping").data("{}")),
    ))
}

/// The upload's name and bytes: a raw body, or the `file` field of a multipart form.
async fn read_upload(s: &Shared, req: Request) -> Result<(String, Vec<u8>), ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than --http-max-body ({} bytes)",
                s.max_body
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > s.max_body) {
        return Err(too_large());
    }
    let unreadable = |e: &dyn std::fmt::Display| {
        let text = e.to_string();
        if text.contains("length limit") {
            too_large()
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the upload could not be read (cut short?): {text}"),
            )
        }
    };
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let body = axum::body::to_bytes(req.into_body(), s.max_body)
            .await
            .map_err(|e| unreadable(&e))?;
        return Ok(("upload".into(), body.to_vec()));
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    while let Some(field) = form.next_field().await.map_err(|e| unreadable(&e))? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("upload").to_string();
            let bytes = field.bytes().await.map_err(|e| unreadable(&e))?;
            return Ok((name, bytes.to_vec()));
        }
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "the multipart form has no `file` field",
    ))
}

/// `POST /api/v1/classify`: what `edge-infer classify` prints for the uploaded file.
async fn classify(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let Ok(permit) = s.0.permits.clone().try_acquire_owned() else {
        // Read the upload to its end (up to the body limit), keeping none of it: answering
        // while the client still sends makes the connection reset, and the client would see
        // a broken pipe instead of the 429 and its Retry-After.
        let mut body = req.into_body().into_data_stream();
        let mut read = 0;
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len();
            if read > s.0.max_body {
                break;
            }
        }
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "as many classifications as --http-max-concurrent are running; retry",
        ));
    };
    let (name, bytes) = read_upload(&s.0, req).await?;
    let started = Instant::now();
    let classify = s.0.classify.clone();
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        classify.run(bytes, &name)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let seconds = started.elapsed().as_secs_f64();
    let line = result?;
    s.0.metrics.classify_seconds.observe(seconds);
    let mut res = ([(header::CONTENT_TYPE, "application/json")], line).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{:.1}", seconds * 1e3)) {
        res.headers_mut().insert("x-inference-time", v);
    }
    Ok(res)
}

/// The history, or 404 in `serve`.
fn history_of(s: &Shared) -> Result<Arc<History>, ApiError> {
    s.history.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no event history: `serve` only classifies uploads (use --http with stream or listen)",
        )
    })
}

fn bad_query(e: &QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, e.body_text())
}

/// `n` when it is from 1 to `max`, else 400 naming `what`.
fn in_range(what: &str, n: usize, max: usize) -> Result<usize, ApiError> {
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{what} must be from 1 to {max}, not {n}"),
        ))
    }
}

/// Reads the history off the runtime's threads (SQLite blocks).
async fn read_history<T: Send + 'static>(
    s: &Shared,
    read: impl FnOnce(&History) -> Result<T, crate::history::HistoryError> + Send + 'static,
) -> Result<T, ApiError> {
    let history = history_of(s)?;
    let internal =
        |e: &dyn std::fmt::Display| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    tokio::task::spawn_blocking(move || read(&history))
        .await
        .map_err(|e| internal(&e))?
        .map_err(|e| internal(&e))
}

/// The query of `GET /api/v1/events`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsParams {
    after: Option<u64>,
    since: Option<f64>,
    until: Option<f64>,
    limit: Option<usize>,
}

/// Events answered when `limit` is not given.
const DEFAULT_PAGE: usize = 100;

/// `GET /api/v1/events?after=SEQ&since=T&until=T&limit=N`: cry and calm events from the
/// history, oldest first (the first `limit` after `after`, or the newest `limit`), as their MQTT
/// payloads; `last_seq` is what to pass as `after` for the next page.
async fn events(
    State(s): State<AppState>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params.map_err(|e| bad_query(&e))?;
    let query = EventQuery {
        after: p.after,
        since: p.since,
        until: p.until,
        limit: in_range("limit", p.limit.unwrap_or(DEFAULT_PAGE), MAX_PAGE)?,
    };
    let events = read_history(&s.0, move |h| h.events(&query)).await?;
    let last_seq = events.last().and_then(|e| e["seq"].as_u64());
    Ok(Json(json!({"events": events, "last_seq": last_seq})))
}

/// The query of `GET /api/v1/nights`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NightsParams {
    last: Option<usize>,
}

/// Nights `/api/v1/nights` summarises at most.
const MAX_NIGHTS: usize = 366;

/// `GET /api/v1/nights?last=N`: the last N nights (default 7), oldest first, the current one
/// last.
async fn nights(
    State(s): State<AppState>,
    params: Result<Query<NightsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = params.map_err(|e| bad_query(&e))?;
    let last = in_range("last", p.last.unwrap_or(7), MAX_NIGHTS)?;
    let hours = history_of(&s.0)?.night_hours();
    let nights = read_history(&s.0, move |h| h.nights(last, crate::history::unix_now())).await?;
    Ok(Json(
        json!({"night_hours": hours.to_string(), "nights": nights}),
    ))
}

/// The body of `POST /api/v1/suspend`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SuspendBody {
    minutes: u32,
}

/// `POST /api/v1/suspend` `{"minutes": N}` (at most 120; 0 resumes): silences the pushes
/// (the page's notifications) for N minutes; never the state, MQTT or the history.
async fn suspend(
    State(s): State<AppState>,
    body: Result<Json<SuspendBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    if body.minutes > MAX_SUSPEND_MINUTES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "minutes must be from 0 (resume) to {MAX_SUSPEND_MINUTES}, not {}",
                body.minutes
            ),
        ));
    }
    let hub = s.0.hub.clone().ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "no live source to suspend alerts of")
    })?;
    let until = hub.suspend(body.minutes);
    Ok(Json(json!({"until": until, "minutes": body.minutes})))
}

/// The longest suspension of alerts, in minutes.
pub const MAX_SUSPEND_MINUTES: u32 = 120;
