//! `/v1/recurring`: create, list, get, update, delete, pause, resume.

use super::{typed_body, Params, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::recurring::{RecurringAction, RecurringRequest, Status};
use acteon_engine::time::wall_clock_ms;
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Filters: namespace, tenant, status (`active` or `paused`).
pub async fn list(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut params = Params(params);
    let namespace = params.text("namespace");
    let tenant = caller.scope(params.text("tenant"))?;
    let status = params.text("status");
    let entries: Vec<RecurringAction> = state
        .recurring
        .list()
        .into_iter()
        .filter(|e| {
            namespace.as_ref().is_none_or(|n| *n == e.namespace)
                && tenant.as_ref().is_none_or(|t| *t == e.tenant)
                && status.as_ref().is_none_or(|s| json!(e.status) == json!(s))
                && caller.sees(&e.tenant)
        })
        .collect();
    Ok(Json(
        json!({ "count": entries.len(), "recurring_actions": entries }),
    ))
}

fn visible(state: &Shared, caller: &Caller, id: &str) -> Result<RecurringAction, ApiError> {
    let entry = state
        .recurring
        .get(id)
        .ok_or_else(|| ApiError::not_found("recurring action", id))?;
    caller.check(&entry.tenant)?;
    Ok(entry)
}

pub async fn one(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(visible(&state, &caller, &id)?)))
}

pub async fn create(
    state: Shared,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request: RecurringRequest = typed_body(&state, body).await?;
    caller.check(&request.tenant)?;
    let entry = state.recurring.put(None, request, wall_clock_ms())?;
    Ok((StatusCode::CREATED, Json(json!(entry))))
}

pub async fn update(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    visible(&state, &caller, &id)?;
    let request: RecurringRequest = typed_body(&state, body).await?;
    caller.check(&request.tenant)?;
    Ok(Json(json!(state.recurring.put(
        Some(&id),
        request,
        wall_clock_ms()
    )?)))
}

pub async fn remove(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    visible(&state, &caller, &id)?;
    state.recurring.delete(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn pause(
    state: Shared,
    caller: Extension<Caller>,
    id: Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(state, caller, id, Status::Paused)
}

pub async fn resume(
    state: Shared,
    caller: Extension<Caller>,
    id: Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(state, caller, id, Status::Active)
}

fn set_status(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    status: Status,
) -> Result<Json<Value>, ApiError> {
    visible(&state, &caller, &id)?;
    let entry = state.recurring.set_status(&id, status, wall_clock_ms())?;
    Ok(Json(json!(entry)))
}
