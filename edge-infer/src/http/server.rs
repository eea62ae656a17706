//! The HTTP server: axum on a tokio runtime of its own thread, so nothing it does runs on the
//! inference loop. Public routes (`/healthz`, and `/metrics` with `--http-public-metrics`) and
//! protected ones behind the token; a body limit, a limit on classifications at once that
//! answers 429, a request timeout, timing headers, and a graceful stop.

use std::convert::Infallible;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Multipart, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};
use tower_http::timeout::TimeoutLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{
    ErrorBody, EventsPage, EventsParams, Health, ModelInfo, MonitorState, NightsPage, NightsParams,
    SuspendRequest, Suspension, Thresholds, Upload,
};
use super::config::{HttpConfig, REQUEST_TIMEOUT, Token};
use super::hub::{CLIENT_LAG, LiveHub, Message};
use super::metrics::Metrics;
use super::{openapi, page};
use crate::clips::ClipClassifier;
use crate::engine::Engine;
use crate::history::{EventQuery, History, MAX_PAGE};
use crate::output::classify::ClassifiedFile;
use crate::output::json::round;

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
            Json(ErrorBody {
                error: self.message,
                code,
            }),
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

    /// `/api/v1/state` in `serve`: the model, no live fields.
    fn state(&self, uptime_s: f64) -> MonitorState {
        MonitorState {
            mode: "serve",
            crying: None,
            since: None,
            since_unix_time: None,
            reason: None,
            reason_prob: None,
            cry_prob: None,
            level_dbfs: None,
            last_window: None,
            thresholds: Thresholds {
                cry_prob: self.clips.cry_threshold(),
                gate_dbfs: None,
            },
            model: ModelInfo {
                name: self.clips.model_name().to_string(),
                labels: self.clips.labels().to_vec(),
            },
            uptime_s,
            windows: 0,
            dropped_samples: 0,
            suspended_until: None,
        }
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
    /// `GET /api/v1/openapi.json`, generated with the router.
    openapi: OnceLock<String>,
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
            openapi: OnceLock::new(),
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
            None => run_until_stopped(listener.tap_io(|tcp| tune(tcp)), app, stopped).await,
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

/// Bytes of the kernel's send buffer per connection (Linux doubles it). Linux lets a socket's
/// buffer grow to 4 MiB, so a client that stops reading (a phone asleep with the page open)
/// could pin that much kernel memory on a Pi and sit minutes behind the live stream before its
/// own queue filled; with this cap it holds little, and is dropped once its queue fills
/// (`/api/v1/live`). Answers are small (the page, JSON), so nothing else notices.
const SEND_BUFFER: usize = 32 * 1024;
/// How long what the server sent may stay unacknowledged, or unsent because the client's
/// window is shut, before the kernel closes the connection (`TCP_USER_TIMEOUT`): a dropped
/// live client that never reads again is gone after this, not kept open for good. A page
/// that wakes up reconnects and gets the last 10 minutes first.
pub const STUCK_CLIENT: Duration = Duration::from_secs(20);

/// A new connection's socket options ([`SEND_BUFFER`], [`STUCK_CLIENT`]).
fn tune(tcp: &tokio::net::TcpStream) {
    let socket = socket2::SockRef::from(tcp);
    if let Err(e) = socket.set_send_buffer_size(SEND_BUFFER) {
        log::debug!("HTTP server: cannot set a connection's send buffer: {e}");
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = socket.set_tcp_user_timeout(Some(STUCK_CLIENT)) {
        log::debug!("HTTP server: cannot set a connection's TCP_USER_TIMEOUT: {e}");
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
                tune(&stream);
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

/// The routes, each registered with its OpenAPI description (`utoipa-axum`), so the document
/// `GET /api/v1/openapi.json` answers lists exactly the routes this server serves.
fn router(state: AppState, public_metrics: bool, max_body: usize) -> Router {
    let has_live = state.0.hub.is_some();
    let mut public = OpenApiRouter::with_openapi(openapi::document()).routes(routes!(healthz));
    if has_live {
        // The page checks the token itself: without it, it answers the login form.
        public = public
            .routes(routes!(page::index))
            .routes(routes!(page::login))
            .routes(routes!(page::script))
            .routes(routes!(page::style));
    }
    let (schemas, paths, classify_route) = routes!(classify);
    let classify_route = classify_route.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ));
    // In `serve`, the live routes answer 404 saying why.
    let mut protected = OpenApiRouter::new()
        .routes(routes!(live_state))
        .routes(routes!(live))
        .routes(routes!(events))
        .routes(routes!(nights))
        .routes(routes!(suspend))
        .routes((schemas, paths, classify_route))
        .routes(routes!(openapi_json));
    if public_metrics {
        public = public.routes(routes!(metrics));
    } else {
        protected = protected.routes(routes!(metrics));
    }
    let protected =
        protected.route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let (router, mut document) = public.merge(protected).split_for_parts();
    if state.0.token.is_none() {
        openapi::without_token(&mut document);
    }
    if public_metrics {
        openapi::public(&mut document, "/metrics");
    }
    let text = document.to_pretty_json().unwrap_or_else(|e| {
        log::error!("cannot write the OpenAPI document: {e}");
        "{}".into()
    });
    let _ = state.0.openapi.set(text);
    router
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

/// `GET /healthz`: 200 while the inference loop produced a window within 10 s (in `serve`,
/// while the model is loaded), 503 with the reason otherwise. Never needs the token.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "Working", body = Health),
        (status = 503, description = "The audio source stalled", body = Health)))]
