//! The audit record: one per decision, per release of a held action, per chain step.
//!
//! Built typed on the worker that decided, from the action's shared parts (names, id, payload),
//! and written straight to its JSON line ([`AuditRecord::render`]): no JSON tree is built, and
//! the payload's text is copied. Sinks receive the record and its line, so none parses a line
//! back. Reading an audit file back ([`AuditRecord::parse`]) is for tests and tools.

use crate::action::Position;
use crate::json;
use crate::name::Name;
use crate::payload::Payload;
use crate::time::parse_rfc3339_ms;
use acteon_dsl::plan::{Outcome, Plan};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// docs/design.md, "Audit record". The rendered field names and their order are part of the
/// product's interface.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Unique and deterministic for a replay: the action id and the record's place among
    /// that action's records.
    pub id: RecordId,
    /// For chain steps and batches: the action that started them.
    pub action_id: Arc<str>,
    pub namespace: Name,
    pub tenant: Name,
    pub action_type: Name,
    /// The action's own provider.
    pub provider: Option<Name>,
    /// The provider actually called, if any.
    pub target: Option<Name>,
    /// The rule that decided; `None` when no rule did.
    pub rule: Option<Name>,
    pub outcome: Outcome,
    /// Outcome-specific: retry_after_ms, group key and size, chain id, delivery result
    /// (attempts, response, error), fallback, rejection reason.
    pub details: Details,
    /// After modify and redaction, when the audit stores payloads.
    pub payload: Option<Payload>,
    pub chain_id: Option<Arc<str>>,
    /// Unix milliseconds. On the event clock: the decision's event time.
    pub dispatched_at_ms: i64,
    pub completed_at_ms: i64,
    pub duration_ms: u64,
    pub expires_at_ms: Option<i64>,
}

/// A record's id: `<action id>@<input position>#<place>`, the position as `L<line>`,
/// `K<partition>:<offset>` or `H<request token>`. Unique per decision: the same action id sent
/// twice is at two positions (and a request token is never reused, across restarts and reloads
/// too); stable across replays of the same input, so idempotent writes still hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    pub action: Arc<str>,
    /// `None` for an id read back that names no position.
    pub at: Option<Position>,
    /// `None` for an id read back that has no place.
    pub place: Option<u32>,
}

impl RecordId {
    pub fn new(action: Arc<str>, at: Position, place: u32) -> RecordId {
        RecordId {
            action,
            at: Some(at),
            place: Some(place),
        }
    }

    fn parse(text: &str) -> RecordId {
        let (rest, place) = match text
            .rsplit_once('#')
            .and_then(|(a, p)| Some((a, p.parse().ok()?)))
        {
            Some((rest, place)) => (rest, Some(place)),
            None => (text, None),
        };
        let (action, at) = match rest
            .rsplit_once('@')
            .and_then(|(a, p)| Some((a, parse_position(p)?)))
        {
            Some((action, at)) => (action, Some(at)),
            None => (rest, None),
        };
        RecordId {
            action: action.into(),
            at,
            place,
        }
    }

    /// The id's text without the action id: `@<position>#<place>`.
    fn write_suffix(&self, out: &mut Vec<u8>) {
        if let Some(at) = self.at {
            out.push(b'@');
            match at {
                Position::Line(line) => {
                    out.push(b'L');
                    json::uint(out, line);
                }
                Position::Kafka { partition, offset } => {
                    out.push(b'K');
                    json::int(out, i64::from(partition));
                    out.push(b':');
                    json::int(out, offset);
                }
                Position::Api(token) => {
                    out.push(b'H');
                    json::uint(out, token);
                }
            }
        }
        if let Some(place) = self.place {
            out.push(b'#');
            json::uint(out, u64::from(place));
        }
    }
}

fn parse_position(text: &str) -> Option<Position> {
    let (kind, rest) = text.split_at_checked(1)?;
    match kind {
        "L" => Some(Position::Line(rest.parse().ok()?)),
        "H" => Some(Position::Api(rest.parse().ok()?)),
        "K" => {
            let (partition, offset) = rest.split_once(':')?;
            Some(Position::Kafka {
                partition: partition.parse().ok()?,
                offset: offset.parse().ok()?,
            })
        }
        _ => None,
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut suffix = Vec::with_capacity(24);
        self.write_suffix(&mut suffix);
        f.write_str(&self.action)?;
        f.write_str(&String::from_utf8_lossy(&suffix))
    }
}

