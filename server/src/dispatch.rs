//! Dispatch: a request body is decoded once, with the current generation's decoder, into an
//! action carrying its request's token; the action goes onto one of the generation's lanes and
//! the request waits for its decision, which the engine hands back by the token as soon as it is
//! made ([`crate::waiting`]). A dry run decides with the compiled rules alone, outside the
//! dataflow: no state is read or changed and nothing is delivered.

use crate::auth::Caller;
use crate::engine::{EngineHost, Generation};
use crate::error::ApiError;
use crate::waiting::Waiting;
use acteon_dsl::plan::Outcome;
use acteon_engine::action::{Action, Position};
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::control::{FlushTally, GroupFlush};
use acteon_engine::eval::{Evaluation, Evaluator, Gate, RuleKind, Scratch};
use acteon_engine::time::wall_clock_ms;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

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

impl From<&AuditRecord> for Decision {
    fn from(record: &AuditRecord) -> Decision {
        Decision {
            action_id: record.action_id.to_string(),
            outcome: record.outcome,
            rule: record.rule.as_ref().map(|r| r.to_string()),
            target: record.target.as_ref().map(|t| t.to_string()),
            details: record.details.to_json(),
        }
    }
}

/// The longest a read of the audit waits for the answered decisions' records.
const SETTLE_LIMIT: Duration = Duration::from_millis(250);

pub struct Dispatcher {
    engine: Arc<EngineHost>,
    waiting: Arc<Waiting>,
    /// How long a request waits for its decision.
    timeout: Duration,
}

/// An action sent to the engine, its decision to come.
pub struct Pending {
    token: u64,
    id: Arc<str>,
    answer: oneshot::Receiver<Decision>,
}

impl Dispatcher {
    pub fn new(engine: Arc<EngineHost>, waiting: Arc<Waiting>, timeout: Duration) -> Dispatcher {
        Dispatcher {
            engine,
            waiting,
            timeout,
        }
    }

    /// Decides one action: decoded, checked against the caller's tenants, sent, and its
    /// decision awaited.
    pub async fn decide(&self, caller: &Caller, body: &[u8]) -> Result<Decision, ApiError> {
        let generation = self.generation()?;
        let lane = generation.lanes.pick();
        let token = lane.token();
        let action = decode(&generation, body, token)?;
        caller.check(&action.tenant)?;
        let pending = self.pending(&action, token);
        if lane.send(vec![action]).await.is_err() {
            self.waiting.forget(token);
            return Err(unavailable());
        }
        // The generation itself is not held while waiting: a reload can retire it meanwhile.
        drop(generation);
        self.answer(pending).await
    }

    /// Decides a batch: every action is sent (together, to one lane) before any answer is
    /// awaited, so the engine decides them together. One entry per action, in order: its
    /// decision, or the error that kept it from the engine.
    pub async fn decide_batch(
        &self,
        caller: &Caller,
        bodies: &[&RawValue],
    ) -> Result<Vec<Result<Decision, ApiError>>, ApiError> {
        let generation = self.generation()?;
        let lane = generation.lanes.pick();
        let mut actions = Vec::with_capacity(bodies.len());
        let mut slots: Vec<Result<Pending, ApiError>> = Vec::with_capacity(bodies.len());
        for body in bodies {
            let token = lane.token();
            let checked = decode(&generation, body.get().as_bytes(), token)
                .and_then(|action| caller.check(&action.tenant).map(|()| action));
            slots.push(checked.map(|action| {
                let pending = self.pending(&action, token);
                actions.push(action);
                pending
            }));
        }
        if !actions.is_empty() && lane.send(actions).await.is_err() {
            for pending in slots.iter().flatten() {
                self.waiting.forget(pending.token);
            }
            return Err(unavailable());
        }
        drop(generation);
        let mut answers = Vec::with_capacity(slots.len());
        for slot in slots {
            answers.push(match slot {
                Ok(pending) => self.answer(pending).await,
                Err(error) => Err(error),
            });
        }
        Ok(answers)
    }