async fn healthz(State(s): State<AppState>) -> Response {
    match s.0.hub.as_ref().map(|h| h.health()) {
        None | Some(Ok(())) => Json(Health {
            status: "ok",
            reason: None,
        })
        .into_response(),
        Some(Err(reason)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "unavailable",
                reason: Some(reason),
            }),
        )
            .into_response(),
    }
}

/// `GET /api/v1/state`: crying or not, since when, the reason, the latest cry probability and
/// level, the thresholds, the model, uptime and dropped samples.
#[utoipa::path(get, path = "/api/v1/state", tag = "live",
    responses(
        (status = 200, description = "The state now", body = MonitorState),
        (status = 401, description = "No token or a wrong one", body = ErrorBody)),
    security(("bearer" = [])))]
async fn live_state(State(s): State<AppState>) -> Json<MonitorState> {
    Json(match &s.0.hub {
        Some(hub) => hub.state(),
        None => {
            s.0.classify
                .state(round(s.0.started.elapsed().as_secs_f64(), 1))
        }
    })
}

/// `GET /metrics`: Prometheus text (OpenMetrics). Needs the token unless
/// `--http-public-metrics`.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses(
        (status = 200, description = "Windows, inference latency, dropped samples, events, alert sinks, HTTP requests, live clients, build info", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "No token or a wrong one", body = ErrorBody)),
    security(("bearer" = [])))]
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
#[utoipa::path(get, path = "/api/v1/live", tag = "live",
    responses(
        (status = 200, description = "Server-Sent Events: `window` (`t`, `cry_prob`, `level_dbfs`, `label`, `probs`), `event` (the MQTT event payload with its `seq`; also `alerts_suspended` and `alerts_resumed`), `suspend` (`until`, `minutes`), `ping` every 15 s", content_type = "text/event-stream", body = String),
        (status = 401, description = "No token or a wrong one", body = ErrorBody),
        (status = 404, description = "`serve`: no live source", body = ErrorBody)),
    security(("bearer" = [])))]
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
#[utoipa::path(post, path = "/api/v1/classify", tag = "classify",
    request_body(description = "An audio file in any format edge-infer decodes: the raw body, or the `file` field of a multipart form", content(
        (Vec<u8> = "application/octet-stream"),
        (Upload = "multipart/form-data"))),
    responses(
        (status = 200, description = "The clip's reason and probabilities (and cry probability with a two-head model)", body = ClassifiedFile,
            headers(("x-inference-time" = String, description = "Milliseconds of decoding and inference"))),
        (status = 400, description = "Not audio, or cut short: the decoder's message", body = ErrorBody),
        (status = 401, description = "No token or a wrong one", body = ErrorBody),
        (status = 408, description = "The upload took longer than the read timeout (no body)"),
        (status = 413, description = "Larger than --http-max-body", body = ErrorBody),
        (status = 429, description = "As many classifications as --http-max-concurrent are running", body = ErrorBody,
            headers(("retry-after" = String, description = "Seconds")))),
    security(("bearer" = [])))]
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

