//! Decoding one JSON line into an [`Action`], or the reason it cannot be one.
//!
//! Each line is parsed once, straight into the action's fields: the envelope's keys are matched
//! without being allocated and no intermediate JSON tree is built for it; only the payload is a
//! JSON value, as the action carries it. A line that does not decode that way (not an object, a
//! field of the wrong type, a repeated key) is parsed again as a JSON value to say exactly why,
//! which costs only on bad input (or a valid line with a repeated key, decided the same way).

use crate::action::{Action, Position};
use crate::time::parse_rfc3339_ms;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// A line that is not an action, with what could be read of it for the audit record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rejection {
    pub reason: String,
    pub id: Option<String>,
    pub namespace: Option<String>,
    pub tenant: Option<String>,
    pub action_type: Option<String>,
}

impl Rejection {
    fn new(reason: impl Into<String>) -> Rejection {
        Rejection {
            reason: reason.into(),
            ..Rejection::default()
        }
    }

    /// Keeps whatever identifying fields the object has, so the record can be found by them.
    fn with_fields(mut self, object: &Map<String, Value>) -> Rejection {
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        self.id = text("id");
        self.namespace = text("namespace");
        self.tenant = text("tenant");
        self.action_type = text("action_type");
        self
    }
}

/// The id of an action that has none: its input position, so a replay gives the same id.
pub fn generated_id(position: Position) -> String {
    match position {
        Position::Line(line) => format!("line-{line}"),
        Position::Kafka { partition, offset } => format!("kafka-{partition}-{offset}"),
        Position::Api(n) => format!("api-{n}"),
    }
}

/// Decodes `line` read at `position`. `default_time_ms` is the event time of an action without
/// `created_at`; `clock_time_ms`, when given, replaces every event time (the processing clock).
pub fn decode(
    line: &[u8],
    position: Position,
    max_action_bytes: usize,
    default_time_ms: i64,
    clock_time_ms: Option<i64>,
) -> Result<Action, Rejection> {
    if line.len() > max_action_bytes {
        return Err(Rejection::new(format!(
            "action of {} bytes is over the limit of {max_action_bytes} bytes",
            line.len()
        )));
    }
    match decode_envelope(line, position, default_time_ms, clock_time_ms) {
        Some(action) => Ok(action),
        None => decode_value(line, position, default_time_ms, clock_time_ms),
    }
}

/// The slow path: the line as a JSON value, then its fields, each checked with its reason.
fn decode_value(
    line: &[u8],
    position: Position,
    default_time_ms: i64,
    clock_time_ms: Option<i64>,
) -> Result<Action, Rejection> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| Rejection::new(format!("not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(Rejection::new("not a JSON object"));
    };
    match fields(&mut object, position, default_time_ms, clock_time_ms) {
        Ok(action) => Ok(action),
        Err(reason) => Err(Rejection::new(reason).with_fields(&object)),
    }
}

/// The fast path: the action, or `None` when the line is anything but a valid action with each
/// key once (the slow path then decides, with the reason).
fn decode_envelope(
    line: &[u8],
    position: Position,
    default_time_ms: i64,
    clock_time_ms: Option<i64>,
) -> Option<Action> {
    // A derived struct visitor would also take a JSON array; only an object is an action.
    let first = line
        .iter()
        .find(|b| !matches!(b, b' ' | b'\n' | b'\t' | b'\r'));
    if first != Some(&b'{') {
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(line);
    let envelope = Envelope::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    let created_ms = match &envelope.created_at {
        Some(text) => Some(parse_rfc3339_ms(text)?),
        None => None,
    };
    Some(Action {
        id: envelope.id.unwrap_or_else(|| generated_id(position)),
        namespace: envelope.namespace?,
        tenant: envelope.tenant?,
        action_type: envelope.action_type?,
        provider: envelope.provider,
        payload: Value::Object(envelope.payload.unwrap_or_default()),
        metadata: envelope.metadata.unwrap_or_default(),
        dedup_key: envelope.dedup_key,
        created_at: envelope.created_at,
        event_time_ms: clock_time_ms.or(created_ms).unwrap_or(default_time_ms),
        position,
    })
}

/// An action's fields as the fast path reads them; `None` is absent or null.
#[derive(Default)]
struct Envelope {
    id: Option<String>,
    namespace: Option<String>,
    tenant: Option<String>,
    action_type: Option<String>,
    provider: Option<String>,
    payload: Option<Map<String, Value>>,
    metadata: Option<BTreeMap<String, String>>,
    dedup_key: Option<String>,
    created_at: Option<String>,
}

/// A key of the envelope, matched on the borrowed text.
#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(field_identifier, rename_all = "snake_case")]
enum FieldName {
    Id,
    Namespace,
    Tenant,
    ActionType,
    Provider,
    Payload,
    Metadata,
    DedupKey,
    CreatedAt,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Envelope, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an action object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut envelope = Envelope::default();
        // One bit per known key: a repeated key goes to the slow path, which keeps the last.
        let mut seen = 0u16;
        while let Some(key) = map.next_key::<FieldName>()? {
            if key != FieldName::Other {
                let bit = 1 << key as u16;
                if seen & bit != 0 {
                    return Err(de::Error::custom("repeated key"));
                }
                seen |= bit;
            }
            match key {
                FieldName::Id => envelope.id = map.next_value()?,
                FieldName::Namespace => envelope.namespace = map.next_value()?,
                FieldName::Tenant => envelope.tenant = map.next_value()?,
                FieldName::ActionType => envelope.action_type = map.next_value()?,
                FieldName::Provider => envelope.provider = map.next_value()?,
                FieldName::Payload => envelope.payload = map.next_value()?,
                FieldName::Metadata => envelope.metadata = map.next_value()?,
                FieldName::DedupKey => envelope.dedup_key = map.next_value()?,
                FieldName::CreatedAt => envelope.created_at = map.next_value()?,
                // Parsed as a value, not skipped: skipping checks neither nesting depth nor
                // UTF-8, and the line must be accepted exactly when the slow path would.
                FieldName::Other => {
                    map.next_value::<Value>()?;
                }
            }
        }
        Ok(envelope)
    }
}

