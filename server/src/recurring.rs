//! Recurring actions: five-field cron expressions in a timezone, from the script and from the
//! API (create, list, get, update, delete, pause, resume). A job checks them every
//! `recurring_check_interval` and dispatches each due occurrence through the rules, like any
//! action. Five fields mean at most one occurrence a minute, the minimum interval; a tenant may
//! have at most `max_recurring_per_tenant` of them.

use crate::error::ApiError;
use crate::policies::{now_rfc3339, Origin};
use acteon_dsl::plan::Recurring;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Paused,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecurringAction {
    pub id: String,
    pub name: String,
    pub namespace: String,
    pub tenant: String,
    pub cron_expression: String,
    pub timezone: String,
    pub provider: String,
    pub action_type: String,
    pub payload: Value,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    pub status: Status,
    pub source: Origin,
    pub executions: u64,
    pub next_execution_at: Option<String>,
    pub last_execution_at: Option<String>,
    pub created_at: String,
    #[serde(skip)]
    next_ms: Option<i64>,
}

/// The body of `POST /v1/recurring` and `PUT /v1/recurring/{id}`. The action's fields may be
/// flat or inside `action_template`, and the cron may be `cron_expression` or `cron_expr` (the
/// seed's scripts use both shapes).
#[derive(Debug, Deserialize)]
pub struct RecurringRequest {
    pub name: Option<String>,
    pub namespace: String,
    pub tenant: String,
    #[serde(alias = "cron_expr", alias = "cron")]
    pub cron_expression: String,
    #[serde(default = "utc")]
    pub timezone: String,
    pub provider: Option<String>,
    pub action_type: Option<String>,
    pub payload: Option<Value>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub action_template: Option<Template>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Template {
    pub provider: Option<String>,
    pub action_type: Option<String>,
    pub payload: Option<Value>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

fn utc() -> String {
    "UTC".into()
}

fn enabled() -> bool {
    true
}

/// A checked schedule: the cron and its timezone.
struct Schedule {
    cron: Cron,
    timezone: Tz,
}

impl Schedule {
    fn parse(expression: &str, timezone: &str) -> Result<Schedule, ApiError> {
        if expression.split_whitespace().count() != 5 {
            return Err(ApiError::bad_request(
                "invalid_cron",
                format!("`{expression}` does not have five fields (minute hour day month weekday)"),
            ));
        }
        let cron = Cron::from_str(expression)
            .map_err(|e| ApiError::bad_request("invalid_cron", format!("`{expression}`: {e}")))?;
        let timezone = Tz::from_str(timezone).map_err(|_| {
            ApiError::bad_request(
                "invalid_timezone",
                format!("`{timezone}` is not a timezone"),
            )
        })?;
        Ok(Schedule { cron, timezone })
    }

    /// The first occurrence strictly after `after_ms`.
    fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = DateTime::<Utc>::from_timestamp_millis(after_ms)?.with_timezone(&self.timezone);
        let next = self.cron.find_next_occurrence(&after, false).ok()?;
        Some(next.with_timezone(&Utc).timestamp_millis())
    }
}

fn rfc3339(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[derive(Debug)]
pub struct RecurringBook {
    entries: RwLock<BTreeMap<String, RecurringAction>>,
    max_per_tenant: usize,
    next: AtomicU64,
}

impl RecurringBook {
    /// The script's recurring actions, active, their first occurrence after `now_ms`.
    pub fn new(script: &[Recurring], max_per_tenant: usize, now_ms: i64) -> RecurringBook {
        let book = RecurringBook {
            entries: RwLock::new(BTreeMap::new()),
            max_per_tenant,
            next: AtomicU64::new(0),
        };
        for recurring in script {
            // The script was checked: its crons and timezones parse.
            let Ok(schedule) = Schedule::parse(&recurring.cron, &recurring.timezone) else {
                tracing::warn!(
                    name = recurring.name,
                    "a script recurring action does not parse"
                );
                continue;
            };
            let next_ms = schedule.next_after(now_ms);
            let entry = RecurringAction {
                id: recurring.name.clone(),
                name: recurring.name.clone(),
                namespace: recurring.namespace.clone(),
                tenant: recurring.tenant.clone(),
                cron_expression: recurring.cron.clone(),
                timezone: recurring.timezone.clone(),
                provider: recurring.provider.clone(),
                action_type: recurring.action_type.clone(),
                payload: recurring.payload.clone(),
                metadata: recurring.metadata.clone(),
                description: Some("declared in the script".into()),
                status: Status::Active,
                source: Origin::Script,
                executions: 0,
                next_execution_at: next_ms.and_then(rfc3339),
                last_execution_at: None,
                created_at: now_rfc3339(),
                next_ms,
            };
            book.write().insert(entry.id.clone(), entry);
        }
        book
    }

    pub fn list(&self) -> Vec<RecurringAction> {
        self.read().values().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<RecurringAction> {
        self.read().get(id).cloned()
    }

    /// Creates (`id` None) or replaces an API recurring action.
    pub fn put(
        &self,
        id: Option<&str>,
        request: RecurringRequest,
        now_ms: i64,
    ) -> Result<RecurringAction, ApiError> {
        let schedule = Schedule::parse(&request.cron_expression, &request.timezone)?;
        let template = request.action_template;
        let pick = |flat: Option<String>, nested: Option<String>, field: &str| {
            flat.or(nested).ok_or_else(|| {
                ApiError::bad_request("invalid_recurring", format!("`{field}` is required"))
            })
        };
        let (t_provider, t_type, t_payload, t_metadata) = match template {
            Some(t) => (t.provider, t.action_type, t.payload, t.metadata),
            None => (None, None, None, BTreeMap::new()),
        };
        let provider = pick(request.provider, t_provider, "provider")?;
        let action_type = pick(request.action_type, t_type, "action_type")?;
        let payload = request.payload.or(t_payload).unwrap_or_else(|| json!({}));
        if !payload.is_object() {
            return Err(ApiError::bad_request(
                "invalid_recurring",
                "`payload` must be an object",
            ));
        }
        let mut metadata = t_metadata;
        metadata.extend(request.metadata);
        let mut entries = self.write();
        let (created_at, executions, last) = match id {
            Some(id) => match entries.get(id) {
                None => return Err(ApiError::not_found("recurring action", id)),
                Some(e) if e.source == Origin::Script => return Err(read_only(id)),
                Some(e) => (
                    e.created_at.clone(),
                    e.executions,
                    e.last_execution_at.clone(),
                ),
            },
            None => {
                let of_tenant = entries
                    .values()
                    .filter(|e| e.tenant == request.tenant)
                    .count();
                if of_tenant >= self.max_per_tenant {
                    return Err(ApiError::conflict(format!(
                        "tenant `{}` already has {of_tenant} recurring actions, the most allowed",
                        request.tenant
                    )));
                }
                (now_rfc3339(), 0, None)
            }
        };
        let id = id.map_or_else(
            || {
                format!(
                    "recurring-{}",
                    self.next.fetch_add(1, Ordering::Relaxed) + 1
                )
            },
            str::to_owned,
        );
        let next_ms = schedule.next_after(now_ms);
        let entry = RecurringAction {
            name: request.name.unwrap_or_else(|| id.clone()),
            id,
            namespace: request.namespace,
            tenant: request.tenant,
            cron_expression: request.cron_expression,
            timezone: request.timezone,
            provider,
            action_type,
            payload,
            metadata,
            description: request.description,
            status: match request.enabled {
                true => Status::Active,
                false => Status::Paused,
            },
            source: Origin::Api,
            executions,
            next_execution_at: next_ms.and_then(rfc3339),
            last_execution_at: last,
            created_at,
            next_ms,
        };
        entries.insert(entry.id.clone(), entry.clone());
        Ok(entry)
    }

    pub fn delete(&self, id: &str) -> Result<RecurringAction, ApiError> {
        let mut entries = self.write();
        match entries.get(id) {
            None => Err(ApiError::not_found("recurring action", id)),
            Some(e) if e.source == Origin::Script => Err(read_only(id)),
            Some(_) => Ok(entries.remove(id).expect("present")),
        }
    }

    /// Pauses or resumes; a resumed action's next occurrence is the first after now.
    pub fn set_status(
        &self,
        id: &str,
        status: Status,
        now_ms: i64,
    ) -> Result<RecurringAction, ApiError> {
        let mut entries = self.write();
        let entry = entries
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("recurring action", id))?;
        if entry.status != status && status == Status::Active {
            let schedule = Schedule::parse(&entry.cron_expression, &entry.timezone)?;
            entry.next_ms = schedule.next_after(now_ms);
            entry.next_execution_at = entry.next_ms.and_then(rfc3339);
        }
        entry.status = status;
        Ok(entry.clone())
    }

    /// The occurrences due at `now_ms`, as actions (JSON objects), each entry moved on to its
    /// next occurrence. An occurrence missed while paused or down is not made up.
    pub fn take_due(&self, now_ms: i64) -> Vec<Value> {
        let mut due = Vec::new();
        for entry in self.write().values_mut() {
            let Some(at_ms) = entry.next_ms.filter(|&at| at <= now_ms) else {
                continue;
            };
            if entry.status != Status::Active {
                continue;
            }
            let Ok(schedule) = Schedule::parse(&entry.cron_expression, &entry.timezone) else {
                continue;
            };
            entry.executions += 1;
            entry.last_execution_at = rfc3339(at_ms);
            entry.next_ms = schedule.next_after(now_ms.max(at_ms));
            entry.next_execution_at = entry.next_ms.and_then(rfc3339);
            let mut metadata: Map<String, Value> = entry
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            metadata.insert("recurring_id".into(), Value::String(entry.id.clone()));
            due.push(json!({
                "id": format!("{}-{at_ms}", entry.id),
                "namespace": entry.namespace,
                "tenant": entry.tenant,
                "provider": entry.provider,
                "action_type": entry.action_type,
                "payload": entry.payload,
                "metadata": metadata,
                "created_at": entry.last_execution_at,
            }));
        }
        due
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, RecurringAction>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, RecurringAction>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn read_only(id: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "declared_in_script",
        format!("recurring action `{id}` is declared in the script: edit the script to change it"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cron: &str) -> RecurringRequest {
        serde_json::from_value(json!({
            "namespace": "iot", "tenant": "hq", "cron_expr": cron, "timezone": "Europe/Paris",
            "action_template": { "provider": "event-bus", "action_type": "device_lifecycle",
                                 "payload": { "event": "heartbeat_check" } }
        }))
        .unwrap()
    }

    #[test]
    fn due_occurrences_follow_the_cron_in_its_timezone() {
        let book = RecurringBook::new(&[], 10, 0);
        let start = DateTime::parse_from_rfc3339("2026-11-28T09:01:00Z")
            .unwrap()
            .timestamp_millis();
        // 10:00 in Paris is 09:00 UTC in November.
        let entry = book.put(None, request("0 10 * * *"), start).unwrap();
        assert_eq!(
            entry.next_execution_at.as_deref(),
            Some("2026-11-29T09:00:00.000Z")
        );
        assert!(book.take_due(start).is_empty());
        let due = book.take_due(start + 24 * 3_600_000);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0]["action_type"], "device_lifecycle");
        assert_eq!(book.get(&entry.id).unwrap().executions, 1);
    }

    #[test]
    fn bad_schedules_and_the_tenant_cap_are_refused() {
        let book = RecurringBook::new(&[], 1, 0);
        assert_eq!(
            book.put(None, request("* * * *"), 0).unwrap_err().code,
            "invalid_cron"
        );
        assert_eq!(
            book.put(None, request("*/5 * * * * *"), 0)
                .unwrap_err()
                .code,
            "invalid_cron"
        );
        let mut bad_zone = request("*/5 * * * *");
        bad_zone.timezone = "Mars/Olympus".into();
        assert_eq!(
            book.put(None, bad_zone, 0).unwrap_err().code,
            "invalid_timezone"
        );
        book.put(None, request("*/5 * * * *"), 0).unwrap();
        assert_eq!(
            book.put(None, request("*/5 * * * *"), 0).unwrap_err().code,
            "conflict"
        );
    }
}