    /// Sends an action to the engine without waiting for its decision (recurring actions).
    pub async fn submit(&self, action: &Value) -> Result<(), ApiError> {
        let body = serde_json::to_vec(action)
            .map_err(|e| ApiError::bad_request("invalid_action", e.to_string()))?;
        let generation = self.generation()?;
        let lane = generation.lanes.pick();
        let action = decode(&generation, &body, lane.token())?;
        lane.send(vec![action]).await.map_err(|_| unavailable())
    }

    /// Decides with the current plan's rules alone: dedup and throttle are taken as a first
    /// sighting under the limit, quotas are not counted, nothing is delivered or audited.
    pub fn dry_run(&self, caller: &Caller, body: &[u8]) -> Result<Decision, ApiError> {
        let generation = self.generation()?;
        // A token of its own, so an action without an id gets a fresh one, as it would live.
        let action = decode(&generation, body, generation.lanes.pick().token())?;
        caller.check(&action.tenant)?;
        Ok(dry_run(&generation.evaluator, action))
    }

    /// Flushes now every waiting group `request` names, in every worker of this process (in
    /// a cluster, the groups other processes hold are not reached); how many were flushed.
    pub async fn flush_groups(
        &self,
        key: String,
        rule: Option<String>,
        tenants: Option<Vec<String>>,
    ) -> Result<usize, ApiError> {
        let generation = self.generation()?;
        let tally = Arc::new(FlushTally::new(generation.lanes.workers()));
        let request = GroupFlush {
            key,
            rule,
            tenants,
            at_ms: wall_clock_ms(),
            tally: Arc::clone(&tally),
        };
        if generation.lanes.flush_groups(request).await.is_err() {
            return Err(unavailable());
        }
        drop(generation);
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(flushed) = tally.flushed() {
                // The batches' records are on their way to the audit: later reads wait for them.
                self.waiting.decided_now();
                return Ok(flushed);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "decision_timeout",
                    format!(
                        "the groups were not flushed within {} ms",
                        self.timeout.as_millis()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Waits until every decision answered so far is in the audit store, so a client that
    /// reads the audit after its answer finds the record. An answered action's dataflow time
    /// is at most a millisecond past the wall clock when it was answered, so the wait ends
    /// once the audit is written past that; at most [`SETTLE_LIMIT`] (a delivery still in
    /// flight in the same epoch holds the audit back).
    pub async fn settled(&self) {
        let Some(generation) = self.engine.current() else {
            return;
        };
        let wanted = (self.waiting.last_answer_ms() + 2).max(0) as u64;
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        while generation.audited() < wanted && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn generation(&self) -> Result<Arc<Generation>, ApiError> {
        self.engine.current().ok_or_else(unavailable)
    }

    /// Registers the wait for `action`'s decision: before it is sent, so the decision cannot
    /// come first.
    fn pending(&self, action: &Action, token: u64) -> Pending {
        Pending {
            token,
            id: Arc::clone(&action.id),
            answer: self.waiting.register(token),
        }
    }

    async fn answer(&self, pending: Pending) -> Result<Decision, ApiError> {
        match tokio::time::timeout(self.timeout, pending.answer).await {
            Ok(Ok(decision)) => Ok(decision),
            Ok(Err(_)) => Err(unavailable()),
            Err(_) => {
                self.waiting.forget(pending.token);
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
}

/// `body` as an action of `generation`'s plan, read at request `token` on the wall clock; 400
/// with the reason when it is not one (`malformed_json` when it is not even JSON).
fn decode(generation: &Generation, body: &[u8], token: u64) -> Result<Action, ApiError> {
    let now = wall_clock_ms();
    generation
        .decoder
        .decode(body, Position::Api(token), now, Some(now))
        .map_err(|rejection| match rejection.not_json() {
            true => ApiError::bad_request(
                "malformed_json",
                format!("the body is {}", rejection.reason),
            ),
            false => ApiError::bad_request("invalid_action", rejection.reason),
        })
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
