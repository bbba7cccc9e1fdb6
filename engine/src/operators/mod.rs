//! The dataflow's operators, one per file, and the records that travel between them.
//!
//! - [`source`]: reads this worker's share of the input lines and decodes them.
//! - [`evaluate`]: runs the compiled rules until a terminal rule, a stateful rule, or the end.
//! - [`keyed`]: dedup, throttle, quota and group: one keyed-window operator, one file of logic
//!   per kind.
//! - [`schedule`]: held actions, released when they are due.
//! - [`decided`]: passes the decisions on and tells the source how far they have got.
//! - [`deliver`]: calls providers and renders every decision as an audit entry.
//! - [`chain`]: runs started chains step by step and audits each step and each chain's end.
//! - [`audit_writer`]: writes the audit in a deterministic order per completed epoch.
//! - [`tap`]: a stream passed on, with a second, empty stream of its frontier.
//! - [`table_source`]: a table's file rows, topic records and HTTP updates, each at its epoch.
//! - [`table`]: a table's versions per key, with retractions: a differential collection.
//! - [`lookup`]: actions joined with a table's arrangement as of their event time.
//!
//! Records are rendered where they are decided, so rendering is spread over the workers; the
//! writer only puts the lines in order.

pub mod audit_writer;
pub mod chain;
pub mod decided;
pub mod deliver;
pub mod evaluate;
pub mod keyed;
pub mod lookup;
pub mod schedule;
pub mod source;
pub mod table;
pub mod table_source;
pub mod tap;

use crate::action::{Action, Position};
use crate::answers::Answers;
use crate::audit::record::{AuditRecord, AuditTtl, Detail, Details, RecordId};
use crate::audit::redact::Redactor;
use crate::eval::Evaluator;
use crate::name::Name;
use crate::provider::CallResult;
use crate::report::Fact;
use crate::time::Clock;
use acteon_dsl::plan::Outcome;
use keyed::Key;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// An action on its way through the rules. Moved from operator to operator, so kept small:
/// the action itself is boxed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub action: Box<Action>,
    /// The rule evaluation resumes at.
    pub next_rule: u32,
    /// Audit records already written about this action: the next record's place.
    pub records: u32,
    /// Over a `warn` quota: (limit, window) noted on the deciding record.
    pub quota_warning: Option<(u64, u64)>,
    /// The key the keyed operator this flow goes to decides it by, computed once before the
    /// exchange ([`keyed`]).
    pub key: Option<Key>,
}

impl Flow {
    pub fn new(action: Action) -> Flow {
        Flow {
            action: Box::new(action),
            next_rule: 0,
            records: 0,
            quota_warning: None,
            key: None,
        }
    }

    /// Where the work on this action happens outside keyed operators: the worker its
    /// position spreads to.
    pub fn spread(&self) -> u64 {
        self.action.position.spread()
    }
}

/// A decision about an action, to deliver (when `deliver`) and then audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub flow: Flow,
    pub rule: Option<u32>,
    pub outcome: Outcome,
    /// The provider to call, or the one the decision names.
    pub target: Option<Name>,
    pub details: Details,
    pub deliver: bool,
}

