//! State views read from the audit: `GET /v1/events` (each action's latest state) and
//! `GET /v1/groups` (groups waiting to flush); `DELETE /v1/groups/{key}`.
//!
//! Both are folds over the audit store, so they are right for every engine generation and
//! cost a scan per request.

use super::{Params, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use acteon_dsl::plan::Outcome;
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::time::{format_rfc3339_ms, wall_clock_ms};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Filters: namespace, tenant, state (an outcome name), limit (default 100). An event is kept
/// for the tenant's retention `events` TTL after its last record.
pub async fn events(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut params = Params(params);
    let namespace = params.text("namespace");
    let tenant = caller.scope(params.text("tenant"))?;
    let wanted = params.text("state");
    let limit = params.number("limit")?.unwrap_or(100);
    let now = wall_clock_ms();
    // Latest record per action, in first-seen order.
    let mut order = Vec::new();
    let mut latest: HashMap<String, (AuditRecord, usize)> = HashMap::new();
    for record in state.store.records() {
        if namespace.as_ref().is_some_and(|n| *n != record.namespace)
            || tenant.as_ref().is_some_and(|t| *t != record.tenant)
            || !caller.sees(&record.tenant)
        {
            continue;
        }
        match latest.get_mut(&*record.action_id) {
            Some((last, count)) => {
                *last = record;
                *count += 1;
            }
            None => {
                order.push(record.action_id.to_string());
                latest.insert(record.action_id.to_string(), (record, 1));
            }
        }
    }
    let events: Vec<Value> = order
        .iter()
        .filter_map(|id| latest.get(id))
        .filter(|(record, _)| wanted.as_deref().is_none_or(|w| record.outcome.name() == w))
        .filter(|(record, _)| {
            let ttl = state
                .policies
                .event_ttl_ms(&record.namespace, &record.tenant);
            let at = record.completed_at_ms;
            ttl.is_none_or(|ttl| at + ttl as i64 > now)
        })
        .take(limit)
        .map(|(record, count)| {
            json!({
                "action_id": record.action_id,
                "namespace": record.namespace,
                "tenant": record.tenant,
                "action_type": record.action_type,
                "state": record.outcome.name(),
                "rule": record.rule,
                "target": record.target,
                "records": count,
                "updated_at": format_rfc3339_ms(record.completed_at_ms),
            })
        })
        .collect();
    Ok(Json(json!({ "count": events.len(), "events": events })))
}

/// Groups with members `grouped` and not yet in a `group_flushed` batch.
pub async fn groups(
    state: Shared,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let mut pending: BTreeMap<(String, String, String, String), Vec<AuditRecord>> = BTreeMap::new();
    for record in state.store.records() {
        if !caller.sees(&record.tenant) {
            continue;
        }
        let key = |record: &AuditRecord| {
            (
                record.rule.as_deref().unwrap_or_default().to_owned(),
                record.namespace.to_string(),
                record.tenant.to_string(),
                record.details["group_key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        match record.outcome {
            Outcome::Grouped => pending.entry(key(&record)).or_default().push(record),
            Outcome::GroupFlushed => {
                let members = record.details["members"].to_json();
                let members: Vec<&str> = members
                    .as_array()
                    .map(|m| m.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(group) = pending.get_mut(&key(&record)) {
                    group.retain(|m| !members.contains(&&*m.action_id));
                }
            }
            _ => {}
        }
    }
    let groups: Vec<Value> = pending
        .into_iter()
        .filter(|(_, members)| !members.is_empty())
        .map(|((rule, namespace, tenant, group_key), members)| {
            json!({
                "group_key": group_key,
                "rule": rule,
                "namespace": namespace,
                "tenant": tenant,
                "event_count": members.len(),
                "state": "pending",
                "members": members.iter().map(|m| m.action_id.to_string()).collect::<Vec<_>>(),
                "created_at": format_rfc3339_ms(members[0].dispatched_at_ms),
            })
        })
        .collect();
    Ok(Json(json!({ "total": groups.len(), "groups": groups })))
}

/// Flushing a group before its wait ends needs the group operator's cooperation, which the
/// engine does not offer yet: a pending group is refused with 501, an unknown one is 404.
pub async fn flush_group(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let Json(listing) = groups(state, Extension(caller)).await?;
    let known = listing["groups"]
        .as_array()
        .is_some_and(|g| g.iter().any(|g| g["group_key"] == key.as_str()));
    if !known {
        return Err(ApiError::not_found("pending group", &key));
    }
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "not_supported",
        "flushing a group early is not supported yet: it flushes when its wait ends",
    ))
}
