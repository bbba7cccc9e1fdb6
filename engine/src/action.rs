//! The action: one input record, decoded once at the source and carried through the dataflow.
//!
//! Small and cheap to move: names are interned ([`Name`]), the id and the other texts are shared
//! allocations, the payload is shared text with the plan's values taken out ([`Payload`]), and
//! the metadata stays as its JSON text until something reads it.

use crate::json::Text;
use crate::name::Name;
use crate::payload::Payload;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// An action as the rules see it. Built only by the decoder, so its fields are valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: Arc<str>,
    pub namespace: Name,
    pub tenant: Name,
    pub action_type: Name,
    /// Where the action goes when no rule reroutes it.
    pub provider: Option<Name>,
    /// Always a JSON object.
    pub payload: Payload,
    pub metadata: Metadata,
    pub dedup_key: Option<Arc<str>>,
    /// `created_at` as written, if it was.
    pub created_at: Option<Arc<str>>,
    /// The event time in Unix milliseconds: `created_at`, else the ingest time.
    pub event_time_ms: i64,
    /// Where the action was read from; ties in event time are broken by it.
    pub position: Position,
    /// The rows the plan's lookups found for it, as of its event time (empty until looked up).
    #[serde(default)]
    pub rows: Rows,
}

/// The row each of the plan's lookups found (by lookup index): `None` when the table has no
/// row for the action's key, or the action has no key. A row is a payload: its JSON text with
/// the fields the plan reads taken out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rows(Box<[Option<Payload>]>);

impl Rows {
    /// The row found by lookup `lookup`, if any.
    pub fn get(&self, lookup: u32) -> Option<&Payload> {
        self.0.get(lookup as usize).and_then(Option::as_ref)
    }

    /// Notes what lookup `lookup` (of `lookups`) found.
    pub fn set(&mut self, lookup: u32, lookups: usize, row: Option<Payload>) {
        if self.0.len() < lookups {
            let mut rows = std::mem::take(&mut self.0).into_vec();
            rows.resize(lookups, None);
            self.0 = rows.into_boxed_slice();
        }
        if let Some(slot) = self.0.get_mut(lookup as usize) {
            *slot = row;
        }
    }
}

/// An action's place in its input. Ordered: lines before Kafka records before API calls, then
/// by number, so every source gives a total, replayable order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Position {
    /// 1-based line of a JSON-lines input.
    Line(u64),
    Kafka {
        partition: i32,
        offset: i64,
    },
    /// An action received over HTTP, by its request token ([`api_token`]): the worker whose
    /// lane took it, and a sequence number unique to the server.
    Api(u64),
}

/// Bits of an API token that hold its sequence number; the worker is in the bits above.
const API_SEQUENCE_BITS: u32 = 48;

/// The token of an HTTP request that worker `worker` (its global index) reads: the decision
/// goes back to that worker ([`Position::spread`]), and the request waits on the token.
pub fn api_token(worker: usize, sequence: u64) -> u64 {
    ((worker as u64) << API_SEQUENCE_BITS) | (sequence & ((1 << API_SEQUENCE_BITS) - 1))
}

/// The worker that read the API request with `token`.
pub fn api_worker(token: u64) -> u64 {
    token >> API_SEQUENCE_BITS
}

/// The sequence number of the API request with `token`.
pub fn api_sequence(token: u64) -> u64 {
    token & ((1 << API_SEQUENCE_BITS) - 1)
}

impl Position {
    /// A hash of the position, the same in every process: keyed operators send what they
    /// decided back by it, so the work after a key's owner is spread over the workers again.
    pub fn spread(self) -> u64 {
        let (kind, a, b) = match self {
            Position::Line(line) => (0u64, line, 0),
            Position::Kafka { partition, offset } => (1, partition as u64, offset as u64),
            Position::Api(n) => (2, n, 0),
        };
        // A file's lines are read round-robin by the workers: line n goes back to its reader;
        // an API request goes back to the worker whose lane it came in on.
        match kind {
            0 => a.wrapping_sub(1),
            2 => api_worker(a),
            _ => (a ^ kind.rotate_left(60))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(b)
                .wrapping_mul(0xBF58_476D_1CE4_E5B9)
                .rotate_left(29),
        }
    }
}