/// Outcome-specific facts of a record, written in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct Details(Vec<(Cow<'static, str>, Detail)>);

/// Equal when they write the same JSON (a detail read back from a line is plain JSON).
impl PartialEq for Details {
    fn eq(&self, other: &Details) -> bool {
        self.0 == other.0 || self.to_json() == other.to_json()
    }
}

/// One detail's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Null,
    Bool(bool),
    Int(i64),
    Text(Cow<'static, str>),
    Name(Name),
    /// A time, written as RFC 3339 text.
    Time(i64),
    Ids(Vec<Arc<str>>),
    Json(Value),
    Object(Details),
    /// A provider call's result (its response redacted like a payload).
    Delivery {
        attempts: u32,
        response: Value,
        error: Option<String>,
    },
}

impl From<bool> for Detail {
    fn from(b: bool) -> Detail {
        Detail::Bool(b)
    }
}

impl From<i64> for Detail {
    fn from(n: i64) -> Detail {
        Detail::Int(n)
    }
}

impl From<u64> for Detail {
    fn from(n: u64) -> Detail {
        Detail::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Detail {
    fn from(n: usize) -> Detail {
        Detail::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<u32> for Detail {
    fn from(n: u32) -> Detail {
        Detail::Int(n.into())
    }
}

impl From<String> for Detail {
    fn from(text: String) -> Detail {
        Detail::Text(Cow::Owned(text))
    }
}

impl From<&'static str> for Detail {
    fn from(text: &'static str) -> Detail {
        Detail::Text(Cow::Borrowed(text))
    }
}

impl From<Name> for Detail {
    fn from(name: Name) -> Detail {
        Detail::Name(name)
    }
}

impl From<Option<String>> for Detail {
    fn from(text: Option<String>) -> Detail {
        text.map_or(Detail::Null, Detail::from)
    }
}

impl From<Option<Name>> for Detail {
    fn from(name: Option<Name>) -> Detail {
        name.map_or(Detail::Null, Detail::Name)
    }
}

impl From<Value> for Detail {
    fn from(value: Value) -> Detail {
        Detail::Json(value)
    }
}

impl From<Details> for Detail {
    fn from(details: Details) -> Detail {
        Detail::Object(details)
    }
}

/// A detail equals a JSON value (or a string, number or boolean) when its JSON is that value.
macro_rules! detail_eq {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for Detail {
            fn eq(&self, other: &$other) -> bool {
                self.to_json() == *other
            }
        }
    )*};
}

detail_eq!(Value, &str, i64, i32, u64, bool);

impl Details {
    pub fn new() -> Details {
        Details::default()
    }

    /// Adds (or replaces) `key`.
    pub fn insert(&mut self, key: &'static str, value: impl Into<Detail>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((Cow::Borrowed(key), value)),
        }
    }

    /// With `key` added.
    pub fn with(mut self, key: &'static str, value: impl Into<Detail>) -> Details {
        self.insert(key, value);
        self
    }

    pub fn get(&self, key: &str) -> Option<&Detail> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The details as a JSON object (sinks that store JSON values, the HTTP API's summaries).
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_json()))
                .collect(),
        )
    }

    fn from_json(object: Map<String, Value>) -> Details {
        Details(
            object
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), Detail::Json(v)))
                .collect(),
        )
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::key(out, key);
            value.write(out);
        }
        out.push(b'}');
    }
}

impl std::ops::Index<&str> for Details {
    type Output = Detail;

    /// `Detail::Null` when absent, as a JSON value's index reads.
    fn index(&self, key: &str) -> &Detail {
        self.get(key).unwrap_or(&Detail::Null)
    }
}

