//! Decoding one JSON line into an [`Action`], or the reason it cannot be one.
//!
//! Each line is parsed once, straight into the action's fields: the envelope's keys are matched
//! without being allocated, its texts borrowed where they have no escapes, and no JSON tree is
//! built. The payload is kept as its text, checked and with the plan's paths taken out
//! ([`Payload::read`]); the metadata as its text, checked. A line that does not decode that way
//! (not an object, a field of the wrong type, a repeated key, a payload nested deep enough to
//! need the parser's own check) is parsed again as a JSON value to say exactly why, which costs
//! only on bad input (or a valid line with a repeated key, decided the same way).

use crate::action::{Action, Metadata, Position};
use crate::json::Text;
use crate::name::Name;
use crate::payload::{brackets, Checked, Payload, PayloadPaths, DEEP};
use crate::time::parse_rfc3339_ms;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A line that is not an action, with what could be read of it for the audit record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rejection {
    pub reason: String,
    pub id: Option<String>,
    pub namespace: Option<String>,
    pub tenant: Option<String>,
    pub action_type: Option<String>,
}

/// How the reason of a line that is not JSON at all begins.
const NOT_JSON: &str = "not JSON: ";

impl Rejection {
    /// Whether the line is not JSON at all (rather than JSON that is not an action).
    pub fn not_json(&self) -> bool {
        self.reason.starts_with(NOT_JSON)
    }

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
        Position::Api(token) => format!("api-{}", crate::action::api_sequence(token)),
    }
}

/// Decodes lines into actions for one plan: its payload paths are taken from every payload.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Longer lines are rejected.
    pub max_action_bytes: usize,
    pub paths: Arc<PayloadPaths>,
}

impl Decoder {
    /// A decoder that takes no payload paths (payloads are only checked).
    pub fn new(max_action_bytes: usize) -> Decoder {
        Decoder {
            max_action_bytes,
            paths: PayloadPaths::none(),
        }
    }

    /// Decodes `line` read at `position`. `default_time_ms` is the event time of an action
    /// without `created_at`; `clock_time_ms`, when given, replaces every event time (the
    /// processing clock).
    pub fn decode(
        &self,
        line: &[u8],
        position: Position,
        default_time_ms: i64,
        clock_time_ms: Option<i64>,
    ) -> Result<Action, Rejection> {
        let max = self.max_action_bytes;
        if line.len() > max {
            return Err(Rejection::new(format!(
                "action of {} bytes is over the limit of {max} bytes",
                line.len()
            )));
        }
        let times = (default_time_ms, clock_time_ms);
        match decode_envelope(line, position, times, &self.paths) {
            Some(action) => Ok(action),
            None => decode_value(line, position, times, &self.paths),
        }
    }
}

/// (default event time, processing-clock time).
type Times = (i64, Option<i64>);

/// The top-level `created_at` string of a JSON object line (the last one, as a parser keeps
/// it), found without decoding the rest: string contents are skipped by searching for their
/// closing quote. `None` when there is none or the line is not an object. Every worker reads
/// the lines it does not decode this way, so each knows how far event time had gone before
/// any line, whichever worker decodes it (lateness is judged per input); it reads what the
/// decoder would read (escapes included).
pub fn created_at_of(line: &[u8]) -> Option<Cow<'_, str>> {
    let mut i = line.iter().position(|b| !b.is_ascii_whitespace())?;
    if line[i] != b'{' {
        return None;
    }
    i += 1;
    let mut depth = 1usize;
    let mut expecting_key = true;
    let mut key_is_created_at = false;
    let mut found = None;
    while i < line.len() {
        match line[i] {
            b'"' => {
                let start = i + 1;
                let end = string_end(line, start)?;
                let text = &line[start..end];
                if depth == 1 && expecting_key {
                    key_is_created_at = text == b"created_at";
                } else if depth == 1 && key_is_created_at {
                    found = match text.contains(&b'\\') {
                        false => std::str::from_utf8(text).ok().map(Cow::Borrowed),
                        // The quotes around it are part of the line.
                        true => serde_json::from_slice(&line[start - 1..=end])
                            .ok()
                            .map(Cow::Owned),
                    };
                    key_is_created_at = false;
                }
                i = end;
            }
            b'{' | b'[' => {
                depth += 1;
                key_is_created_at = false;
            }
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return found;
                }
            }
            b',' if depth == 1 => {
                expecting_key = true;
                key_is_created_at = false;
            }
            b':' if depth == 1 => expecting_key = false,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            // A number, `true`, `false` or `null` after the key.
            _ if depth == 1 && !expecting_key => key_is_created_at = false,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote that closes the string whose content starts at `start`.
