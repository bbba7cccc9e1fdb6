//! State views read from the audit: `GET /v1/events` (each action's latest state) and
//! `GET /v1/groups` (groups waiting to flush); `DELETE /v1/groups/{key}` (flush them now).
//!
//! Both read the server's indexed views ([`crate::views`]), folded from the audit as it is
//! written: right for every engine generation, paged, and never a copy of the whole audit.

use super::{Params, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::views::GroupKey;
use acteon_engine::time::{format_rfc3339_ms, wall_clock_ms};
use axum::extract::{Path, Query};
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

/// Flushes now every waiting group with this key that the caller may see (`?rule=` and
/// `?tenant=` narrow it): each as `group_flushed`, its batch delivered. 404 when no such group
/// is waiting.
pub async fn flush_group(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut params = Params(params);
    let rule = params.text("rule");
    let tenants = match params.text("tenant") {
        Some(tenant) => {
            caller.check(&tenant)?;
            Some(vec![tenant])
        }
        None => caller.tenants.clone(),
    };
    let named = |(group_rule, _, tenant, group_key): &GroupKey| {
        *group_key == key
            && rule.as_ref().is_none_or(|r| r == group_rule)
            && tenants.as_ref().is_none_or(|t| t.contains(tenant))
    };
    let waiting = !state.views.groups(0, 1, named).items.is_empty();
    let flushed = match waiting {
        true => {
            state
                .dispatcher
                .flush_groups(key.clone(), rule, tenants)
                .await?
        }
        false => 0,
    };
    if flushed == 0 {
        return Err(ApiError::not_found("pending group", &key));
    }
    Ok(Json(json!({ "group_key": key, "flushed": flushed })))
}