impl Detail {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Detail::Null => out.extend_from_slice(b"null"),
            Detail::Bool(b) => json::boolean(out, *b),
            Detail::Int(n) => json::int(out, *n),
            Detail::Text(text) => json::string(out, text),
            Detail::Name(name) => json::string(out, name),
            Detail::Time(ms) => json::timestamp(out, *ms),
            Detail::Ids(ids) => {
                out.push(b'[');
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json::string(out, id);
                }
                out.push(b']');
            }
            Detail::Json(value) => json::value(out, value),
            Detail::Object(details) => details.write(out),
            Detail::Delivery {
                attempts,
                response,
                error,
            } => {
                out.extend_from_slice(b"{\"attempts\":");
                json::uint(out, u64::from(*attempts));
                out.extend_from_slice(b",\"response\":");
                json::value(out, response);
                out.extend_from_slice(b",\"error\":");
                json::optional(out, error.as_deref());
                out.push(b'}');
            }
        }
    }

    /// The detail as a JSON value.
    pub fn to_json(&self) -> Value {
        match self {
            Detail::Null => Value::Null,
            Detail::Bool(b) => Value::Bool(*b),
            Detail::Int(n) => Value::from(*n),
            Detail::Text(text) => Value::String(text.to_string()),
            Detail::Name(name) => Value::String(name.to_string()),
            Detail::Time(ms) => Value::String(crate::time::format_rfc3339_ms(*ms)),
            Detail::Ids(ids) => ids.iter().map(|id| Value::String(id.to_string())).collect(),
            Detail::Json(value) => value.clone(),
            Detail::Object(details) => details.to_json(),
            Detail::Delivery {
                attempts,
                response,
                error,
            } => serde_json::json!({ "attempts": attempts, "response": response, "error": error }),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Detail::Text(text) => Some(text),
            Detail::Name(name) => Some(name),
            Detail::Json(Value::String(text)) => Some(text),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Detail::Int(n) => Some(*n),
            Detail::Json(value) => value.as_i64(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Detail::Bool(b) => Some(*b),
            Detail::Json(value) => value.as_bool(),
            _ => None,
        }
    }
}

impl AuditRecord {
    /// The record as one line of the audit (no newline), appended to `out`.
    pub fn render(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        if json::needs_escape(&self.id.action) {
            json::string(out, &self.id.to_string());
        } else {
            out.push(b'"');
            out.extend_from_slice(self.id.action.as_bytes());
            self.id.write_suffix(out);
            out.push(b'"');
        }
        out.extend_from_slice(b",\"action_id\":");
        json::string(out, &self.action_id);
        out.extend_from_slice(b",\"namespace\":");
        json::string(out, &self.namespace);
        out.extend_from_slice(b",\"tenant\":");
        json::string(out, &self.tenant);
        out.extend_from_slice(b",\"action_type\":");
        json::string(out, &self.action_type);
        out.extend_from_slice(b",\"provider\":");
        json::optional(out, self.provider.as_deref());
        out.extend_from_slice(b",\"target\":");
        json::optional(out, self.target.as_deref());
        out.extend_from_slice(b",\"rule\":");
        json::optional(out, self.rule.as_deref());
        out.extend_from_slice(b",\"outcome\":\"");
        out.extend_from_slice(self.outcome.name().as_bytes());
        out.extend_from_slice(b"\",\"details\":");
        self.details.write(out);
        out.extend_from_slice(b",\"payload\":");
        match &self.payload {
            Some(payload) => out.extend_from_slice(payload.text().as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"chain_id\":");
        json::optional(out, self.chain_id.as_deref());
        out.extend_from_slice(b",\"dispatched_at\":");
        json::timestamp(out, self.dispatched_at_ms);
        out.extend_from_slice(b",\"completed_at\":");
        json::timestamp(out, self.completed_at_ms);
        out.extend_from_slice(b",\"duration_ms\":");
        json::uint(out, self.duration_ms);
        out.extend_from_slice(b",\"expires_at\":");
        match self.expires_at_ms {
            Some(ms) => json::timestamp(out, ms),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }

    /// The record's line.
    pub fn to_line(&self) -> String {
        let mut out = Vec::with_capacity(512);
        self.render(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// A record read back from its line.
    pub fn parse(line: &str) -> Result<AuditRecord, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// The record as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::from_str(&self.to_line()).unwrap_or_default()
    }
}

/// As JSON: its line's object. Between processes (binary formats): its fields, details as
/// their JSON text.
impl Serialize for AuditRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return self.to_json().serialize(serializer);
        }
        Binary {
            id: (Arc::clone(&self.id.action), self.id.at, self.id.place),
            action_id: Arc::clone(&self.action_id),
            names: [
                self.namespace.clone(),
                self.tenant.clone(),
                self.action_type.clone(),
            ],
            provider: self.provider.clone(),
            target: self.target.clone(),
            rule: self.rule.clone(),
            outcome: self.outcome,
            details: self.details.clone(),
            payload: self.payload.clone(),
            chain_id: self.chain_id.clone(),
            times: (
                self.dispatched_at_ms,
                self.completed_at_ms,
                self.duration_ms,
                self.expires_at_ms,
            ),
        }
        .serialize(serializer)
    }
}

