//! `GET /v1/providers/health`: every provider's breaker state and figures, with latency
//! percentiles of its recent calls; and the audit destinations' sink buffers (depth, age).
//! `POST /v1/providers/{name}/breaker`: trips (`{"state": "open"}`) or resets
//! (`{"state": "closed"}`) a breaker by hand.

use super::{typed_body, Shared};
use crate::error::ApiError;
use crate::metrics::state_name;
use acteon_engine::providers::breaker::{BreakerError, BreakerState, HealthFigures};
use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn health(state: Shared) -> Json<Value> {
    let buffers = state
        .config
        .engine
        .backpressure
        .as_ref()
        .map(|b| b.figures())
        .unwrap_or_default();
    let Some(generation) = state.engine.current() else {
        return Json(json!({ "providers": [], "sink_buffers": buffers }));
    };
    // Dry-run providers have no breaker and no figures: they are listed with zeros.
    let mut figures = generation.health().snapshot();
    for provider in &generation.plan.providers {
        if !figures.iter().any(|f| f.provider == provider.name) {
            figures.push(HealthFigures {
                provider: provider.name.clone(),
                state: None,
                successes: 0,
                failures: 0,
                rejected: 0,
                fallback_deliveries: 0,
                mean_latency_ms: 0.0,
                max_latency_ms: 0,
            });
        }
    }
    figures.sort_by(|a, b| a.provider.cmp(&b.provider));
    let providers: Vec<Value> = figures
        .iter()
        .map(|f| {
            let calls = f.successes + f.failures;
            let mut value = json!({
                "provider": f.provider,
                "healthy": f.state.is_none_or(|s| s != BreakerState::Open),
                "circuit_breaker_state": f.state.map(state_name),
                "total_requests": calls,
                "successes": f.successes,
                "failures": f.failures,
                "rejected": f.rejected,
                "fallback_deliveries": f.fallback_deliveries,
                "success_rate": if calls == 0 { 1.0 } else { f.successes as f64 / calls as f64 },
                "avg_latency_ms": f.mean_latency_ms,
                "max_latency_ms": f.max_latency_ms,
            });
            let percentiles = state.metrics.percentiles(&f.provider);
            for (key, ms) in [
                ("p50_latency_ms", percentiles.map(|p| p.p50_latency_ms)),
                ("p95_latency_ms", percentiles.map(|p| p.p95_latency_ms)),
                ("p99_latency_ms", percentiles.map(|p| p.p99_latency_ms)),
            ] {
                value[key] = json!(ms.unwrap_or(0));
            }
            value
        })
        .collect();
    Json(json!({ "providers": providers, "sink_buffers": buffers }))
}

#[derive(serde::Deserialize)]
struct SetBreaker {
    state: String,
}

pub async fn set_breaker(
    state: Shared,
    Path(provider): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let asked: SetBreaker = typed_body(&state, body).await?;
    let wanted = match asked.state.as_str() {
        "open" => BreakerState::Open,
        "closed" => BreakerState::Closed,
        other => {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("`state` is `open` or `closed`, not `{other}`"),
            ))
        }
    };
    let generation = state.engine.current().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine_unavailable",
            "the engine is not running (shutting down?)",
        )
    })?;
    let now = generation
        .health()
        .set_state(&provider, wanted)
        .map_err(|error| {
            // A dry run's providers are declared but have no breakers.
            let declared = generation.plan.providers.iter().any(|p| p.name == provider);
            match error {
                BreakerError::NoProvider(_) if !declared => {
                    ApiError::not_found("provider", &provider)
                }
                BreakerError::NoProvider(_) => {
                    ApiError::conflict(BreakerError::NoBreaker(provider.clone()).to_string())
                }
                BreakerError::NoBreaker(_) | BreakerError::HalfOpen => {
                    ApiError::conflict(error.to_string())
                }
            }
        })?;
    state
        .metrics
        .sample_breakers(&generation.health().snapshot());
    Ok(Json(json!({
        "provider": provider,
        "circuit_breaker_state": state_name(now),
    })))
}