/// The metadata object: string values only, kept as the JSON text it was read as (`None`:
/// empty). Rules seldom read it, and nothing else needs it parsed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Metadata(Option<Arc<str>>);

/// Equal when the objects are (texts may be written differently).
impl PartialEq for Metadata {
    fn eq(&self, other: &Metadata) -> bool {
        self.text() == other.text() || self.to_json() == other.to_json()
    }
}

impl Metadata {
    /// `text` must be a JSON object whose values are strings (the decoder checks it).
    pub fn from_json(text: &str) -> Metadata {
        match text.trim() {
            "{}" => Metadata(None),
            text => Metadata(Some(Arc::from(text))),
        }
    }

    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Metadata {
        let object: Map<String, Value> = entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect();
        match object.is_empty() {
            true => Metadata(None),
            false => Metadata(Some(Value::Object(object).to_string().into())),
        }
    }

    /// The value of `key`, if there is one.
    pub fn get(&self, key: &str) -> Option<String> {
        self.value(key).map(Cow::into_owned)
    }

    /// The value of `key`, borrowed from the text when it has no escapes; the last one when
    /// the key is repeated (as a JSON parser keeps it).
    pub fn value(&self, key: &str) -> Option<Cow<'_, str>> {
        struct Find<'k>(&'k str);
        impl<'de> Visitor<'de> for Find<'_> {
            type Value = Option<Cow<'de, str>>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    let value = map.next_value::<Text<'de>>()?;
                    if *key == *self.0 {
                        found = Some(value.0);
                    }
                }
                Ok(found)
            }
        }
        let text = self.0.as_deref()?;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        deserializer.deserialize_map(Find(key)).ok().flatten()
    }

    /// The JSON text of the object.
    pub fn text(&self) -> &str {
        self.0.as_deref().unwrap_or("{}")
    }

    pub fn to_json(&self) -> Map<String, Value> {
        match &self.0 {
            Some(text) => serde_json::from_str(text).unwrap_or_default(),
            None => Map::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl Action {
    /// The order in which keyed operators decide: event time, then input position.
    pub fn order_key(&self) -> (i64, Position) {
        (self.event_time_ms, self.position)
    }

    /// The action's fields as a JSON object, as an audit record or a dry-run call shows them.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), Value::String(self.id.to_string()));
        object.insert("namespace".into(), self.namespace.clone().into());
        object.insert("tenant".into(), self.tenant.clone().into());
        object.insert("action_type".into(), self.action_type.clone().into());
        if let Some(provider) = &self.provider {
            object.insert("provider".into(), provider.clone().into());
        }
        object.insert("payload".into(), self.payload.value().clone());
        object.insert("metadata".into(), Value::Object(self.metadata.to_json()));
        if let Some(key) = &self.dedup_key {
            object.insert("dedup_key".into(), Value::String(key.to_string()));
        }
        if let Some(created_at) = &self.created_at {
            object.insert("created_at".into(), Value::String(created_at.to_string()));
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_spread_back_to_their_reader() {
        for workers in [1u64, 2, 3, 4] {
            for line in 1..=20u64 {
                let reader = (line - 1) % workers;
                assert_eq!(Position::Line(line).spread() % workers, reader);
            }
        }
        let spread: std::collections::HashSet<u64> = (0..64)
            .map(|offset| {
                Position::Kafka {
                    partition: 0,
                    offset,
                }
                .spread()
                    % 2
            })
            .collect();
        assert_eq!(spread.len(), 2, "offsets of one partition spread");
    }

    #[test]
    fn metadata_reads_its_keys() {
        let metadata = Metadata::from_json(r#"{"source":"gw","k":"v"}"#);
        assert_eq!(metadata.get("source").as_deref(), Some("gw"));
        assert_eq!(metadata.get("none"), None);
        assert!(Metadata::from_json("{}").is_empty());
        assert_eq!(Metadata::from_entries([("a", "b")]).text(), r#"{"a":"b"}"#);
    }
}