/// A record between processes.
#[derive(Serialize, Deserialize)]
struct Binary {
    id: (Arc<str>, Option<Position>, Option<u32>),
    action_id: Arc<str>,
    /// Namespace, tenant, action type.
    names: [Name; 3],
    provider: Option<Name>,
    target: Option<Name>,
    rule: Option<Name>,
    outcome: Outcome,
    details: Details,
    payload: Option<Payload>,
    chain_id: Option<Arc<str>>,
    /// Dispatched, completed, duration, expires.
    times: (i64, i64, u64, Option<i64>),
}

/// As JSON: an object. Between processes (binary formats): its JSON text.
impl Serialize for Details {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serializer.is_human_readable() {
            true => self.to_json().serialize(serializer),
            false => {
                let mut out = Vec::new();
                self.write(&mut out);
                serializer.serialize_str(std::str::from_utf8(&out).unwrap_or("{}"))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Details, D::Error> {
        let object: Map<String, Value> = match deserializer.is_human_readable() {
            true => Map::deserialize(deserializer)?,
            false => serde_json::from_str(&String::deserialize(deserializer)?)
                .map_err(D::Error::custom)?,
        };
        Ok(Details::from_json(object))
    }
}

/// The fields of a line, as read back.
#[derive(Deserialize)]
struct Line {
    id: String,
    action_id: String,
    namespace: String,
    tenant: String,
    action_type: String,
    provider: Option<String>,
    target: Option<String>,
    rule: Option<String>,
    outcome: Outcome,
    #[serde(default)]
    details: Map<String, Value>,
    payload: Option<Value>,
    chain_id: Option<String>,
    dispatched_at: String,
    completed_at: String,
    duration_ms: u64,
    expires_at: Option<String>,
}

impl<'de> Deserialize<'de> for AuditRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AuditRecord, D::Error> {
        if !deserializer.is_human_readable() {
            let b = Binary::deserialize(deserializer)?;
            let [namespace, tenant, action_type] = b.names;
            return Ok(AuditRecord {
                id: RecordId {
                    action: b.id.0,
                    at: b.id.1,
                    place: b.id.2,
                },
                action_id: b.action_id,
                namespace,
                tenant,
                action_type,
                provider: b.provider,
                target: b.target,
                rule: b.rule,
                outcome: b.outcome,
                details: b.details,
                payload: b.payload,
                chain_id: b.chain_id,
                dispatched_at_ms: b.times.0,
                completed_at_ms: b.times.1,
                duration_ms: b.times.2,
                expires_at_ms: b.times.3,
            });
        }
        let line = Line::deserialize(deserializer)?;
        let time = |text: &str| {
            parse_rfc3339_ms(text).ok_or_else(|| D::Error::custom(format!("not RFC 3339: {text}")))
        };
        Ok(AuditRecord {
            id: RecordId::parse(&line.id),
            action_id: line.action_id.into(),
            namespace: line.namespace.into(),
            tenant: line.tenant.into(),
            action_type: line.action_type.into(),
            provider: line.provider.map(Name::from),
            target: line.target.map(Name::from),
            rule: line.rule.map(Name::from),
            outcome: line.outcome,
            details: Details::from_json(line.details),
            payload: line.payload.map(Payload::from),
            chain_id: line.chain_id.map(Arc::from),
            dispatched_at_ms: time(&line.dispatched_at)?,
            completed_at_ms: time(&line.completed_at)?,
            duration_ms: line.duration_ms,
            expires_at_ms: line.expires_at.as_deref().map(time).transpose()?,
        })
    }
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

