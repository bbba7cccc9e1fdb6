//! `GET /v1/providers/health`: every provider's breaker state and figures, with latency
//! percentiles of its recent calls; and the audit destinations' sink buffers (depth, age).

use super::Shared;
use crate::metrics::state_name;
use acteon_engine::providers::breaker::{BreakerState, HealthFigures};
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
