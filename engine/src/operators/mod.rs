//! The dataflow's operators, one per file, and the records that travel between them.
//!
//! - [`source`]: reads this worker's share of the input lines and decodes them.
//! - [`quota`]: per-tenant quotas, before any rule.
//! - [`evaluate`]: runs the compiled rules until a terminal rule, a stateful rule, or the end.
//! - [`dedup`], [`throttle`], [`group`], [`schedule`]: the stateful rules, one operator per kind.
//! - [`deliver`]: calls providers and renders every decision as an audit line.
//! - [`chain`]: runs started chains step by step and audits each step and each chain's end.
//! - [`audit_writer`]: writes the audit in a deterministic order per completed epoch.

pub mod audit_writer;
pub mod chain;
pub mod dedup;
pub mod deliver;
pub mod evaluate;
pub mod group;
pub mod quota;
pub mod schedule;
pub mod source;
pub mod throttle;

use crate::action::{Action, Position};
use crate::audit::record::{AuditRecord, AuditTtl};
use crate::audit::redact::Redactor;
use crate::audit::sink::render;
use crate::eval::Evaluator;
use crate::provider::CallResult;
use crate::report::Fact;
use crate::time::{format_rfc3339_ms, Clock};
use acteon_dsl::plan::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// An action on its way through the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub action: Action,
    /// The rule evaluation resumes at.
    pub next_rule: u32,
    /// Audit records already written about this action: the next record's place.
    pub records: u32,
    /// Read after its worker's source had moved past its event time.
    pub late: bool,
    /// Over a `warn` quota: (limit, window) noted on the deciding record.
    pub quota_warning: Option<(u64, u64)>,
}

impl Flow {
    pub fn new(action: Action, late: bool) -> Flow {
        Flow {
            action,
            next_rule: 0,
            records: 0,
            late,
            quota_warning: None,
        }
    }
}

/// A decision about an action, to deliver (when `deliver`) and then audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub flow: Flow,
    pub rule: Option<u32>,
    pub outcome: Outcome,
    /// The provider to call, or the one the decision names.
    pub target: Option<String>,
    pub details: Map<String, Value>,
    pub deliver: bool,
}

impl Decision {
    pub fn record(
        flow: Flow,
        rule: Option<u32>,
        outcome: Outcome,
        details: Map<String, Value>,
    ) -> Decision {
        Decision {
            flow,
            rule,
            outcome,
            target: None,
            details,
            deliver: false,
        }
    }
}

/// Where an audit line goes in the written audit: event time, input position, then the
/// record's place among the action's records.
pub type AuditOrder = (i64, Position, u32);

/// An audit record rendered on the worker that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    pub order: AuditOrder,
    pub text: String,
    /// What the live views count of the record.
    pub fact: Fact,
    /// For rejected lines: the dead-letter entry.
    pub dead_letter: Option<DeadLetter>,
}

/// What goes to the dead-letter output (a file, or a feed's dead-letter topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadLetter {
    /// A rejected input record, its bytes as read.
    Input {
        position: Position,
        reason: String,
        record: Vec<u8>,
    },
    /// A failed chain step's call, as a JSON entry; `position` is the origin action's.
    Entry {
        position: Position,
        reason: String,
        entry: String,
    },
}

impl DeadLetter {
    /// The entry of a dead-letter file: for an input record
    /// `{ "line" | "partition"+"offset", "reason", "record" }`.
    pub fn json_line(&self) -> String {
        match self {
            DeadLetter::Input {
                position,
                reason,
                record,
            } => {
                let mut entry = position_fields(*position);
                entry.insert("reason".into(), reason.clone().into());
                entry.insert(
                    "record".into(),
                    String::from_utf8_lossy(record).into_owned().into(),
                );
                Value::Object(entry).to_string()
            }
            DeadLetter::Entry { entry, .. } => entry.clone(),
        }
    }

    /// (where it was read, why, the bytes a dead-letter topic receives).
    pub fn parts(&self) -> (Position, &str, &[u8]) {
        match self {
            DeadLetter::Input {
                position,
                reason,
                record,
            } => (*position, reason, record),
            DeadLetter::Entry {
                position,
                reason,
                entry,
            } => (*position, reason, entry.as_bytes()),
        }
    }
}

/// Where a record was read, as the audit and dead-letter entries name it.
pub fn position_fields(position: Position) -> Map<String, Value> {
    let mut fields = Map::new();
    match position {
        Position::Line(line) => {
            fields.insert("line".into(), line.into());
        }
        Position::Kafka { partition, offset } => {
            fields.insert("partition".into(), partition.into());
            fields.insert("offset".into(), offset.into());
        }
        Position::Api(n) => {
            fields.insert("api".into(), n.into());
        }
    }
    fields
}

/// Renders decisions as audit records and lines, the same way on every worker.
pub struct Renderer {
    pub evaluator: Arc<Evaluator>,
    pub clock: Clock,
    pub store_payload: bool,
    pub redactor: Redactor,
    pub ttl: AuditTtl,
}

