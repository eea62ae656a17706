//! The OpenAPI document of `GET /api/v1/openapi.json`: its frame (title, version, the bearer
//! token's scheme, the tags) is here; its paths and schemas come from the handlers' own
//! `#[utoipa::path]` descriptions and the types in [`super::api`], collected as the router
//! registers each route (`utoipa-axum`), so a route cannot be served and missing from it.

use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The security scheme's name the handlers' `security(("bearer" = []))` refers to.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "edge-infer",
        description = "The infant-cry monitor's HTTP API: live state and events, the event \
                       history, night summaries, classification of uploads, health and metrics. \
                       With a token configured, every route but /healthz (and the page's login) \
                       needs it: `Authorization: Bearer TOKEN`, or the cookie the login sets."
    ),
    modifiers(&BearerToken),
    tags(
        (name = "live", description = "The monitor now: state, the live stream, suspending pushes"),
        (name = "history", description = "Events kept in the state directory, and nights"),
        (name = "classify", description = "Classification of an uploaded recording"),
        (name = "service", description = "Health, metrics and this document"),
        (name = "page", description = "The live page for a phone, and its login"),
    )
)]
struct Frame;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, document: &mut Document) {
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                BEARER,
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// The frame the router adds its routes to.
pub fn document() -> Document {
    Frame::openapi()
}

/// Without a token (loopback only) no route needs one: the document says so.
pub fn without_token(document: &mut Document) {
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            operation.security = None;
        }
    }
    if let Some(components) = document.components.as_mut() {
        components.security_schemes.clear();
    }
}

/// `path` needs no token (`/metrics` with `--http-public-metrics`).
pub fn public(document: &mut Document, path: &str) {
    if let Some(item) = document.paths.paths.get_mut(path) {
        for operation in operations(item) {
            operation.security = None;
        }
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}
