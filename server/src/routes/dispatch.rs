//! `POST /v1/dispatch` and `POST /v1/dispatch/batch` (`?dry_run=true` on both).

use super::{body_bytes, Params, Shared};
use crate::auth::Caller;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Query;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::value::RawValue;
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
    let body = body_bytes(&app, body).await?;
    let decision = match dry_run {
        true => app.dispatcher.dry_run(&caller, &body)?,
        false => app.dispatcher.decide(&caller, &body).await?,
    };
    Ok(Json(json!(decision)))
}

/// A batch body in its object form; each action stays as its text until it is decoded.
#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow)]
    actions: Vec<&'a RawValue>,
}

/// A batch body's actions: an array of actions, or an object with one.
fn batch_actions(body: &[u8]) -> Result<Vec<&RawValue>, ApiError> {
    if let Ok(actions) = serde_json::from_slice::<Vec<&RawValue>>(body) {
        return Ok(actions);
    }
    if let Ok(Wrapped { actions }) = serde_json::from_slice::<Wrapped<'_>>(body) {
        return Ok(actions);
    }
    Err(match serde_json::from_slice::<&RawValue>(body) {
        Err(error) => {
            ApiError::bad_request("malformed_json", format!("the body is not JSON: {error}"))
        }
        Ok(_) => not_a_batch(),
    })
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
    let body = body_bytes(&app, body).await?;
    let actions = batch_actions(&body)?;
    if actions.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!(
                "a batch holds at most {MAX_BATCH} actions, not {}",
                actions.len()
            ),
        ));
    }
    let decided = match dry_run {
        true => actions
            .iter()
            .map(|action| app.dispatcher.dry_run(&caller, action.get().as_bytes()))
            .collect(),
        false => app.dispatcher.decide_batch(&caller, &actions).await?,
    };
    let answers = decided
        .into_iter()
        .map(|decided| match decided {
            Ok(decision) => json!(decision),
            Err(error) => json!({ "error": { "code": error.code, "message": error.message } }),
        })
        .collect();
    Ok(Json(Value::Array(answers)))
}

fn not_a_batch() -> ApiError {
    ApiError::bad_request(
        "invalid_batch",
        "a batch is a JSON array of actions, or an object with an `actions` array",
    )
}
