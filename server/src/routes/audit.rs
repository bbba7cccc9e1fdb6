//! `GET /v1/audit` (filters and paging) and `GET /v1/audit/{action_id}`.

use super::{Params, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use acteon_dsl::plan::Outcome;
use acteon_engine::audit::store::AuditQuery;
use acteon_engine::time::parse_rfc3339_ms;
use axum::extract::{Path, Query};
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Filters: namespace, tenant, provider (own or called), action_type, outcome, rule, chain_id,
/// action_id, from and to (RFC 3339, on `dispatched_at`, half open); paging: limit, cursor.
pub async fn list(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut params = Params(params);
    let time = |params: &mut Params, name: &str| -> Result<Option<i64>, ApiError> {
        params
            .text(name)
            .map(|text| {
                parse_rfc3339_ms(&text).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("`{name}` must be an RFC 3339 time, not `{text}`"),
                    )
                })
            })
            .transpose()
    };
    let outcome = params
        .text("outcome")
        .map(|name| {
            Outcome::from_name(&name).ok_or_else(|| {
                ApiError::bad_request("invalid_parameter", format!("`{name}` is not an outcome"))
            })
        })
        .transpose()?;
    let query = AuditQuery {
        namespace: params.text("namespace"),
        tenant: caller.scope(params.text("tenant"))?,
        outcome,
        provider: params.text("provider"),
        rule: params.text("rule"),
        action_type: params.text("action_type"),
        chain_id: params.text("chain_id"),
        action_id: params.text("action_id"),
        from_ms: time(&mut params, "from")?,
        to_ms: time(&mut params, "to")?,
        limit: params.number("limit")?,
        cursor: params.text("cursor"),
    };
    let page = state
        .store
        .query(&query)
        .map_err(|e| ApiError::bad_request("invalid_cursor", e.to_string()))?;
    Ok(Json(json!(page)))
}

/// Every record of one action (its decision, releases, chain steps), oldest first.
pub async fn one(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(action_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let records: Vec<_> = state
        .store
        .records()
        .into_iter()
        .filter(|r| *r.action_id == *action_id && caller.sees(&r.tenant))
        .collect();
    if records.is_empty() {
        return Err(ApiError::not_found("audited action", &action_id));
    }
    Ok(Json(json!({ "action_id": action_id, "records": records })))
}
