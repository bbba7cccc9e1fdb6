//! Runtime quotas and retention policies: created, listed, updated and deleted over the API,
//! on top of what the script declares. The script's own entries are listed too (`source:
//! "script"`) and are read-only. The plan a generation runs is the script's plan with the
//! runtime entries added ([`Policies::overlay`]); a change starts a new generation.

use crate::error::ApiError;
use acteon_dsl::plan::{Outcome, Plan, Quota, QuotaExceed, Retention};
use acteon_engine::audit::store::AuditStore;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Script,
    Api,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaPolicy {
    pub id: String,
    pub namespace: Option<String>,
    pub tenant: String,
    pub max_actions: u64,
    /// As given: `hourly`, `daily`, `weekly`, `monthly` or seconds.
    pub window: String,
    pub window_ms: u64,
    pub overage_behavior: QuotaExceed,
    pub enabled: bool,
    pub description: Option<String>,
    pub source: Origin,
    pub created_at: String,
    pub updated_at: String,
}

/// The body of `POST /v1/quotas` and `PUT /v1/quotas/{id}` (the older gateway's names).
#[derive(Debug, Deserialize)]
pub struct QuotaRequest {
    pub namespace: Option<String>,
    pub tenant: String,
    pub max_actions: u64,
    pub window: Value,
    #[serde(default = "block")]
    pub overage_behavior: String,
    #[serde(default = "enabled")]
    pub enabled: bool,
    pub description: Option<String>,
}

fn block() -> String {
    "block".into()
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionPolicy {
    pub id: String,
    pub namespace: Option<String>,
    pub tenant: String,
    pub audit_ttl_seconds: Option<u64>,
    pub event_ttl_seconds: Option<u64>,
    pub state_ttl_seconds: Option<u64>,
    pub enabled: bool,
    pub description: Option<String>,
    pub source: Origin,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize)]
pub struct RetentionRequest {
    pub namespace: Option<String>,
    pub tenant: String,
    pub audit_ttl_seconds: Option<u64>,
    pub event_ttl_seconds: Option<u64>,
    pub state_ttl_seconds: Option<u64>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    pub description: Option<String>,
}

#[derive(Debug, Default)]
pub struct Policies {
    quotas: RwLock<BTreeMap<String, QuotaPolicy>>,
    retention: RwLock<BTreeMap<String, RetentionPolicy>>,
    next: AtomicU64,
}

pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `hourly`, `daily`, `weekly`, `monthly` (30 days), or a number of seconds (number or text).
fn window_ms(window: &Value) -> Result<(String, u64), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_window",
            format!("window {window} is not hourly, daily, weekly, monthly or a number of seconds"),
        )
    };
    let (text, seconds) = match window {
        Value::String(text) => {
            let seconds = match text.as_str() {
                "hourly" => 3_600,
                "daily" => 86_400,
                "weekly" => 7 * 86_400,
                "monthly" => 30 * 86_400,
                other => other.parse::<u64>().map_err(|_| bad())?,
            };
            (text.clone(), seconds)
        }
        Value::Number(n) => (n.to_string(), n.as_u64().ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    match seconds {
        0 => Err(bad()),
        s => Ok((text, s * 1_000)),
    }
}

fn overage(text: &str) -> Result<QuotaExceed, ApiError> {
    match text {
        "block" => Ok(QuotaExceed::Block),
        "warn" => Ok(QuotaExceed::Warn),
        other => Err(ApiError::bad_request(
            "invalid_overage_behavior",
            format!("overage_behavior `{other}` is not block or warn"),
        )),
    }
}

fn seconds_of(ms: Option<u64>) -> Option<u64> {
    ms.map(|ms| ms / 1_000)
}

impl Policies {
    /// The script's own quotas and retention, listed read-only.
    pub fn from_script(plan: &Plan) -> Policies {
        let policies = Policies::default();
        policies.refresh_script(plan);
        policies
    }

    /// Replaces the script's entries with those of `plan` (a reload); API entries stay.
    pub fn refresh_script(&self, plan: &Plan) {
        let policies = self;
        policies
            .write_quotas()
            .retain(|_, q| q.source == Origin::Api);
        policies
            .write_retention()
            .retain(|_, r| r.source == Origin::Api);
        let now = now_rfc3339();
        for (n, quota) in plan.quotas.iter().enumerate() {
            let id = format!("script-quota-{n}");
            policies.write_quotas().insert(
                id.clone(),
                QuotaPolicy {
                    id,
                    namespace: quota.namespace.clone(),
                    tenant: quota.tenant.clone(),
                    max_actions: quota.limit,
                    window: format!("{}", quota.window_ms / 1_000),
                    window_ms: quota.window_ms,
                    overage_behavior: quota.on_exceed,
                    enabled: true,
                    description: Some("declared in the script".into()),
                    source: Origin::Script,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                },
            );
        }
        for (n, retention) in plan.retention.iter().enumerate() {
            let id = format!("script-retention-{n}");
            policies.write_retention().insert(
                id.clone(),
                RetentionPolicy {
                    id,
                    namespace: retention.namespace.clone(),
                    tenant: retention.tenant.clone(),
                    audit_ttl_seconds: seconds_of(retention.audit_ms),
                    event_ttl_seconds: seconds_of(retention.events_ms),
                    state_ttl_seconds: seconds_of(retention.state_ms),
                    enabled: true,
                    description: Some("declared in the script".into()),
                    source: Origin::Script,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                },
            );
        }
    }

    /// `plan` (the script's) with the enabled runtime entries added. Runtime retention comes
    /// first, so it wins over the script's for the same tenant.
    pub fn overlay(&self, plan: &Plan) -> Plan {
        let mut plan = plan.clone();
        let api = |source: Origin| source == Origin::Api;
        plan.quotas.extend(
            self.read_quotas()
                .values()
                .filter(|q| api(q.source) && q.enabled)
                .map(|q| Quota {
                    namespace: q.namespace.clone(),
                    tenant: q.tenant.clone(),
                    limit: q.max_actions,
                    window_ms: q.window_ms,
                    on_exceed: q.overage_behavior,
                }),
        );
        let mut retention: Vec<Retention> = self
            .read_retention()
            .values()
            .filter(|r| api(r.source) && r.enabled)
            .map(|r| Retention {
                namespace: r.namespace.clone(),
                tenant: r.tenant.clone(),
                audit_ms: r.audit_ttl_seconds.map(|s| s * 1_000),
                events_ms: r.event_ttl_seconds.map(|s| s * 1_000),
                state_ms: r.state_ttl_seconds.map(|s| s * 1_000),
            })
            .collect();
        retention.append(&mut plan.retention);
        plan.retention = retention;
        plan
    }

    fn id(&self, kind: &str) -> String {
        format!("{kind}-{}", self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub fn quotas(&self) -> Vec<QuotaPolicy> {
        self.read_quotas().values().cloned().collect()
    }

    pub fn quota(&self, id: &str) -> Option<QuotaPolicy> {
        self.read_quotas().get(id).cloned()
    }

    /// Creates (`id` None) or replaces an API quota.
    pub fn put_quota(
        &self,
        id: Option<&str>,
        request: QuotaRequest,
    ) -> Result<QuotaPolicy, ApiError> {
        if request.max_actions == 0 {
            return Err(ApiError::bad_request(
                "invalid_quota",
                "max_actions must be above 0",
            ));
        }
        let (window, window_ms) = window_ms(&request.window)?;
        let overage_behavior = overage(&request.overage_behavior)?;
        let mut quotas = self.write_quotas();
        let now = now_rfc3339();
        let created_at = match id {
            Some(id) => match quotas.get(id) {
                None => return Err(ApiError::not_found("quota", id)),
                Some(q) if q.source == Origin::Script => return Err(read_only("quota", id)),
                Some(q) => q.created_at.clone(),
            },
            None => {
                let clash = quotas.values().any(|q| {
                    q.source == Origin::Api
                        && q.tenant == request.tenant
                        && q.namespace == request.namespace
                        && q.window_ms == window_ms
                });
                if clash {
                    return Err(ApiError::conflict(format!(
                        "tenant `{}` already has a quota over this window",
                        request.tenant
                    )));
                }
                now.clone()
            }
        };
        let policy = QuotaPolicy {
            id: id.map_or_else(|| self.id("quota"), str::to_owned),
            namespace: request.namespace,
            tenant: request.tenant,
            max_actions: request.max_actions,
            window,
            window_ms,
            overage_behavior,
            enabled: request.enabled,
            description: request.description,
            source: Origin::Api,
            created_at,
            updated_at: now,
        };
        quotas.insert(policy.id.clone(), policy.clone());
        Ok(policy)
    }

    pub fn delete_quota(&self, id: &str) -> Result<QuotaPolicy, ApiError> {
        let mut quotas = self.write_quotas();
        match quotas.get(id) {
            None => Err(ApiError::not_found("quota", id)),
            Some(q) if q.source == Origin::Script => Err(read_only("quota", id)),
            Some(_) => Ok(quotas.remove(id).expect("present")),
        }
    }

    pub fn retention(&self) -> Vec<RetentionPolicy> {
        self.read_retention().values().cloned().collect()
    }

    pub fn retention_policy(&self, id: &str) -> Option<RetentionPolicy> {
        self.read_retention().get(id).cloned()
    }

    pub fn put_retention(
        &self,
        id: Option<&str>,
        request: RetentionRequest,
    ) -> Result<RetentionPolicy, ApiError> {
        if [
            request.audit_ttl_seconds,
            request.event_ttl_seconds,
            request.state_ttl_seconds,
        ]
        .contains(&Some(0))
        {
            return Err(ApiError::bad_request(
                "invalid_retention",
                "a TTL of 0 seconds keeps nothing",
            ));
        }
        let mut policies = self.write_retention();
        let now = now_rfc3339();
        let created_at = match id {
            Some(id) => match policies.get(id) {
                None => return Err(ApiError::not_found("retention policy", id)),
                Some(r) if r.source == Origin::Script => {
                    return Err(read_only("retention policy", id))
                }
                Some(r) => r.created_at.clone(),
            },
            None => {
                let clash = policies.values().any(|r| {
                    r.source == Origin::Api
                        && r.tenant == request.tenant
                        && r.namespace == request.namespace
                });
                if clash {
                    return Err(ApiError::conflict(format!(
                        "tenant `{}` already has a retention policy",
                        request.tenant
                    )));
                }
                now.clone()
            }
        };
        let policy = RetentionPolicy {
            id: id.map_or_else(|| self.id("retention"), str::to_owned),
            namespace: request.namespace,
            tenant: request.tenant,
            audit_ttl_seconds: request.audit_ttl_seconds,
            event_ttl_seconds: request.event_ttl_seconds,
            state_ttl_seconds: request.state_ttl_seconds,
            enabled: request.enabled,
            description: request.description,
            source: Origin::Api,
            created_at,
            updated_at: now,
        };
        policies.insert(policy.id.clone(), policy.clone());
        Ok(policy)
    }

    pub fn delete_retention(&self, id: &str) -> Result<RetentionPolicy, ApiError> {
        let mut policies = self.write_retention();
        match policies.get(id) {
            None => Err(ApiError::not_found("retention policy", id)),
            Some(r) if r.source == Origin::Script => Err(read_only("retention policy", id)),
            Some(_) => Ok(policies.remove(id).expect("present")),
        }
    }

    /// How long events (per-action states) of a tenant are kept: the first enabled policy
    /// naming it, API ones first.
    pub fn event_ttl_ms(&self, namespace: &str, tenant: &str) -> Option<u64> {
        let policies = self.read_retention();
        let mut matching: Vec<&RetentionPolicy> = policies
            .values()
            .filter(|r| {
                r.enabled
                    && r.tenant == tenant
                    && r.namespace.as_deref().is_none_or(|n| n == namespace)
            })
            .collect();
        matching.sort_by_key(|r| r.source == Origin::Script);
        matching
            .into_iter()
            .find_map(|r| r.event_ttl_seconds)
            .map(|s| s * 1_000)
    }

    fn read_quotas(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, QuotaPolicy>> {
        self.quotas.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_quotas(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, QuotaPolicy>> {
        self.quotas.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_retention(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, RetentionPolicy>> {
        self.retention.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_retention(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, RetentionPolicy>> {
        self.retention.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Actions of the tenant counted in the quota's current window (aligned to multiples of the
/// window): each action's first record, since the quota counts every attempt.
pub fn usage(store: &AuditStore, quota: &QuotaPolicy, now_ms: i64) -> u64 {
    let window = quota.window_ms.max(1) as i64;
    let start = now_ms - now_ms.rem_euclid(window);
    store
        .records()
        .iter()
        .filter(|r| {
            r.tenant == quota.tenant
                && quota.namespace.as_ref().is_none_or(|n| *n == r.namespace)
                && r.id.place == Some(0)
                && r.outcome != Outcome::GroupFlushed
                && r.dispatched_at_ms >= start
        })
        .count() as u64
}

fn read_only(what: &str, id: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "declared_in_script",
        format!("{what} `{id}` is declared in the script: edit the script to change it"),
    )
}