/// Events answered when `limit` is not given.
const DEFAULT_PAGE: usize = 100;

/// `GET /api/v1/events?after=SEQ&since=T&until=T&limit=N`: events from the history, oldest
/// first (the first `limit` after `after`, or the newest `limit`), as their payloads;
/// `last_seq` is what to pass as `after` for the next page.
#[utoipa::path(get, path = "/api/v1/events", tag = "history", params(EventsParams),
    responses(
        (status = 200, description = "A page of events", body = EventsPage),
        (status = 400, description = "A bad query: the problem named", body = ErrorBody),
        (status = 401, description = "No token or a wrong one", body = ErrorBody),
        (status = 404, description = "`serve`: no history", body = ErrorBody)),
    security(("bearer" = [])))]
async fn events(
    State(s): State<AppState>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<EventsPage>, ApiError> {
    let Query(p) = params.map_err(|e| bad_query(&e))?;
    let query = EventQuery {
        after: p.after,
        since: p.since,
        until: p.until,
        limit: in_range("limit", p.limit.unwrap_or(DEFAULT_PAGE), MAX_PAGE)?,
    };
    let events = read_history(&s.0, move |h| h.events(&query)).await?;
    let last_seq = events.last().and_then(|e| e["seq"].as_u64());
    Ok(Json(EventsPage { events, last_seq }))
}

/// Nights `/api/v1/nights` summarises at most.
const MAX_NIGHTS: usize = 366;

/// `GET /api/v1/nights?last=N`: the last N nights (default 7), oldest first, the current one
/// last.
#[utoipa::path(get, path = "/api/v1/nights", tag = "history", params(NightsParams),
    responses(
        (status = 200, description = "Per night: cry episodes, minutes crying, the longest episode, first and last cry, reasons", body = NightsPage),
        (status = 400, description = "A bad query: the problem named", body = ErrorBody),
        (status = 401, description = "No token or a wrong one", body = ErrorBody),
        (status = 404, description = "`serve`: no history", body = ErrorBody)),
    security(("bearer" = [])))]
async fn nights(
    State(s): State<AppState>,
    params: Result<Query<NightsParams>, QueryRejection>,
) -> Result<Json<NightsPage>, ApiError> {
    let Query(p) = params.map_err(|e| bad_query(&e))?;
    let last = in_range("last", p.last.unwrap_or(7), MAX_NIGHTS)?;
    let hours = history_of(&s.0)?.night_hours();
    let nights = read_history(&s.0, move |h| h.nights(last, crate::clock::unix_now())).await?;
    Ok(Json(NightsPage {
        night_hours: hours.to_string(),
        nights,
    }))
}

/// `POST /api/v1/suspend` `{"minutes": N}` (at most 120; 0 resumes): silences the pushes
/// (webhooks, the page's notifications) for N minutes; never the state, MQTT or the history.
/// The suspension and its end are events of the history.
#[utoipa::path(post, path = "/api/v1/suspend", tag = "live", request_body = SuspendRequest,
    responses(
        (status = 200, description = "Suspended until `until` (or resumed)", body = Suspension),
        (status = 400, description = "More than 120 minutes", body = ErrorBody),
        (status = 401, description = "No token or a wrong one", body = ErrorBody),
        (status = 404, description = "`serve`: nothing to suspend", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not `{\"minutes\": N}`", body = ErrorBody)),
    security(("bearer" = [])))]
async fn suspend(
    State(s): State<AppState>,
    body: Result<Json<SuspendRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Suspension>, ApiError> {
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
    Ok(Json(Suspension {
        until,
        minutes: body.minutes,
    }))
}

/// `GET /api/v1/openapi.json`: this document, describing every route the server serves.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses(
        (status = 200, description = "OpenAPI 3.1", content_type = "application/json", body = Object),
        (status = 401, description = "No token or a wrong one", body = ErrorBody)),
    security(("bearer" = [])))]
async fn openapi_json(State(s): State<AppState>) -> Response {
    let text = s.0.openapi.get().cloned().unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// The longest suspension of alerts, in minutes.
pub const MAX_SUSPEND_MINUTES: u32 = 120;
