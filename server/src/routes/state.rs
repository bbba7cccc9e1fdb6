//! State views read from the audit: `GET /v1/events` (each action's latest state) and
//! `GET /v1/groups` (groups waiting to flush); `DELETE /v1/groups/{key}`.
//!
//! Both read the server's indexed views ([`crate::views`]), folded from the audit as it is
//! written: right for every engine generation, paged, and never a copy of the whole audit.

use super::{Params, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use acteon_engine::time::{format_rfc3339_ms, wall_clock_ms};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Filters: namespace, tenant, state (an outcome name); pages of `limit` (default 100) from
/// `cursor`. An event is kept for the tenant's retention `events` TTL after its last record.
pub async fn events(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut params = Params(params);
    let namespace = params.text("namespace");
    let tenant = caller.scope(params.text("tenant"))?;
    let wanted = params.text("state");
    let (start, limit) = paging(&mut params)?;
    let now = wall_clock_ms();
    let page = state.views.events(start, limit, |event| {
        namespace.as_ref().is_none_or(|n| **n == *event.namespace)
            && tenant.as_ref().is_none_or(|t| **t == *event.tenant)
            && caller.sees(&event.tenant)
            && wanted.as_deref().is_none_or(|w| event.state.name() == w)
            && state
                .policies
                .event_ttl_ms(&event.namespace, &event.tenant)
                .is_none_or(|ttl| event.updated_at_ms + ttl as i64 > now)
    });
    let events: Vec<Value> = page
        .items
        .iter()
        .map(|event| {
            json!({
                "action_id": &*event.action_id,
                "namespace": &*event.namespace,
                "tenant": &*event.tenant,
                "action_type": &*event.action_type,
                "state": event.state.name(),
                "rule": event.rule.as_deref(),
                "target": event.target.as_deref(),
                "records": event.records,
                "updated_at": format_rfc3339_ms(event.updated_at_ms),
            })
        })
        .collect();
    Ok(Json(json!({
        "count": events.len(),
        "events": events,
        "next_cursor": page.next.map(encode_cursor),
    })))
}

/// Groups with members `grouped` and not yet in a `group_flushed` batch, in pages of `limit`
/// (default 100) from `cursor`.
pub async fn groups(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut params = Params(params);
    let (start, limit) = paging(&mut params)?;
    let page = state
        .views
        .groups(start, limit, |(_, _, tenant, _)| caller.sees(tenant));
    let groups: Vec<Value> = page
        .items
        .iter()
        .map(|((rule, namespace, tenant, group_key), members)| {
            json!({
                "group_key": group_key,
                "rule": rule,
                "namespace": namespace,
                "tenant": tenant,
                "event_count": members.len(),
                "state": "pending",
                "members": members.iter().map(|m| &*m.action_id).collect::<Vec<_>>(),
                "created_at": format_rfc3339_ms(members[0].dispatched_at_ms),
            })
        })
        .collect();
    Ok(Json(json!({
        "total": groups.len(),
        "groups": groups,
        "next_cursor": page.next.map(encode_cursor),
    })))
}

/// `cursor` and `limit` of a paged view: where to start, and how many at most (default 100,
/// at most 1,000).
fn paging(params: &mut Params) -> Result<(usize, usize), ApiError> {
    let start = match params.text("cursor") {
        None => 0,
        Some(cursor) => cursor
            .strip_prefix('p')
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(|| {
                ApiError::bad_request("invalid_parameter", format!("no such cursor `{cursor}`"))
            })?,
    };
    let limit = params.number("limit")?.unwrap_or(100).clamp(1, 1000);
    Ok((start, limit))
}

fn encode_cursor(place: usize) -> String {
    format!("p{place}")
}

/// Flushing a group before its wait ends needs the group operator's cooperation, which the
/// engine does not offer yet: a pending group is refused with 501, an unknown one is 404.
pub async fn flush_group(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let known = !state
        .views
        .groups(0, 1, |(_, _, tenant, group_key)| {
            *group_key == key && caller.sees(tenant)
        })
        .items
        .is_empty();
    if !known {
        return Err(ApiError::not_found("pending group", &key));
    }
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "not_supported",
        "flushing a group early is not supported yet: it flushes when its wait ends",
    ))
}
