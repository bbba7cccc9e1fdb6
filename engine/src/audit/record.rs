//! The audit record: one per decision, per release of a held action, per chain step.

use acteon_dsl::plan::{Outcome, Plan};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// docs/design.md, "Audit record". Serialized field names are part of the product's interface.
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

/// How long a tenant's audit records are kept: a `retention` entry's `audit` for the tenant
/// overrides the audit's own `ttl`, as in the older gateway. Nothing configured: records never
/// expire (`expires_at` is null).
#[derive(Debug, Clone, Default)]
pub struct AuditTtl {
    default_ms: Option<u64>,
    /// Entries naming a namespace come first, so they win over namespace-less ones.
    retention: Vec<(Option<String>, String, u64)>,
}

impl AuditTtl {
    pub fn new(plan: &Plan) -> AuditTtl {
        let mut retention: Vec<(Option<String>, String, u64)> = plan
            .retention
            .iter()
            .filter_map(|r| Some((r.namespace.clone(), r.tenant.clone(), r.audit_ms?)))
            .collect();
        retention.sort_by_key(|(namespace, _, _)| namespace.is_none());
        AuditTtl {
            default_ms: plan.audit.ttl_ms,
            retention,
        }
    }

    pub fn ttl_ms(&self, namespace: &str, tenant: &str) -> Option<u64> {
        self.retention
            .iter()
            .find(|(ns, t, _)| t == tenant && ns.as_deref().is_none_or(|ns| ns == namespace))
            .map(|(_, _, ms)| *ms)
            .or(self.default_ms)
    }

    /// The record's `expires_at`: its `dispatched_at` plus the tenant's TTL.
    pub fn expires_at(&self, record: &AuditRecord) -> Option<String> {
        let ttl_ms = self.ttl_ms(&record.namespace, &record.tenant)?;
        expires_at(&record.dispatched_at, ttl_ms)
    }
}

/// `dispatched_at` (RFC 3339) plus `ttl_ms`, as RFC 3339 UTC with milliseconds; `None` when
/// `dispatched_at` is not RFC 3339 or the sum leaves chrono's range.
pub fn expires_at(dispatched_at: &str, ttl_ms: u64) -> Option<String> {
    let dispatched = DateTime::parse_from_rfc3339(dispatched_at).ok()?;
    let ttl = TimeDelta::try_milliseconds(i64::try_from(ttl_ms).ok()?)?;
    let expires = dispatched.checked_add_signed(ttl)?.with_timezone(&Utc);
    Some(expires.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use acteon_dsl::plan::{Audit, Retention};

    #[test]
    fn expires_at_adds_the_ttl() {
        assert_eq!(
            expires_at("2026-11-28T09:00:00.250Z", 7 * 24 * 3_600_000).as_deref(),
            Some("2026-12-05T09:00:00.250Z")
        );
        assert_eq!(
            expires_at("2026-11-28T10:00:00+01:00", 1).as_deref(),
            Some("2026-11-28T09:00:00.001Z")
        );
        assert_eq!(expires_at("yesterday", 1), None);
    }

    #[test]
    fn retention_overrides_the_audit_ttl_per_tenant() {
        let plan = Plan {
            audit: Audit {
                ttl_ms: Some(1_000),
                ..Audit::default()
            },
            retention: vec![
                Retention {
                    namespace: None,
                    tenant: "hq".into(),
                    audit_ms: Some(2_000),
                    events_ms: None,
                    state_ms: None,
                },
                Retention {
                    namespace: Some("iot".into()),
                    tenant: "hq".into(),
                    audit_ms: Some(3_000),
                    events_ms: None,
                    state_ms: None,
                },
                Retention {
                    namespace: None,
                    tenant: "events-only".into(),
                    audit_ms: None,
                    events_ms: Some(5),
                    state_ms: None,
                },
            ],
            ..Plan::default()
        };
        let ttl = AuditTtl::new(&plan);
        assert_eq!(ttl.ttl_ms("iot", "hq"), Some(3_000));
        assert_eq!(ttl.ttl_ms("billing", "hq"), Some(2_000));
        assert_eq!(ttl.ttl_ms("iot", "events-only"), Some(1_000));
        assert_eq!(ttl.ttl_ms("iot", "other"), Some(1_000));
        assert_eq!(AuditTtl::new(&Plan::default()).ttl_ms("iot", "hq"), None);
    }
}