fn fields(
    object: &mut Map<String, Value>,
    position: Position,
    default_time_ms: i64,
    clock_time_ms: Option<i64>,
) -> Result<Action, String> {
    // Every check runs on borrowed fields first, so a rejection still sees the whole object
    // and an accepted action moves its strings out without copying them.
    for key in ["namespace", "tenant", "action_type"] {
        match object.get(key) {
            Some(Value::String(_)) => {}
            Some(other) => return Err(format!("`{key}` is {}, not a string", kind(other))),
            None => return Err(format!("`{key}` is missing")),
        }
    }
    for key in ["id", "provider", "dedup_key", "created_at"] {
        match object.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => return Err(format!("`{key}` is {}, not a string", kind(other))),
        }
    }
    let created_ms = match object.get("created_at").and_then(Value::as_str) {
        Some(text) => Some(
            parse_rfc3339_ms(text)
                .ok_or_else(|| format!("`created_at` is not RFC 3339: {text:?}"))?,
        ),
        None => None,
    };
    match object.get("payload") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(other) => return Err(format!("`payload` is {}, not an object", kind(other))),
    }
    match object.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(entries)) => {
            if let Some((key, other)) = entries.iter().find(|(_, v)| !v.is_string()) {
                return Err(format!("`metadata.{key}` is {}, not a string", kind(other)));
            }
        }
        Some(other) => return Err(format!("`metadata` is {}, not an object", kind(other))),
    }

    let payload = match object.get_mut("payload").map(Value::take) {
        Some(payload @ Value::Object(_)) => payload,
        _ => Value::Object(Map::new()),
    };
    let metadata = match object.get_mut("metadata").map(Value::take) {
        Some(Value::Object(entries)) => entries
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::String(text) => Some((key, text)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(Action {
        id: take_text(object, "id").unwrap_or_else(|| generated_id(position)),
        namespace: take_text(object, "namespace").unwrap_or_default(),
        tenant: take_text(object, "tenant").unwrap_or_default(),
        action_type: take_text(object, "action_type").unwrap_or_default(),
        provider: take_text(object, "provider"),
        payload,
        metadata,
        dedup_key: take_text(object, "dedup_key"),
        created_at: take_text(object, "created_at"),
        event_time_ms: clock_time_ms.or(created_ms).unwrap_or(default_time_ms),
        position,
    })
}

fn take_text(object: &mut Map<String, Value>, key: &str) -> Option<String> {
    match object.get_mut(key) {
        Some(Value::String(text)) => Some(std::mem::take(text)),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Result<Action, Rejection> {
        decode(text.as_bytes(), Position::Line(7), 1 << 20, 5, None)
    }

    #[test]
    fn decodes_an_action() {
        let action = line(
            r#"{"namespace":"iot","tenant":"t","action_type":"a","payload":{"v":1},"metadata":{"k":"v"},"created_at":"1970-01-01T00:00:01Z"}"#,
        )
        .unwrap();
        assert_eq!(action.id, "line-7");
        assert_eq!(action.event_time_ms, 1000);
        assert_eq!(action.payload["v"], 1);
        assert_eq!(action.metadata["k"], "v");
    }

    #[test]
    fn rejects_what_does_not_fit() {
        let cases = [
            ("{", "not JSON"),
            ("[1]", "not a JSON object"),
            (
                r#"{"tenant":"t","action_type":"a"}"#,
                "`namespace` is missing",
            ),
            (
                r#"{"namespace":1,"tenant":"t","action_type":"a"}"#,
                "`namespace` is a number",
            ),
            (
                r#"{"namespace":"n","tenant":"t","action_type":"a","id":3}"#,
                "`id` is a number",
            ),
            (
                r#"{"namespace":"n","tenant":"t","action_type":"a","payload":[]}"#,
                "`payload` is an array",
            ),
            (
                r#"{"namespace":"n","tenant":"t","action_type":"a","metadata":{"k":1}}"#,
                "`metadata.k`",
            ),
            (
                r#"{"namespace":"n","tenant":"t","action_type":"a","created_at":"soon"}"#,
                "RFC 3339",
            ),
        ];
        for (text, reason) in cases {
            let rejection = line(text).unwrap_err();
            assert!(
                rejection.reason.contains(reason),
                "{text}: {}",
                rejection.reason
            );
        }
        let big = decode(b"{}", Position::Line(1), 1, 0, None).unwrap_err();
        assert!(big.reason.contains("over the limit"));
    }

    #[test]
    fn the_fast_path_decides_as_the_json_value_path() {
        let lines = [
            // Accepted, and by the fast path.
            (true, r#"{"namespace":"n","tenant":"t","action_type":"a"}"#),
            (
                true,
                r#" {"id":"i","namespace":"n","tenant":"t","action_type":"a","provider":"p","payload":{"v":[1,2.5,{"x":null}],"s":"é"},"metadata":{"k":"v","j":"w"},"dedup_key":"d","created_at":"2026-11-28T09:00:00.123Z","extra":{"deep":[true]}} "#,
            ),
            (
                true,
                r#"{"id":null,"namespace":"n","tenant":"t","action_type":"a","provider":null,"payload":null,"metadata":null,"dedup_key":null,"created_at":null}"#,
            ),
            (
                true,
                r#"{"namespace":"n","tenant":"t\"q","action_type":"a","payload":{}}"#,
            ),
            // Decided by the slow path: repeated keys are accepted there, with the last value.
            (
                false,
                r#"{"namespace":"n","namespace":"m","tenant":"t","action_type":"a"}"#,
            ),
            (
                false,
                r#"{"namespace":"n","tenant":"t","action_type":"a","metadata":{"k":1,"k":"v"}}"#,
            ),
            (false, r#"{"namespace":"n","tenant":"t","action_type":1}"#),
            (
                false,
                r#"{"namespace":null,"tenant":"t","action_type":"a"}"#,
            ),
            (
                false,
                r#"{"namespace":"n","tenant":"t","action_type":"a","payload":[]}"#,
            ),
            (
                false,
                r#"{"namespace":"n","tenant":"t","action_type":"a","metadata":[]}"#,
            ),
            (
                false,
                r#"{"namespace":"n","tenant":"t","action_type":"a","created_at":"x"}"#,
            ),
            (
                false,
                r#"{"namespace":"n","tenant":"t","action_type":"a"} x"#,
            ),
            (false, r#"["n","t","a"]"#),
            (false, ""),
        ];
        for (fast, line) in lines {
            let slow = decode_value(line.as_bytes(), Position::Line(3), 5, None);
            let envelope = decode_envelope(line.as_bytes(), Position::Line(3), 5, None);
            assert_eq!(envelope.is_some(), fast, "{line}");
            if let Some(action) = envelope {
                assert_eq!(Ok(action), slow, "{line}");
            }
            assert_eq!(line_at(line, 3), slow, "{line}");
        }
        let deep = format!(
            r#"{{"namespace":"n","tenant":"t","action_type":"a","x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(line_at(&deep, 1).unwrap_err().reason.contains("not JSON"));
        let not_utf8 =
            b"{\"namespace\":\"n\",\"tenant\":\"t\",\"action_type\":\"a\",\"x\":\"\xff\"}";
        let rejection = decode(not_utf8, Position::Line(1), 1 << 20, 5, None).unwrap_err();
        assert!(
            rejection.reason.contains("not JSON"),
            "{}",
            rejection.reason
        );
    }

    fn line_at(text: &str, line: u64) -> Result<Action, Rejection> {
        decode(text.as_bytes(), Position::Line(line), 1 << 20, 5, None)
    }

    #[test]
    fn a_rejection_keeps_identifying_fields() {
        let rejection =
            line(r#"{"id":"x","namespace":"n","tenant":"t","action_type":5}"#).unwrap_err();
        assert_eq!(rejection.id.as_deref(), Some("x"));
        assert_eq!(rejection.tenant.as_deref(), Some("t"));
    }
}
