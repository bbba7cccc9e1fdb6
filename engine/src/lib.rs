//! The engine: a checked plan compiled into a timely dataflow that decides every action,
//! delivers it, and audits the decision.
//!
//! Module map:
//! - [`action`]: the decoded input record.
//! - [`provider`]: the provider trait; results flow back into the dataflow.
//! - [`audit`]: audit records and sinks.

pub mod action;
pub mod audit;
pub mod provider;