impl Renderer {
    /// `now_ms`: when the decision was made on the processing clock (ignored on the event
    /// clock, where records carry the action's event time so replays are byte-identical).
    pub fn render(
        &self,
        decision: Decision,
        result: Option<&CallResult>,
        dispatched_ms: i64,
        now_ms: i64,
    ) -> AuditLine {
        let Decision {
            flow,
            rule,
            mut outcome,
            target,
            mut details,
            ..
        } = decision;
        if flow.late {
            details.insert("late".into(), Value::Bool(true));
        }
        if let Some((limit, window_ms)) = flow.quota_warning {
            details.insert(
                "quota".into(),
                json!({ "exceeded": true, "limit": limit, "window_ms": window_ms, "behaviour": "warn" }),
            );
        }
        let mut duration_ms = 0;
        if let Some(result) = result {
            if !result.success {
                outcome = Outcome::Failed;
            }
            duration_ms = result.duration_ms;
            details.insert(
                "delivery".into(),
                json!({ "attempts": result.attempts, "response": result.body, "error": result.error }),
            );
        }
        let (dispatched, completed) = match self.clock {
            Clock::Event => (flow.action.event_time_ms, flow.action.event_time_ms),
            Clock::Processing => (dispatched_ms, now_ms),
        };
        let rule = rule.map(|r| self.evaluator.rule(r).name.clone());
        let action = flow.action;
        // The deciding record of a chain names the chain it started.
        let chain_id = match (outcome, details.get("chain")) {
            (Outcome::ChainStarted, Some(Value::String(chain))) => {
                Some(crate::chains::chain_id(&action, chain))
            }
            _ => None,
        };
        let mut record = AuditRecord {
            id: format!("{}#{}", action.id, flow.records),
            action_id: action.id,
            namespace: action.namespace,
            tenant: action.tenant,
            action_type: action.action_type,
            provider: action.provider,
            target,
            rule,
            outcome,
            chain_id,
            details: Value::Object(details),
            payload: self.store_payload.then_some(action.payload),
            dispatched_at: format_rfc3339_ms(dispatched),
            completed_at: format_rfc3339_ms(completed),
            duration_ms,
            expires_at: None,
        };
        record.expires_at = self.ttl.expires_at(&record);
        self.line(
            &mut record,
            (action.event_time_ms, action.position, flow.records),
            None,
        )
    }

    /// The record, redacted, as one line of the audit.
    pub fn line(
        &self,
        record: &mut AuditRecord,
        order: AuditOrder,
        dead_letter: Option<DeadLetter>,
    ) -> AuditLine {
        self.redactor.redact_record(record);
        AuditLine {
            order,
            text: render(record),
            fact: Fact::of(record),
            dead_letter,
        }
    }
}

/// A worker-independent hash: keyed operators route by it, so every worker agrees.
pub fn route<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// The epoch of a dataflow time: checkpoints are taken at epochs.
pub trait Epoch {
    fn epoch(&self) -> u64;
}

impl Epoch for u64 {
    fn epoch(&self) -> u64 {
        *self
    }
}

impl Epoch for evaluate::LoopTime {
    fn epoch(&self) -> u64 {
        self.outer
    }
}

/// The earliest epoch the frontier can still deliver (`u64::MAX` once it is empty).
pub fn frontier_epoch<T: timely::progress::Timestamp + Epoch>(
    frontier: &timely::progress::frontier::MutableAntichain<T>,
) -> u64 {
    frontier
        .frontier()
        .iter()
        .map(Epoch::epoch)
        .min()
        .unwrap_or(u64::MAX)
}

/// Whether worker `index` of `peers` receives what an exchange routes by `hash` (state
/// restored from a checkpoint goes where the exchange sends its keys).
pub fn owns(hash: u64, index: usize, peers: usize) -> bool {
    hash % peers.max(1) as u64 == index as u64
}

/// Actions held per loop time until the input frontier passes it, each time with a capability
/// per output; the keyed operators then decide a time's actions in (event time, position)
/// order.
pub struct HeldByTime<T: timely::progress::Timestamp> {
    times:
        std::collections::BTreeMap<T, (Vec<timely::dataflow::operators::Capability<T>>, Vec<Flow>)>,
}

impl<T: timely::progress::Timestamp> Default for HeldByTime<T> {
    fn default() -> Self {
        HeldByTime {
            times: Default::default(),
        }
    }
}

impl<T: timely::progress::Timestamp + Copy> HeldByTime<T> {
    /// Holds a message's actions, with capabilities for `outputs` outputs at its time.
    pub fn hold(
        &mut self,
        cap: &timely::dataflow::operators::InputCapability<T>,
        data: &mut Vec<Flow>,
        outputs: usize,
    ) {
        let Some(&time) = cap.stamp().iter().next() else {
            return;
        };
        self.times
            .entry(time)
            .or_insert_with(|| {
                (
                    (0..outputs).map(|port| cap.delayed(&time, port)).collect(),
                    Vec::new(),
                )
            })
            .1
            .append(data);
    }

    /// The earliest held time, when the frontier has passed it.
    pub fn ready_time(
        &self,
        frontier: &timely::progress::frontier::MutableAntichain<T>,
    ) -> Option<T> {
        let (time, _) = self.times.first_key_value()?;
        (!frontier.less_equal(time)).then_some(*time)
    }

    /// The earliest held time the frontier has passed, with its actions sorted.
    pub fn next_ready(
        &mut self,
        frontier: &timely::progress::frontier::MutableAntichain<T>,
    ) -> Option<(
        T,
        Vec<timely::dataflow::operators::Capability<T>>,
        Vec<Flow>,
    )> {
        let entry = self.times.first_entry()?;
        if frontier.less_equal(entry.key()) {
            return None;
        }
        let time = *entry.key();
        let (caps, mut flows) = entry.remove();
        flows.sort_by_key(|flow| flow.action.order_key());
        Some((time, caps, flows))
    }
}
