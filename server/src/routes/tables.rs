//! `/v1/tables/{name}`: a table's rows, paged, and one row by key: read, replaced, deleted.
//!
//! Reads show the rows the running engine holds now. A change is sent to the engine's table
//! source and applied at processing time (the time it arrived): it answers 202 once sent, and
//! the actions dispatched after it read the new row. A row's `tenant` field, when it has one,
//! makes it that tenant's: a key limited to tenants sees and changes only its tenants' rows,
//! and may not change a row that belongs to no tenant.

use super::{json_body, Params, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use acteon_engine::tables::{TableStore, Version, FROM_THE_START};
use acteon_engine::time::{format_rfc3339_ms, wall_clock_ms};
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The row field that gives a row to a tenant.
const TENANT: &str = "tenant";

/// Rows per page unless `limit` says otherwise, and at most.
const PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Rows in key order: `limit` of them after the key `after`; `next` is the key to give as
/// `after` for the next page, `null` on the last one.
pub async fn list(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let store = table(&state, &name)?;
    let mut params = Params(params);
    let limit = params.number("limit")?.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let after = params.text("after");
    let (rows, next) = store.page(after.as_deref(), limit, |version| {
        caller.tenants.is_none() || tenant_of(version).is_none_or(|tenant| caller.sees(&tenant))
    });
    let rows: Vec<Value> = rows.iter().map(|(key, v)| shown(key, v)).collect();
    Ok(Json(
        json!({ "table": name, "rows": rows, "next": next.as_deref() }),
    ))
}

pub async fn one(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let store = table(&state, &name)?;
    let version = visible(&store, &caller, &key)?.ok_or_else(|| missing(&name, &key))?;
    Ok(Json(shown(&key, &version)))
}

/// Replaces the row of `key` with the body (a JSON object); its key field, when given, must
/// be `key`, and is added when not.
pub async fn put(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path((name, key)): Path<(String, String)>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let store = table(&state, &name)?;
    let Value::Object(mut row) = json_body(&state, body).await? else {
        return Err(ApiError::bad_request(
            "invalid_row",
            "a row is a JSON object",
        ));
    };
    let field = store.table.key.clone();
    match row.get(&field) {
        None => {
            row.insert(field, Value::String(key.clone()));
        }
        Some(Value::String(given)) if *given == key => {}
        Some(other) => {
            return Err(ApiError::bad_request(
                "key_mismatch",
                format!("the row's `{field}` is {other}, and its path says `{key}`"),
            ))
        }
    }
    // The key may change the rows of the tenant it gives, and replace only its own.
    changes(&caller, row_tenant(&row).as_deref())?;
    if let Some(current) = visible(&store, &caller, &key)? {
        changes(&caller, tenant_of(&current).as_deref())?;
    }
    let text = Value::Object(row).to_string();
    let sequence = store.send(Arc::from(key.as_str()), Some(text), wall_clock_ms());
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "table": name, "key": key, "sequence": sequence })),
    ))
}

pub async fn remove(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Path((name, key)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let store = table(&state, &name)?;
    let current = visible(&store, &caller, &key)?.ok_or_else(|| missing(&name, &key))?;
    changes(&caller, tenant_of(&current).as_deref())?;
    let sequence = store.send(Arc::from(key.as_str()), None, wall_clock_ms());
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "table": name, "key": key, "sequence": sequence })),
    ))
}

/// The store of a table the running plan reads.
fn table(state: &Shared, name: &str) -> Result<Arc<TableStore>, ApiError> {
    state
        .config
        .engine
        .tables
        .store(name)
        .ok_or_else(|| ApiError::not_found("table read by the running rules", name))
}

fn missing(table: &str, key: &str) -> ApiError {
    ApiError::not_found(&format!("row in table `{table}` with key"), key)
}

/// The row of `key` when the caller may see it; another tenant's row is as good as missing.
fn visible(store: &TableStore, caller: &Caller, key: &str) -> Result<Option<Version>, ApiError> {
    Ok(store
        .get(key)
        .filter(|version| tenant_of(version).is_none_or(|tenant| caller.sees(&tenant))))
}

/// Refuses a change of a row of `tenant` (`None`: of no tenant) by a key that may not make it.
fn changes(caller: &Caller, tenant: Option<&str>) -> Result<(), ApiError> {
    match (tenant, &caller.tenants) {
        (Some(tenant), _) => caller.check(tenant),
        (None, None) => Ok(()),
        (None, Some(_)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "tenant_required",
            format!("this API key is limited to tenants: a row it writes needs its `{TENANT}`"),
        )),
    }
}

fn row_value(version: &Version) -> Option<Value> {
    serde_json::from_str(version.row.as_ref()?.text()).ok()
}

fn tenant_of(version: &Version) -> Option<String> {
    match row_value(version)? {
        Value::Object(row) => row_tenant(&row),
        _ => None,
    }
}

fn row_tenant(row: &Map<String, Value>) -> Option<String> {
    row.get(TENANT).and_then(Value::as_str).map(str::to_owned)
}

/// A row as answered: its key, its fields, and since when it holds (`null`: from the start).
fn shown(key: &str, version: &Version) -> Value {
    json!({
        "key": key,
        "row": row_value(version),
        "since": (version.at_ms != FROM_THE_START).then(|| format_rfc3339_ms(version.at_ms)),
    })
}
