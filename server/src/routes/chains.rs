//! `GET /v1/chains` (filters: namespace, tenant, status), `GET /v1/chains/{id}`,
//! `POST /v1/chains/{id}/cancel`.
//!
//! A chain status does not carry its tenant: it is read from the `chain_started` record of
//! the action that started it.

use super::{Params, Shared};
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use acteon_dsl::plan::Outcome;
use acteon_engine::audit::store::AuditQuery;
use acteon_engine::chains::status::ChainStatus;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// (namespace, tenant) of the action that started a chain.
fn owner(app: &App, status: &ChainStatus) -> Option<(String, String)> {
    let page = app
        .store
        .query(&AuditQuery {
            action_id: Some(status.action_id.clone()),
            outcome: Some(Outcome::ChainStarted),
            limit: Some(1),
            ..AuditQuery::default()
        })
        .ok()?;
    let record = page.records.into_iter().next()?;
    Some((record.namespace.to_string(), record.tenant.to_string()))
}

fn view(status: &ChainStatus, owner: Option<(String, String)>) -> Value {
    let mut value = json!(status);
    let (namespace, tenant) = owner.unzip();
    value["namespace"] = json!(namespace);
    value["tenant"] = json!(tenant);
    value
}

pub async fn list(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut params = Params(params);
    let namespace = params.text("namespace");
    let tenant = caller.scope(params.text("tenant"))?;
    let status = params.text("status");
    let mut chains = Vec::new();
    for chain in state.chains.statuses() {
        if status
            .as_deref()
            .is_some_and(|s| json!(chain.state) != json!(s))
        {
            continue;
        }
        let owner = owner(&state, &chain);
        let (ns, t) = owner.clone().unzip();
        if namespace.is_some() && ns != namespace || tenant.is_some() && t != tenant {
            continue;
        }
        if t.as_deref().is_some_and(|t| !caller.sees(t)) {
            continue;
        }
        chains.push(view(&chain, owner));
    }
    Ok(Json(json!({ "count": chains.len(), "chains": chains })))
}

fn find(
    app: &App,
    caller: &Caller,
    id: &str,
) -> Result<(ChainStatus, Option<(String, String)>), ApiError> {
    let status = app
        .chains
        .status(id)
        .ok_or_else(|| ApiError::not_found("chain", id))?;
    let owner = owner(app, &status);
    if let Some((_, tenant)) = &owner {
        caller.check(tenant)?;
    }
    Ok((status, owner))
}

pub async fn one(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (status, owner) = find(&state, &caller, &id)?;
    Ok(Json(view(&status, owner)))
}

/// `POST /v1/chains/{id}/cancel`: 202 once asked; the chain ends as `chain_cancelled` when
/// its operator next runs.
pub async fn cancel(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(path): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(id) = path.strip_suffix("/cancel") else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_route",
            "no such route",
        ));
    };
    let (status, _) = find(&state, &caller, id)?;
    if !state.chains.cancel(id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "chain_finished",
            format!("chain `{id}` has already ended ({:?})", status.state),
        ));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "chain_id": id, "cancel_requested": true })),
    ))
}