impl Decision {
    pub fn record(flow: Flow, rule: Option<u32>, outcome: Outcome, details: Details) -> Decision {
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

/// Where an audit entry goes in the written audit: event time, input position, then the
/// record's place among the action's records. Unique per record.
pub type AuditOrder = (i64, Position, u32);

/// An audit record's line, rendered on the worker that made it, and what the writer needs
/// besides: the facts the live views count, and the typed record only when a destination
/// reads it (a sink, a memory audit); a file needs the line alone, and the record is dropped
/// where it was made. Moved from operator to operator, so kept small.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub order: AuditOrder,
    /// The record's JSON line, without the newline.
    pub line: Vec<u8>,
    pub fact: Fact,
    pub record: Option<Box<AuditRecord>>,
    /// For rejected lines, late actions and failed chain steps: the dead-letter entry.
    pub dead_letter: Option<Box<DeadLetter>>,
}

impl AuditEntry {
    /// The record (already redacted) with its line; `keep`: with the record itself.
    pub fn new(
        record: AuditRecord,
        order: AuditOrder,
        dead_letter: Option<DeadLetter>,
        keep: bool,
    ) -> Self {
        let mut line = Vec::with_capacity(512);
        record.render(&mut line);
        AuditEntry {
            order,
            line,
            fact: Fact::of(&record),
            record: keep.then(|| Box::new(record)),
            dead_letter: dead_letter.map(Box::new),
        }
    }
}

/// What goes to the dead-letter output (a file, or a feed's dead-letter topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadLetter {
    /// An input record that was not decided (rejected, or late), its bytes as read.
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

/// The same, as record details.
pub fn position_details(position: Position) -> Details {
    match position {
        Position::Line(line) => Details::new().with("line", line),
        Position::Kafka { partition, offset } => Details::new()
            .with("partition", i64::from(partition))
            .with("offset", offset),
        Position::Api(n) => Details::new().with("api", n),
    }
}

/// Renders decisions as audit records and lines, the same way on every worker.
pub struct Renderer {
    pub evaluator: Arc<Evaluator>,
    pub clock: Clock,
    pub store_payload: bool,
    pub redactor: Redactor,
    pub ttl: AuditTtl,
    /// Whether a destination reads the typed records (else entries carry lines only).
    pub keep_records: bool,
    /// Where served actions' decisions are answered as they are made.
    pub answers: Option<Arc<dyn Answers>>,
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
    ) -> AuditEntry {
        let Decision {
            flow,
            rule,
            mut outcome,
            target,
            mut details,
            ..
        } = decision;
        if let Some((limit, window_ms)) = flow.quota_warning {
            details.insert(
                "quota",
                Details::new()
                    .with("exceeded", true)
                    .with("limit", limit)
                    .with("window_ms", window_ms)
                    .with("behaviour", "warn"),
            );
        }
        let mut duration_ms = 0;
        if let Some(result) = result {
            if !result.success {
                outcome = Outcome::Failed;
            }
            duration_ms = result.duration_ms;
            let mut response = result.body.clone();
            if !response.is_null() {
                self.redactor.redact(&mut response);
            }
            details.insert(
                "delivery",
                Detail::Delivery {
                    attempts: result.attempts,
                    response,
                    error: result.error.clone(),
                },
            );
        }
        let (dispatched, completed) = match self.clock {
            Clock::Event => (flow.action.event_time_ms, flow.action.event_time_ms),
            Clock::Processing => (dispatched_ms, now_ms),
        };
        let rule = rule.map(|r| self.evaluator.rule(r).name.clone());
        let action = *flow.action;
        // The deciding record of a chain names the chain it started.
        let chain_id = match (outcome, details.get("chain")) {
            (Outcome::ChainStarted, Some(chain)) => chain
                .as_str()
                .map(|chain| crate::chains::chain_id(&action, chain)),
            _ => None,
        };
        let order = (action.event_time_ms, action.position, flow.records);
        let record = AuditRecord {
            id: RecordId::new(Arc::clone(&action.id), action.position, flow.records),
            action_id: action.id,
            expires_at_ms: self
                .ttl
                .expires_at_ms(&action.namespace, &action.tenant, dispatched),
            namespace: action.namespace,
            tenant: action.tenant,
            action_type: action.action_type,
            provider: action.provider,
            target,
            rule,
            outcome,
            chain_id,
            details,
            payload: self
                .store_payload
                .then(|| action.payload.redacted(&self.redactor)),
            dispatched_at_ms: dispatched,
            completed_at_ms: completed,
            duration_ms,
        };
        self.entry(record, order, None)
    }

    /// The entry of a record made elsewhere (a chain's step, a rejected line).
    pub fn entry(
        &self,
        record: AuditRecord,
        order: AuditOrder,
        dead_letter: Option<DeadLetter>,
    ) -> AuditEntry {
        if let (Some(answers), Position::Api(token)) = (&self.answers, order.1) {
            if record.outcome.decides() {
                answers.answer(token, &record);
            }
        }
        AuditEntry::new(record, order, dead_letter, self.keep_records)
    }
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
