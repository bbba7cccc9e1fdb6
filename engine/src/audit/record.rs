//! The audit record: one per decision, per release of a held action, per chain step.

use acteon_dsl::plan::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// DESIGN.md, "Audit record". Serialized field names are part of the product's interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unique and deterministic for a replay: derived from the action id and the record's
    /// place among that action's records.
    pub id: String,
    /// For chain steps and batches: the action that started them.
    pub action_id: String,
    pub namespace: String,
    pub tenant: String,
    pub action_type: String,
    /// The action's own provider.
    pub provider: Option<String>,
    /// The provider actually called, if any.
    pub target: Option<String>,
    /// The rule that decided; `None` when no rule did.
    pub rule: Option<String>,
    pub outcome: Outcome,
    /// Outcome-specific: retry_after_ms, group key and size, chain id, delivery result
    /// (attempts, response, error), fallback, rejection reason.
    pub details: Value,
    /// After modify and redaction, when the audit stores payloads.
    pub payload: Option<Value>,
    pub chain_id: Option<String>,
    /// RFC 3339 with milliseconds. On the event clock: the decision's event time.
    pub dispatched_at: String,
    pub completed_at: String,
    pub duration_ms: u64,
    pub expires_at: Option<String>,
}