    /// A record's `expires_at`: its dispatch time plus its tenant's TTL; `None` without a TTL
    /// or past the times RFC 3339 can write.
    pub fn expires_at_ms(&self, namespace: &str, tenant: &str, dispatched_ms: i64) -> Option<i64> {
        let ttl_ms = self.ttl_ms(namespace, tenant)?;
        expires_at_ms(dispatched_ms, ttl_ms)
    }
}

/// `dispatched_ms` plus `ttl_ms`, while it stays a time RFC 3339 can write (year 9999).
pub fn expires_at_ms(dispatched_ms: i64, ttl_ms: u64) -> Option<i64> {
    const LAST_MS: i64 = 253_402_300_799_999;
    let expires = dispatched_ms.checked_add(i64::try_from(ttl_ms).ok()?)?;
    (expires <= LAST_MS).then_some(expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use acteon_dsl::plan::{Audit, Retention};
    use serde_json::json;

    #[test]
    fn expires_at_adds_the_ttl() {
        let at = parse_rfc3339_ms("2026-11-28T09:00:00.250Z").unwrap();
        assert_eq!(
            expires_at_ms(at, 7 * 24 * 3_600_000),
            parse_rfc3339_ms("2026-12-05T09:00:00.250Z")
        );
        assert_eq!(expires_at_ms(i64::MAX - 5, 10), None);
        assert_eq!(expires_at_ms(253_402_300_799_000, 10_000), None);
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

    fn record() -> AuditRecord {
        AuditRecord {
            id: RecordId::new(
                "a\"1".into(),
                Position::Kafka {
                    partition: 3,
                    offset: 1045,
                },
                2,
            ),
            action_id: "a\"1".into(),
            namespace: "iot".into(),
            tenant: "smartbuilding-hq".into(),
            action_type: "sensor_reading".into(),
            provider: Some("metrics-queue".into()),
            target: Some("alert-fanout".into()),
            rule: Some("critical-temperature-alert".into()),
            outcome: Outcome::Rerouted,
            details: Details::new()
                .with("fallback", false)
                .with("due_at", Detail::Time(1_764_320_400_000))
                .with(
                    "delivery",
                    Detail::Delivery {
                        attempts: 1,
                        response: json!({"queue_url": "q"}),
                        error: None,
                    },
                ),
            payload: Some(Payload::from(json!({ "value": 92, "queue_url": "x" }))),
            chain_id: None,
            dispatched_at_ms: 1_764_320_400_000,
            completed_at_ms: 1_764_320_400_005,
            duration_ms: 5,
            expires_at_ms: None,
        }
    }

    #[test]
    fn a_line_has_the_product_field_names_in_order() {
        let line = record().to_line();
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "action_id",
                "namespace",
                "tenant",
                "action_type",
                "provider",
                "target",
                "rule",
                "outcome",
                "details",
                "payload",
                "chain_id",
                "dispatched_at",
                "completed_at",
                "duration_ms",
                "expires_at"
            ]
        );
        assert_eq!(value["id"], "a\"1@K3:1045#2");
        assert_eq!(value["outcome"], "rerouted");
        assert_eq!(value["chain_id"], Value::Null);
        assert_eq!(value["dispatched_at"], "2025-11-28T09:00:00.000Z");
        assert_eq!(
            value["details"],
            json!({"fallback": false, "due_at": "2025-11-28T09:00:00.000Z",
                   "delivery": {"attempts": 1, "response": {"queue_url": "q"}, "error": null}})
        );
    }

    #[test]
    fn a_line_reads_back_as_the_record() {
        let record = record();
        let back = AuditRecord::parse(&record.to_line()).unwrap();
        assert_eq!(back.to_line(), record.to_line());
        assert_eq!(back.id, record.id);
        assert_eq!(back.rule, record.rule);
    }
}
