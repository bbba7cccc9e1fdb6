//! `/v1/quotas` and `/v1/retention`: create, list, get, update, delete. A change starts an
//! engine generation with the new policies (see `app`).

use super::{typed_body, Params, Shared};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::policies::{usage, QuotaPolicy, QuotaRequest, RetentionPolicy, RetentionRequest};
use acteon_engine::time::wall_clock_ms;
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Applies a policy change off the async threads (starting a generation blocks briefly).
async fn apply(app: &Arc<App>) -> Result<(), ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || app.apply_policies())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

fn filter(
    params: HashMap<String, String>,
    caller: &Caller,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let mut params = Params(params);
    Ok((
        params.text("namespace"),
        caller.scope(params.text("tenant"))?,
    ))
}

fn in_scope(
    namespace: &Option<String>,
    tenant: &Option<String>,
    ns: &Option<String>,
    t: &str,
) -> bool {
    tenant.as_deref().is_none_or(|w| w == t)
        && namespace
            .as_ref()
            .is_none_or(|w| ns.as_ref().is_none_or(|n| n == w))
}

fn quota_view(app: &App, quota: &QuotaPolicy) -> Value {
    let mut value = json!(quota);
    let used = usage(&app.store, quota, wall_clock_ms());
    value["usage"] = json!({ "used": used, "remaining": quota.max_actions.saturating_sub(used) });
    value
}

pub async fn list_quotas(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (namespace, tenant) = filter(params, &caller)?;
    let quotas: Vec<Value> = state
        .policies
        .quotas()
        .iter()
        .filter(|q| {
            in_scope(&namespace, &tenant, &q.namespace, &q.tenant) && caller.sees(&q.tenant)
        })
        .map(|q| quota_view(&state, q))
        .collect();
    Ok(Json(json!({ "count": quotas.len(), "quotas": quotas })))
}

fn visible_quota(app: &App, caller: &Caller, id: &str) -> Result<QuotaPolicy, ApiError> {
    let quota = app
        .policies
        .quota(id)
        .ok_or_else(|| ApiError::not_found("quota", id))?;
    caller.check(&quota.tenant)?;
    Ok(quota)
}

pub async fn get_quota(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let quota = visible_quota(&state, &caller, &id)?;
    Ok(Json(quota_view(&state, &quota)))
}

pub async fn create_quota(
    state: Shared,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.changeable()?;
    let request: QuotaRequest = typed_body(&state, body).await?;
    caller.check(&request.tenant)?;
    let quota = state.policies.put_quota(None, request)?;
    apply(&state.0).await?;
    Ok((StatusCode::CREATED, Json(quota_view(&state, &quota))))
}

pub async fn update_quota(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    visible_quota(&state, &caller, &id)?;
    state.changeable()?;
    let request: QuotaRequest = typed_body(&state, body).await?;
    caller.check(&request.tenant)?;
    let quota = state.policies.put_quota(Some(&id), request)?;
    apply(&state.0).await?;
    Ok(Json(quota_view(&state, &quota)))
}

pub async fn delete_quota(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    visible_quota(&state, &caller, &id)?;
    state.changeable()?;
    state.policies.delete_quota(&id)?;
    apply(&state.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_retention(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (namespace, tenant) = filter(params, &caller)?;
    let policies: Vec<RetentionPolicy> = state
        .policies
        .retention()
        .into_iter()
        .filter(|r| {
            in_scope(&namespace, &tenant, &r.namespace, &r.tenant) && caller.sees(&r.tenant)
        })
        .collect();
    Ok(Json(
        json!({ "count": policies.len(), "policies": policies }),
    ))
}

fn visible_retention(app: &App, caller: &Caller, id: &str) -> Result<RetentionPolicy, ApiError> {
    let policy = app
        .policies
        .retention_policy(id)
        .ok_or_else(|| ApiError::not_found("retention policy", id))?;
    caller.check(&policy.tenant)?;
    Ok(policy)
}

pub async fn get_retention(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(visible_retention(&state, &caller, &id)?)))
}

pub async fn create_retention(
    state: Shared,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.changeable()?;
    let request: RetentionRequest = typed_body(&state, body).await?;
    caller.check(&request.tenant)?;
    let policy = state.policies.put_retention(None, request)?;
    apply(&state.0).await?;
    Ok((StatusCode::CREATED, Json(json!(policy))))
}

pub async fn update_retention(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    visible_retention(&state, &caller, &id)?;
    state.changeable()?;
    let request: RetentionRequest = typed_body(&state, body).await?;
    caller.check(&request.tenant)?;
    let policy = state.policies.put_retention(Some(&id), request)?;
    apply(&state.0).await?;
    Ok(Json(json!(policy)))
}

pub async fn delete_retention(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    visible_retention(&state, &caller, &id)?;
    state.changeable()?;
    state.policies.delete_retention(&id)?;
    apply(&state.0).await?;
    Ok(StatusCode::NO_CONTENT)
}
