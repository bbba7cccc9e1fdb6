//! Dispatch: a request body becomes an action on the current engine generation's feed, and
//! the answer is the action's deciding audit record. A dry run decides with the compiled rules
//! alone, outside the dataflow: no state is read or changed and nothing is delivered.

use crate::engine::EngineHost;
use crate::error::ApiError;
use crate::feed::ActionBytes;
use crate::sink::ServerSink;
use acteon_dsl::plan::Outcome;
use acteon_engine::action::{Action, Position};
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::decode::Decoder;
use acteon_engine::eval::{Evaluation, Evaluator, Gate, RuleKind, Scratch};
use acteon_engine::time::wall_clock_ms;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The answer to one dispatch (docs/design.md: `{"action_id", "outcome", "rule", "target",
/// "details"}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub action_id: String,
    pub outcome: Outcome,
    pub rule: Option<String>,
    pub target: Option<String>,
    pub details: Value,
}

impl From<AuditRecord> for Decision {
    fn from(record: AuditRecord) -> Decision {
        Decision {
            action_id: record.action_id.to_string(),
            outcome: record.outcome,
            rule: record.rule.map(String::from),
            target: record.target.map(String::from),
            details: record.details.to_json(),
        }
    }
}

pub struct Dispatcher {
    engine: Arc<EngineHost>,
    sink: Arc<ServerSink>,
    max_action_bytes: usize,
    /// How long a request waits for its decision.
    timeout: Duration,
    /// Numbers actions without an id; with the start time, ids stay unique across restarts.
    next: AtomicU64,
    started_ms: i64,
}

/// An action sent to the engine, its decision to come.
pub struct Pending {
    id: String,
    answer: tokio::sync::oneshot::Receiver<AuditRecord>,
}

/// An action ready for the feed: its id and its JSON bytes.
pub struct Prepared {
    pub id: String,
    bytes: ActionBytes,
    action: Action,
}

impl Prepared {
    pub fn tenant(&self) -> &str {
        &self.action.tenant
    }
}

impl Dispatcher {
    pub fn new(
        engine: Arc<EngineHost>,
        sink: Arc<ServerSink>,
        max_action_bytes: usize,
        timeout: Duration,
    ) -> Dispatcher {
        Dispatcher {
            engine,
            sink,
            max_action_bytes,
            timeout,
            next: AtomicU64::new(1),
            started_ms: wall_clock_ms(),
        }
    }

    /// Checks a body as the engine would read it, giving it an id when it has none; a body that
    /// is not an action is the client's error (400 with the reason).
    pub fn prepare(&self, body: Value) -> Result<Prepared, ApiError> {
        let Value::Object(mut object) = body else {
            return Err(ApiError::bad_request(
                "invalid_action",
                "an action is a JSON object",
            ));
        };
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if !object.contains_key("id") {
            let id = format!("api-{}-{n}", self.started_ms);
            object.insert("id".into(), Value::String(id));
        }
        let bytes = serde_json::to_vec(&Value::Object(object))
            .map_err(|e| ApiError::bad_request("invalid_action", e.to_string()))?;
        let now = wall_clock_ms();
        let action = Decoder::new(self.max_action_bytes)
            .decode(&bytes, Position::Api(n), now, Some(now))
            .map_err(|rejection| ApiError::bad_request("invalid_action", rejection.reason))?;
        Ok(Prepared {
            id: action.id.to_string(),
            bytes,
            action,
        })
    }

    /// Sends the action to the engine and waits for its deciding record.
    pub async fn decide(&self, prepared: Prepared) -> Result<Decision, ApiError> {
        let pending = self.send(prepared).await?;
        self.answer(pending).await
    }

    /// Sends the action to the engine; [`Dispatcher::answer`] waits for its decision, so a
    /// batch can send every action before waiting for any.
    pub async fn send(&self, prepared: Prepared) -> Result<Pending, ApiError> {
        let Some(generation) = self.engine.current() else {
            return Err(unavailable());
        };
        let answer = self.sink.wait_for(&prepared.id);
        let sender = generation.sender();
        // The generation itself is not held while waiting: a reload can retire it meanwhile.
        drop(generation);
        if sender.send(prepared.bytes).await.is_err() {
            self.sink.forget(&prepared.id);
            return Err(unavailable());
        }
        Ok(Pending {
            id: prepared.id,
            answer,
        })
    }

    pub async fn answer(&self, pending: Pending) -> Result<Decision, ApiError> {
        match tokio::time::timeout(self.timeout, pending.answer).await {
            Ok(Ok(record)) => Ok(Decision::from(record)),
            Ok(Err(_)) => Err(unavailable()),
            Err(_) => {
                self.sink.forget(&pending.id);
                Err(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "decision_timeout",
                    format!(
                        "no decision for `{}` within {} ms",
                        pending.id,
                        self.timeout.as_millis()
                    ),
                ))
            }
        }
    }

    /// Sends the action to the engine without waiting for its decision (recurring actions).
    pub async fn submit(&self, prepared: Prepared) -> Result<(), ApiError> {
        let Some(generation) = self.engine.current() else {
            return Err(unavailable());
        };
        generation
            .sender()
            .send(prepared.bytes)
            .await
            .map_err(|_| unavailable())
    }

    /// Decides with the current plan's rules alone: dedup and throttle are taken as a first
    /// sighting under the limit, quotas are not counted, nothing is delivered or audited.
    pub fn dry_run(&self, prepared: Prepared) -> Result<Decision, ApiError> {
        let generation = self.engine.current().ok_or_else(unavailable)?;
        Ok(dry_run(&generation.evaluator, prepared.action))
    }
}

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "engine_unavailable",
        "the engine is not running (shutting down?)",
    )
}

/// The rule walk of [`Dispatcher::dry_run`].
pub fn dry_run(evaluator: &Evaluator, mut action: Action) -> Decision {
    let mut scratch = Scratch::default();
    let mut passed = Vec::new();
    let mut start = 0;
    let (rule, outcome, target) = loop {
        match evaluator.evaluate(&mut action, start, &mut scratch) {
            Evaluation::NoMatch => break (None, Outcome::Executed, action.provider.clone()),
            Evaluation::Gate {
                rule,
                gate: Gate::Dedup | Gate::Throttle,
            } => {
                passed.push(Value::String(evaluator.rule(rule).name.to_string()));
                start = rule + 1;
            }
            Evaluation::Gate { rule, gate } => {
                let outcome = match gate {
                    Gate::Group => Outcome::Grouped,
                    _ => Outcome::Scheduled,
                };
                break (Some(rule), outcome, None);
            }
            Evaluation::Terminal { rule } => {
                let (outcome, target) = match &evaluator.rule(rule).kind {
                    RuleKind::Suppress => (Outcome::Suppressed, None),
                    RuleKind::Deny => (Outcome::Denied, None),
                    RuleKind::Reroute { provider } => (Outcome::Rerouted, Some(provider.clone())),
                    RuleKind::Chain { .. } => (Outcome::ChainStarted, None),
                    _ => (Outcome::Executed, action.provider.clone()),
                };
                break (Some(rule), outcome, target);
            }
        }
    };
    let mut details = Map::new();
    details.insert("dry_run".into(), Value::Bool(true));
    details.insert("passed".into(), Value::Array(passed));
    if let Some(rule) = rule {
        if let RuleKind::Chain { chain } = &evaluator.rule(rule).kind {
            details.insert("chain".into(), json!(&**chain));
        }
    }
    details.insert("payload".into(), action.payload.value().clone());
    Decision {
        action_id: action.id.to_string(),
        outcome,
        rule: rule.map(|r| evaluator.rule(r).name.to_string()),
        target: target.map(String::from),
        details: Value::Object(details),
    }
}
