//! The live page for a parent's phone: plain HTML, CSS and JavaScript from `page/`, embedded in
//! the binary (no CDN, nothing fetched at run time). It is a client of the API like any other
//! (state, events, nights, the SSE stream, suspend). With a token configured, `GET /` answers
//! the login form until the browser holds the token's cookie, which `POST /login` sets
//! (`HttpOnly`, `SameSite=Strict`): the page's script never sees the token.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::server::{AppState, TOKEN_COOKIE, presented_token};

const INDEX: &str = include_str!("page/index.html");
const LOGIN: &str = include_str!("page/login.html");
const SCRIPT: &str = include_str!("page/page.js");
const STYLE: &str = include_str!("page/page.css");

/// How long the browser keeps the token's cookie, in seconds (a year: a parent signs in once).
const COOKIE_MAX_AGE: u64 = 365 * 24 * 3600;

fn signed_in(s: &AppState, headers: &HeaderMap) -> bool {
    match &s.0.token {
        None => true,
        Some(token) => presented_token(headers).is_some_and(|given| token.matches(given)),
    }
}

fn login_form(status: StatusCode, error: &str) -> Response {
    (status, Html(LOGIN.replace("{{error}}", error))).into_response()
}

/// `GET /`: the page, or the login form without the token.
#[utoipa::path(get, path = "/", tag = "page",
    responses((status = 200, description = "The live page, or the login form without the token's cookie", content_type = "text/html")))]
pub(super) async fn index(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if signed_in(&s, &headers) {
        Html(INDEX).into_response()
    } else {
        login_form(StatusCode::OK, "")
    }
}

/// The login form's fields.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub(super) struct LoginForm {
    /// The token (`--http-token-file`).
    token: String,
}

/// Bytes a cookie value may hold (RFC 6265 `cookie-octet`).
fn cookie_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

/// `POST /login`: the right token sets the cookie and goes to the page; a wrong one is 401.
#[utoipa::path(post, path = "/login", tag = "page",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: the token's cookie (`HttpOnly`, `SameSite=Strict`) is set; to `/`", headers(("set-cookie" = String))),
        (status = 400, description = "No token field, or a token a cookie cannot hold: the form again", content_type = "text/html"),
        (status = 401, description = "Wrong token: the form again", content_type = "text/html")))]
pub(super) async fn login(
    State(s): State<AppState>,
    form: Result<axum::Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(token) = &s.0.token else {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    };
    let Ok(axum::Form(form)) = form else {
        return login_form(StatusCode::BAD_REQUEST, "The form has no token field.");
    };
    let given = form.token.trim();
    if !token.matches(given.as_bytes()) {
        return login_form(StatusCode::UNAUTHORIZED, "Wrong token.");
    }
    if !cookie_safe(given) {
        return login_form(
            StatusCode::BAD_REQUEST,
            "This token has characters a cookie cannot hold (spaces, quotes, commas, semicolons or backslashes): choose another for the page.",
        );
    }
    let secure = if s.0.tls { "; Secure" } else { "" };
    let cookie = format!(
        "{TOKEN_COOKIE}={given}; HttpOnly; SameSite=Strict; Path=/; Max-Age={COOKIE_MAX_AGE}{secure}"
    );
    match HeaderValue::from_str(&cookie) {
        Ok(cookie) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static("/")),
                (header::SET_COOKIE, cookie),
            ],
        )
            .into_response(),
        Err(_) => login_form(StatusCode::BAD_REQUEST, "This token cannot be a cookie."),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /assets/page.js`.
#[utoipa::path(get, path = "/assets/page.js", tag = "page",
    responses((status = 200, description = "The page's script", content_type = "text/javascript")))]
pub(super) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /assets/page.css`.
#[utoipa::path(get, path = "/assets/page.css", tag = "page",
    responses((status = 200, description = "The page's style", content_type = "text/css")))]
pub(super) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
