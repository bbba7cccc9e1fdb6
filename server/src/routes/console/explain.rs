//! `POST /v1/rules/explain`: the playground's view of one action going through the rules. It
//! walks the plan deciding now as a dry run does (no window is read or changed, nothing is
//! delivered or audited; dedup and throttle are taken as a first sighting under the limit) and
//! answers, for every rule in order, whether the action was in its scope, every condition with
//! the value it read and whether it held, and what the rule then did (`effect`: `decided`,
//! `modified` the payload and went on, or `passed` a dedup or throttle gate).
//!
//! Each test is decided by the engine's own evaluator (a one-rule plan per test), so the
//! playground cannot disagree with the engine about what a condition means; `and`, `or` and
//! `not` are combined here. A `modify` that matched patches the action before the next rule.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::{json_body, Shared};
use acteon_dsl::plan::{Condition, Operand, Origin, Outcome, Plan, Rule, RuleAction, Scope};
use acteon_engine::action::{Action, Position};
use acteon_engine::decode::Decoder;
use acteon_engine::eval::{merge_patch, Accessor, Evaluation, Evaluator, PlanPaths, Scratch};
use acteon_engine::time::wall_clock_ms;
use axum::body::Body;
use axum::{Extension, Json};
use serde_json::{json, Value};

pub async fn explain(
    state: Shared,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let app = state.0;
    let Value::Object(mut object) = json_body(&app, body).await? else {
        return Err(ApiError::bad_request(
            "invalid_action",
            "an action is a JSON object",
        ));
    };
    object.entry("id").or_insert_with(|| json!("playground"));
    let mut action = Value::Object(object);
    let decoder = Decoder::new(app.config.engine.max_action_bytes);
    let first = decode(&decoder, &action)?;
    caller.check(&first.tenant)?;
    let plan = match app.engine.current() {
        Some(generation) => generation.plan.clone(),
        None => app.plan(),
    };
    let mut rules = Vec::with_capacity(plan.rules.len());
    let mut verdict: Option<(Outcome, Option<String>, Option<String>)> = None;
    let mut passed = Vec::new();
    for (index, rule) in plan.rules.iter().enumerate() {
        let mut row = json!({ "index": index, "name": rule.name, "kind": rule.action.keyword() });
        if verdict.is_some() {
            row["evaluated"] = json!(false);
            rules.push(row);
            continue;
        }
        // Decoded again for every rule: a `modify` before it may have changed the payload.
        let current = decode(&decoder, &action)?;
        let in_scope = in_scope(&rule.scope, &current);
        let trace = rule.condition.as_ref().map(|c| trace(c, &current));
        let matched = in_scope && trace.as_ref().is_none_or(|t| t["holds"] == true);
        row["evaluated"] = json!(true);
        row["in_scope"] = json!(in_scope);
        row["condition"] = trace.unwrap_or(Value::Null);
        row["matched"] = json!(matched);
        if matched {
            let effect = match &rule.action {
                RuleAction::Modify { patch, .. } => {
                    merge_patch(&mut action["payload"], patch);
                    "modified"
                }
                RuleAction::Dedup { .. } | RuleAction::Throttle { .. } => {
                    passed.push(rule.name.clone());
                    "passed"
                }
                other => {
                    verdict = Some(decided(rule, other, &current));
                    "decided"
                }
            };
            row["effect"] = json!(effect);
        }
        rules.push(row);
    }
    let (outcome, rule, target) = verdict.unwrap_or_else(|| {
        // No rule decided: the action runs on its own provider.
        let provider = action["provider"].as_str().map(str::to_owned);
        (Outcome::Executed, None, provider)
    });
    Ok(Json(json!({
        "action_id": first.id.to_string(),
        "verdict": { "outcome": outcome, "rule": rule, "target": target, "passed": passed },
        "payload": action["payload"],
        "rules": rules,
    })))
}

fn decode(decoder: &Decoder, action: &Value) -> Result<Action, ApiError> {
    let bytes = serde_json::to_vec(action)
        .map_err(|e| ApiError::bad_request("invalid_action", e.to_string()))?;
    let now = wall_clock_ms();
    decoder
        .decode(&bytes, Position::Api(0), now, Some(now))
        .map_err(|rejection| ApiError::bad_request("invalid_action", rejection.reason))
}

fn in_scope(scope: &Scope, action: &Action) -> bool {
    scope
        .namespace
        .as_ref()
        .is_none_or(|n| *n == *action.namespace)
        && scope.tenant.as_ref().is_none_or(|t| *t == *action.tenant)
}

/// The outcome, rule and target of a rule that stops evaluation, as a dry run reports them.
fn decided(
    rule: &Rule,
    action: &RuleAction,
    current: &Action,
) -> (Outcome, Option<String>, Option<String>) {
    let own = current.provider.as_deref().map(str::to_owned);
    let (outcome, target) = match action {
        RuleAction::Suppress => (Outcome::Suppressed, None),
        RuleAction::Deny => (Outcome::Denied, None),
        RuleAction::Reroute { provider } => (Outcome::Rerouted, Some(provider.clone())),
        RuleAction::Chain { .. } => (Outcome::ChainStarted, None),
        RuleAction::Group { .. } => (Outcome::Grouped, None),
        RuleAction::Schedule { .. } => (Outcome::Scheduled, None),
        _ => (Outcome::Executed, own),
    };
    (outcome, Some(rule.name.clone()), target)
}

/// The condition as a tree: every node with whether it held, every test with the value it
/// read (`null` and `present: false` when the action has no such field).
fn trace(condition: &Condition, action: &Action) -> Value {
    let node =
        |op: &str, of: Vec<Value>, holds: bool| json!({ "op": op, "holds": holds, "of": of });
    match condition {
        Condition::All { of } => {
            let of: Vec<Value> = of.iter().map(|c| trace(c, action)).collect();
            let holds = of.iter().all(|c| c["holds"] == true);
            node("all", of, holds)
        }
        Condition::Any { of } => {
            let of: Vec<Value> = of.iter().map(|c| trace(c, action)).collect();
            let holds = of.iter().any(|c| c["holds"] == true);
            node("any", of, holds)
        }
        Condition::Not { of } => {
            let inner = trace(of, action);
            let holds = inner["holds"] != true;
            node("not", vec![inner], holds)
        }
        test => {
            let Some(field) = test.operand() else {
                return Value::Null;
            };
            let value = match field {
                Operand::Field(field) => Accessor::compile(field, &PlanPaths::none())
                    .read(action)
                    .map(|f| f.to_json()),
                Operand::Row(_) => None,
            };
            json!({
                "op": "test",
                "text": super::plan::condition_text(condition),
                "field": field.to_string(),
                "present": value.is_some(),
                "value": value,
                "holds": holds(condition, action),
            })
        }
    }
}

/// Whether one test holds, as the engine decides it: the test alone as a one-rule plan.
fn holds(test: &Condition, action: &Action) -> bool {
    let plan = Plan {
        rules: vec![Rule {
            name: "test".into(),
            priority: 0,
            scope: Scope::default(),
            condition: Some(test.clone()),
            action: RuleAction::Allow,
            origin: Origin::default(),
        }],
        ..Plan::default()
    };
    let mut action = action.clone();
    matches!(
        Evaluator::new(&plan).evaluate(&mut action, 0, &mut Scratch::default()),
        Evaluation::Terminal { .. }
    )
}