fn string_end(line: &[u8], mut start: usize) -> Option<usize> {
    loop {
        let at = start + memchr::memchr2(b'"', b'\\', &line[start..])?;
        match line[at] {
            b'"' => return Some(at),
            // An escape: skip the escaped character, whatever it is.
            _ => start = at + 2,
        }
        if start > line.len() {
            return None;
        }
    }
}

/// The slow path: the line as a JSON value, then its fields, each checked with its reason.
fn decode_value(
    line: &[u8],
    position: Position,
    times: Times,
    paths: &PayloadPaths,
) -> Result<Action, Rejection> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| Rejection::new(format!("{NOT_JSON}{e}")))?;
    let Value::Object(mut object) = value else {
        return Err(Rejection::new("not a JSON object"));
    };
    match fields(&mut object, position, times, paths) {
        Ok(action) => Ok(action),
        Err(reason) => Err(Rejection::new(reason).with_fields(&object)),
    }
}

/// The fast path: the action, or `None` when the line is anything but a valid action with each
/// key once (the slow path then decides, with the reason).
fn decode_envelope(
    line: &[u8],
    position: Position,
    (default_time_ms, clock_time_ms): Times,
    paths: &PayloadPaths,
) -> Option<Action> {
    // A derived struct visitor would also take a JSON array; only an object is an action.
    let first = line
        .iter()
        .find(|b| !matches!(b, b' ' | b'\n' | b'\t' | b'\r'));
    if first != Some(&b'{') {
        return None;
    }
    // Checked once here, so the parser need not check each string it borrows.
    let text = std::str::from_utf8(line).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let envelope = Envelope::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    let created_ms = match &envelope.created_at {
        Some(text) => Some(parse_rfc3339_ms(text)?),
        None => None,
    };
    let payload = match envelope.payload {
        None => Payload::empty(),
        // Deep nesting is left to the slow path: the parser's depth limit counts from the
        // line, not from the payload.
        Some(raw) if raw.get().starts_with('{') && brackets(raw.get()) < DEEP => {
            Payload::read(raw.get(), paths).ok()?
        }
        Some(_) => return None,
    };
    let metadata = match envelope.metadata {
        None => Metadata::default(),
        Some(raw) => {
            serde_json::from_str::<StringsOnly>(raw.get()).ok()?;
            Metadata::from_json(raw.get())
        }
    };
    Some(Action {
        id: match envelope.id {
            Some(id) => Arc::from(&*id),
            None => generated_id(position).into(),
        },
        namespace: Name::new(&envelope.namespace?),
        tenant: Name::new(&envelope.tenant?),
        action_type: Name::new(&envelope.action_type?),
        provider: envelope.provider.as_deref().map(Name::new),
        payload,
        metadata,
        dedup_key: envelope.dedup_key.as_deref().map(Arc::from),
        created_at: envelope.created_at.as_deref().map(Arc::from),
        event_time_ms: clock_time_ms.or(created_ms).unwrap_or(default_time_ms),
        position,
        rows: Default::default(),
    })
}

/// An action's fields as the fast path reads them; `None` is absent or null.
#[derive(Default)]
struct Envelope<'de> {
    id: Option<Text<'de>>,
    namespace: Option<Text<'de>>,
    tenant: Option<Text<'de>>,
    action_type: Option<Text<'de>>,
    provider: Option<Text<'de>>,
    payload: Option<&'de RawValue>,
    metadata: Option<&'de RawValue>,
    dedup_key: Option<Text<'de>>,
    created_at: Option<Text<'de>>,
}

/// A metadata object: every value a string (checked, then dropped).
struct StringsOnly;

impl<'de> Deserialize<'de> for StringsOnly {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StringsOnly, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StringsOnly;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringsOnly, A::Error> {
                // A repeated key goes to the slow path, which keeps the last value.
                let mut keys: Vec<Text<'de>> = Vec::new();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if keys.iter().any(|k| **k == *key) {
                        return Err(de::Error::custom("repeated key"));
                    }
                    map.next_value::<Text<'de>>()?;
                    keys.push(key);
                }
                Ok(StringsOnly)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
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

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Envelope<'de>, D::Error> {
        deserializer.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an action object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'de>, A::Error> {
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
                // Checked as a value, not skipped: skipping checks neither nesting depth nor
                // number ranges, and the line must be accepted exactly when the slow path
                // would.
                FieldName::Other => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(envelope)
    }
}

