//! The HTTP routes, one file per resource, and what they share: reading a JSON body within
//! the size limit, and reading query parameters with errors a client can act on.

mod audit;
mod chains;
mod console;
mod dispatch;
mod policies;
mod providers;
mod recurring;
mod state;
mod system;
mod tables;

use crate::app::App;
use crate::auth::authenticate;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub type Shared = State<Arc<App>>;

/// Every route of the API.
pub fn router(app: Arc<App>) -> Router {
    let keys = app.keys.clone();
    Router::new()
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi))
        .route(
            "/v1/dispatch",
            post(dispatch::single).layer(middleware::from_fn_with_state(app.clone(), hold_back)),
        )
        .route(
            "/v1/dispatch/batch",
            post(dispatch::batch).layer(middleware::from_fn_with_state(app.clone(), hold_back)),
        )
        .route("/v1/audit", get(audit::list))
        .route("/v1/audit/{action_id}", get(audit::one))
        .route("/v1/chains", get(chains::list))
        // Chain ids hold slashes (`ACTION/CHAIN`, sub-chains `ACTION/CHAIN/STEP`): the rest of
        // the path is the id, and a POST to `ID/cancel` cancels.
        .route("/v1/chains/{*id}", get(chains::one).post(chains::cancel))
        .route("/v1/events", get(state::events))
        .route("/v1/groups", get(state::groups))
        .route("/v1/groups/{key}", delete(state::flush_group))
        .route("/v1/providers/health", get(providers::health))
        .route("/v1/providers/{name}/breaker", post(providers::set_breaker))
        .route(
            "/v1/quotas",
            get(policies::list_quotas).post(policies::create_quota),
        )
        .route(
            "/v1/quotas/{id}",
            get(policies::get_quota)
                .put(policies::update_quota)
                .delete(policies::delete_quota),
        )
        .route(
            "/v1/retention",
            get(policies::list_retention).post(policies::create_retention),
        )
        .route(
            "/v1/retention/{id}",
            get(policies::get_retention)
                .put(policies::update_retention)
                .delete(policies::delete_retention),
        )
        .route(
            "/v1/recurring",
            get(recurring::list).post(recurring::create),
        )
        .route(
            "/v1/recurring/{id}",
            get(recurring::one)
                .put(recurring::update)
                .delete(recurring::remove),
        )
        .route("/v1/recurring/{id}/pause", post(recurring::pause))
        .route("/v1/recurring/{id}/resume", post(recurring::resume))
        .route("/v1/tables/{name}", get(tables::list))
        .route(
            "/v1/tables/{name}/{key}",
            get(tables::one).put(tables::put).delete(tables::remove),
        )
        .route("/v1/rules/reload", post(system::reload))
        .route("/v1/rules/explain", post(console::explain))
        .route("/v1/plan", get(console::plan))
        .route("/v1/tail", get(console::tail))
        .route("/v1/console/overview", get(console::overview))
        .route("/v1/console/whoami", get(console::whoami))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), settled_reads))
        .layer(middleware::from_fn_with_state(keys, authenticate))
        // The console's page and assets, added after the key check so they need no key.
        .route("/ui", get(console::ui))
        .route("/ui/", get(console::ui))
        .route("/ui/{*path}", get(console::ui))
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such route")
}

/// A read sees every decision answered before it: it waits (briefly) until their records are
/// in the audit store ([`crate::dispatch::Dispatcher::settled`]).
async fn settled_reads(State(app): Shared, request: Request, next: Next) -> Response {
    if request.method() == axum::http::Method::GET {
        app.dispatcher.settled().await;
    }
    next.run(request).await
}

/// What a client is told to wait before it sends again while a sink buffer is full: the buffer
/// lets the input in again once it is half empty, which a destination that is back reaches in
/// moments, and a refused request costs the server next to nothing.
const RETRY_AFTER_SECONDS: u64 = 1;

/// 503 with `Retry-After` while a sink buffer is full: an action answered now would add to a
/// buffer that is already at its bound (nothing is dropped either way; this keeps the buffer
/// bounded).
async fn hold_back(State(app): Shared, request: Request, next: Next) -> Response {
    let full = app
        .config
        .engine
        .backpressure
        .as_ref()
        .is_some_and(|b| b.engaged());
    if !full {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "sink_buffer_full",
        "an audit destination is down and its buffer is full: try again later",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

async fn count_requests(State(app): Shared, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(none)", |p| p.as_str())
        .to_owned();
    let response = next.run(request).await;
    app.metrics.request(&route, response.status().as_u16());
    response
}

/// The body: 413 over the limit.
async fn body_bytes(app: &App, body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, app.config.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the body is over the limit of {} bytes",
                    app.config.max_body_bytes
                ),
            )
        })
}

/// The body as JSON: 413 over the limit, 400 with the parser's reason when it is not JSON.
async fn json_body(app: &App, body: Body) -> Result<Value, ApiError> {
    let bytes = body_bytes(app, body).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}")))
}

/// The body as `T`: as [`json_body`], and 400 naming the field that does not fit.
async fn typed_body<T: DeserializeOwned>(app: &App, body: Body) -> Result<T, ApiError> {
    let value = json_body(app, body).await?;
    serde_json::from_value(value).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

/// Query parameters, read by name.
struct Params(HashMap<String, String>);

impl Params {
    fn text(&mut self, name: &str) -> Option<String> {
        self.0.remove(name).filter(|v| !v.is_empty())
    }

    fn number(&mut self, name: &str) -> Result<Option<usize>, ApiError> {
        self.text(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("`{name}` must be a whole number, not `{v}`"),
                    )
                })
            })
            .transpose()
    }

    fn flag(&mut self, name: &str) -> Result<bool, ApiError> {
        match self.text(name).as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("`{name}` must be true or false, not `{other}`"),
            )),
        }
    }
}
