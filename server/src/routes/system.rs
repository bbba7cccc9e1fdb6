//! `GET /health`, `GET /metrics` (Prometheus text), `GET /openapi.json`, and
//! `POST /v1/rules/reload` (the reload the file watcher does, on demand).

use super::Shared;
use crate::app::Reload;
use crate::error::ApiError;
use crate::metrics::Gauges;
use crate::policies::usage;
use acteon_engine::time::wall_clock_ms;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The OpenAPI document of every route, written by hand beside the routes.
const OPENAPI: &str = include_str!("../openapi.json");

pub async fn health(state: Shared) -> (StatusCode, Json<Value>) {
    match state.engine.current() {
        Some(generation) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "generation": generation.number,
                "rules": generation.plan.rules.len(),
                "audit_records": state.store.len(),
            })),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "stopped" })),
        ),
    }
}

pub async fn metrics(state: Shared) -> impl IntoResponse {
    let mut gauges = Gauges::default();
    if let Some(generation) = state.engine.current() {
        gauges.breakers = generation
            .health()
            .snapshot()
            .into_iter()
            .filter_map(|f| Some((f.provider, f.state?)))
            .collect();
    }
    let mut chains = BTreeMap::new();
    for chain in state.chains.statuses() {
        *chains
            .entry(json!(chain.state).as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    gauges.chains = chains;
    if let Some(backpressure) = &state.config.engine.backpressure {
        gauges.buffers = backpressure.figures();
    }
    let now = wall_clock_ms();
    gauges.quotas = state
        .policies
        .quotas()
        .iter()
        .map(|q| {
            (
                q.id.clone(),
                q.tenant.clone(),
                usage(&state.store, q, now),
                q.max_actions,
            )
        })
        .collect();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&gauges),
    )
}

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// 200 with the new generation, or 422 with the script's diagnostics (the old plan stays).
pub async fn reload(state: Shared) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.changeable()?;
    let app = state.0.clone();
    let outcome = tokio::task::spawn_blocking(move || app.reload())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    Ok(match outcome {
        Reload::Applied { generation } => (
            StatusCode::OK,
            Json(json!({ "reloaded": true, "generation": generation })),
        ),
        Reload::Refused { diagnostics } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": { "code": "script_has_errors", "message": diagnostics } })),
        ),
    })
}
