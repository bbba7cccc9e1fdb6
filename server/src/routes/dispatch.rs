//! `POST /v1/dispatch` and `POST /v1/dispatch/batch` (`?dry_run=true` on both).

use super::{json_body, Params, Shared};
use crate::auth::Caller;
use crate::dispatch::Prepared;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Query;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The most actions one batch may hold.
pub const MAX_BATCH: usize = 1_000;

pub async fn single(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let app = state.0;
    let dry_run = Params(params).flag("dry_run")?;
    let prepared = prepare(&app, &caller, json_body(&app, body).await?)?;
    let decision = match dry_run {
        true => app.dispatcher.dry_run(prepared)?,
        false => app.dispatcher.decide(prepared).await?,
    };
    Ok(Json(json!(decision)))
}

/// A JSON array of actions (or `{"actions": [...]}`); the answer has one entry per action, in
/// order: its decision, or `{"error": {"code", "message"}}`.
pub async fn batch(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let app = state.0;
    let dry_run = Params(params).flag("dry_run")?;
    let actions = match json_body(&app, body).await? {
        Value::Array(actions) => actions,
        Value::Object(mut object) => match object.remove("actions") {
            Some(Value::Array(actions)) => actions,
            _ => return Err(not_a_batch()),
        },
        _ => return Err(not_a_batch()),
    };
    if actions.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!(
                "a batch holds at most {MAX_BATCH} actions, not {}",
                actions.len()
            ),
        ));
    }
    // Every action is sent before any answer is awaited: the engine decides them together.
    let mut pending = Vec::with_capacity(actions.len());
    for action in actions {
        let sent = match prepare(&app, &caller, action) {
            Ok(prepared) if dry_run => Err(app.dispatcher.dry_run(prepared)),
            Ok(prepared) => app.dispatcher.send(prepared).await.map_err(Err),
            Err(error) => Err(Err(error)),
        };
        pending.push(sent);
    }
    let mut answers = Vec::with_capacity(pending.len());
    for sent in pending {
        let decided = match sent {
            Ok(pending) => app.dispatcher.answer(pending).await,
            Err(decided) => decided,
        };
        answers.push(match decided {
            Ok(decision) => json!(decision),
            Err(error) => json!({ "error": { "code": error.code, "message": error.message } }),
        });
    }
    Ok(Json(Value::Array(answers)))
}

fn not_a_batch() -> ApiError {
    ApiError::bad_request(
        "invalid_batch",
        "a batch is a JSON array of actions, or an object with an `actions` array",
    )
}

fn prepare(app: &crate::app::App, caller: &Caller, body: Value) -> Result<Prepared, ApiError> {
    let prepared = app.dispatcher.prepare(body)?;
    caller.check(prepared.tenant())?;
    Ok(prepared)
}
