//! Answers: a served action's decision handed to the request waiting for it the moment the
//! decision is made, on whichever worker makes it.
//!
//! An action received over HTTP carries its request's token in its position
//! ([`Position::Api`](crate::action::Position::Api)). The first deciding record made for it
//! (see [`Outcome::decides`](acteon_dsl::plan::Outcome::decides)) is given to
//! [`Answers::answer`] by the [`Renderer`](crate::operators::Renderer) that makes it: the
//! answer does not wait for its epoch's audit to be written, nor for other actions' deliveries
//! or chain steps. In a cluster the decision may be made in another process, whose registry
//! does not know the token; the record then reaches the process that received the request
//! through its audit writer ([`RunConfig::audit_at_entry`](crate::RunConfig)), which answers
//! from there. A registry must ignore a token it does not hold (answered already, or given up).
//!
//! What an answer guarantees: the decision is final (no later record changes it), and its
//! record has been handed to the audit writer, which writes it once its epoch is complete
//! (within milliseconds, or once a delivery still in flight in that epoch returns). A crash in
//! between loses the record.

use crate::audit::record::AuditRecord;

/// Where the answers of served actions go.
pub trait Answers: Send + Sync + std::fmt::Debug {
    /// The deciding record of the action whose request token is `token`.
    fn answer(&self, token: u64, record: &AuditRecord);
}