fn fields(
    object: &mut Map<String, Value>,
    position: Position,
    (default_time_ms, clock_time_ms): Times,
    paths: &PayloadPaths,
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
        Some(payload @ Value::Object(_)) => Payload::from_value(payload, paths),
        _ => Payload::empty(),
    };
    let metadata = match object.get_mut("metadata").map(Value::take) {
        Some(Value::Object(entries)) => Metadata::from_entries(
            entries
                .iter()
                .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?))),
        ),
        _ => Metadata::default(),
    };
    let text = |object: &mut Map<String, Value>, key| take_text(object, key).map(Arc::<str>::from);
    let name = |object: &mut Map<String, Value>, key| {
        take_text(object, key).map_or_else(|| Name::new(""), Name::from)
    };
    Ok(Action {
        id: text(object, "id").unwrap_or_else(|| generated_id(position).into()),
        namespace: name(object, "namespace"),
        tenant: name(object, "tenant"),
        action_type: name(object, "action_type"),
        provider: take_text(object, "provider").map(Name::from),
        payload,
        metadata,
        dedup_key: text(object, "dedup_key"),
        created_at: text(object, "created_at"),
        event_time_ms: clock_time_ms.or(created_ms).unwrap_or(default_time_ms),
        position,
        rows: Default::default(),
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
        Decoder::new(1 << 20).decode(text.as_bytes(), Position::Line(7), 5, None)
    }

    #[test]
    fn decodes_an_action() {
        let action = line(
            r#"{"namespace":"iot","tenant":"t","action_type":"a","payload":{"v":1},"metadata":{"k":"v"},"created_at":"1970-01-01T00:00:01Z"}"#,
        )
        .unwrap();
        assert_eq!(&*action.id, "line-7");
        assert_eq!(action.event_time_ms, 1000);
        assert_eq!(action.payload.value()["v"], 1);
        assert_eq!(action.metadata.get("k").as_deref(), Some("v"));
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
        let big = Decoder::new(1)
            .decode(b"{}", Position::Line(1), 0, None)
            .unwrap_err();
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
            let none = PayloadPaths::none();
            let slow = decode_value(line.as_bytes(), Position::Line(3), (5, None), &none);
            let envelope = decode_envelope(line.as_bytes(), Position::Line(3), (5, None), &none);
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
        let rejection = Decoder::new(1 << 20)
            .decode(not_utf8, Position::Line(1), 5, None)
            .unwrap_err();
        assert!(
            rejection.reason.contains("not JSON"),
            "{}",
            rejection.reason
        );
    }

    fn line_at(text: &str, line: u64) -> Result<Action, Rejection> {
        Decoder::new(1 << 20).decode(text.as_bytes(), Position::Line(line), 5, None)
    }

    #[test]
    fn created_at_is_found_without_decoding() {
        let cases: [(&str, Option<&str>); 10] = [
            (
                r#"{"created_at":"2026-11-28T09:00:00Z","id":"a"}"#,
                Some("2026-11-28T09:00:00Z"),
            ),
            (
                r#" { "payload": {"created_at": "inner"}, "created_at" : "outer" } "#,
                Some("outer"),
            ),
            (r#"{"a":"x\"created_at\":","created_at":"t"}"#, Some("t")),
            (r#"{"created_at":"1","created_at":"2"}"#, Some("2")),
            (r#"{"created_at":null}"#, None),
            (r#"{"created_at":5,"x":"created_at"}"#, None),
            (r#"{"list":["created_at","y"]}"#, None),
            (r#"["created_at","x"]"#, None),
            (r#"{"created_at":"unclosed"#, None),
            (r#"{"created_at":"2026\u002d11"}"#, Some("2026-11")),
        ];
        for (line, expected) in cases {
            assert_eq!(
                created_at_of(line.as_bytes()).as_deref(),
                expected,
                "{line}"
            );
        }
    }

    #[test]
    fn a_rejection_keeps_identifying_fields() {
        let rejection =
            line(r#"{"id":"x","namespace":"n","tenant":"t","action_type":5}"#).unwrap_err();
        assert_eq!(rejection.id.as_deref(), Some("x"));
        assert_eq!(rejection.tenant.as_deref(), Some("t"));
    }
}
