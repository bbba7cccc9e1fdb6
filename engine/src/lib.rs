//! The engine: a checked plan compiled into a timely dataflow that decides every action,
//! delivers it, and audits the decision.
//!
//! Module map:
//! - [`run`]: the public entry point and its configuration.
//! - [`expect`]: a script's `test` blocks run and checked (`run_test`).
//! - [`action`]: the decoded input record.
//! - [`answers`]: served actions' decisions, handed to their waiting requests as they are made.
//! - [`control`]: requests on held state (flush waiting groups now).
//! - [`name`]: interned names (tenants, namespaces, action types, providers, rules).
//! - [`payload`]: a payload kept as its JSON text, with the values the plan reads taken out.
//! - [`decode`]: one JSON line into an action, or the reason it is rejected.
//! - [`json`]: JSON text read and written without trees.
//! - [`feed`]: the interface of live record sources (Kafka): lanes, positions, completions.
//! - [`eval`]: the plan's rules compiled into one evaluator with a shared predicate table.
//! - [`chains`]: chains compiled once per plan (templates, branches), and chain statuses.
//! - [`tables`]: reference data read by key as of each action's event time: versions, the
//!   latest rows shared with the HTTP API, tables read from topics.
//! - [`checkpoint`]: durable state: checkpoints of every stateful operator with the feed's
//!   positions, the store interface and the directory store (the DynamoDB one is in
//!   `acteon-aws`), and restoring them.
//! - [`time`]: clocks, epochs, RFC 3339.
//! - [`dataflow`]: the operators assembled into one dataflow per worker.
//! - [`operators`]: the dataflow's operators, one per file.
//! - [`provider`]: the provider trait; results flow back into the dataflow.
//! - [`providers`]: dry-run and log providers, and the registry that picks one per provider.
//! - [`audit`]: audit records, redaction, the JSON-lines sink and the in-memory store.
//! - [`report`]: live outcome counts per tenant, rule and provider (differential views).

pub mod action;
pub mod answers;
pub mod audit;
pub mod chains;
pub mod checkpoint;
pub mod control;
pub mod dataflow;
pub mod decode;
pub mod eval;
pub mod expect;
pub mod feed;
pub mod json;
pub mod name;
pub mod operators;
pub mod payload;
pub mod provider;
pub mod providers;
pub mod report;
pub mod run;
pub mod tables;
pub mod time;

pub use expect::{run_test, TestOutcome};
pub use run::{
    run, AuditOutput, CheckpointConfig, Clock, Cluster, Delivery, EngineError, Input, RunConfig,
    RunObserver, RunReport,
};
