//! The engine: a checked plan compiled into a timely dataflow that decides every action,
//! delivers it, and audits the decision.
//!
//! Module map:
//! - [`action`]: the decoded input record.
//! - [`provider`]: the provider trait; results flow back into the dataflow.
//! - [`providers`]: dry-run and log providers, and the registry that picks one per provider.
//! - [`audit`]: audit records, redaction, the JSON-lines sink and the in-memory store.
//! - [`report`]: live outcome counts per tenant, rule and provider (differential views).

pub mod action;
pub mod audit;
pub mod provider;
pub mod providers;
pub mod report;
