//! The payload: a JSON object kept as its text, with the values the plan reads taken out of it
//! once, when it is decoded.
//!
//! A plan knows every payload path its rules, keys and templates read ([`PayloadPaths`]).
//! Decoding walks the payload's text once, checking it as a JSON value parser would, and notes
//! where each of those paths' values is (a [`Slot`]): a string without escapes is a range of
//! the text, a number or a boolean is stored, an array or an object is a range of its JSON
//! text. Nothing else is built: no tree, no key strings. Rules then read slots; the audit and
//! the dry-run calls copy the text; and a reader that wants the whole value (a provider, a
//! path the plan did not list, `modify`) gets a JSON tree parsed on first use and kept.
//!
//! A payload is shared, never copied: every record and call that carries it holds a pointer.
//! `modify` makes a new payload (its text rendered from the patched tree, its slots taken
//! again).

use crate::audit::redact::Redactor;
use crate::json::Text;
use acteon_dsl::plan::PathSegment;
use rustc_hash::FxHashMap;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Number, Value};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

/// An action's payload (always a JSON object), or a provider call's. Clones share it.
#[derive(Clone)]
pub struct Payload(Arc<Inner>);

struct Inner {
    text: Box<str>,
    /// The values of the paths of the [`PayloadPaths`] named by `paths`, by slot.
    slots: Box<[Slot]>,
    /// [`PayloadPaths::id`] of the paths the slots hold; 0 when none were taken.
    paths: u64,
    value: OnceLock<Value>,
    /// The payload as the audit shows it under one redactor: (its id, the redacted payload,
    /// or `None` when nothing in it is redacted).
    redacted: OnceLock<(u64, Option<Payload>)>,
}

/// Where the value of one path is, in the payload's text.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    Missing,
    Null,
    Bool(bool),
    Number(Number),
    /// A string without escapes: the byte range of its content (inside the quotes).
    Text(u32, u32),
    /// A string with escapes, unescaped.
    Owned(Box<str>),
    /// An array or an object: the byte range of its JSON text.
    Raw(u32, u32),
}

impl Payload {
    /// `{}`.
    pub fn empty() -> Payload {
        static EMPTY: OnceLock<Payload> = OnceLock::new();
        EMPTY
            .get_or_init(|| Payload::trusted("{}".into(), Some(Value::Object(Default::default()))))
            .clone()
    }

    /// A payload from JSON text this process wrote (a rendered template, a batch): no slots.
    pub fn trusted(text: String, value: Option<Value>) -> Payload {
        let cell = OnceLock::new();
        if let Some(value) = value {
            let _ = cell.set(value);
        }
        Payload(Arc::new(Inner {
            text: text.into_boxed_str(),
            slots: Box::new([]),
            paths: 0,
            value: cell,
            redacted: OnceLock::new(),
        }))
    }

    /// The payload of a JSON object's text as read, checked as a JSON parser checks it, with
    /// the slots of `paths` taken. `Err` when the text is not valid JSON; the caller has
    /// checked that it is an object.
    pub fn read(text: &str, paths: &PayloadPaths) -> Result<Payload, String> {
        let slots = paths.extract(text)?;
        // The walk checks nesting from each slot's value anew; a text with this few brackets
        // cannot nest past the parser's limit anyway, and one with more is parsed whole.
        if brackets(text) >= DEEP {
            serde_json::from_str::<Value>(text).map_err(|e| e.to_string())?;
        }
        Ok(Payload(Arc::new(Inner {
            text: text.into(),
            slots,
            paths: paths.id,
            value: OnceLock::new(),
            redacted: OnceLock::new(),
        })))
    }

    /// A payload from a JSON object value (the slow decoding path, `modify`, tests).
    pub fn from_value(value: Value, paths: &PayloadPaths) -> Payload {
        let text = value.to_string();
        let slots = paths
            .extract(&text)
            .expect("a rendered JSON value reads back");
        let cell = OnceLock::new();
        let _ = cell.set(value);
        Payload(Arc::new(Inner {
            text: text.into_boxed_str(),
            slots,
            paths: paths.id,
            value: cell,
            redacted: OnceLock::new(),
        }))
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        &self.0.text
    }

    /// The whole value, parsed on first use.
    pub fn value(&self) -> &Value {
        self.0.value.get_or_init(|| {
            serde_json::from_str(&self.0.text).unwrap_or_else(|error| {
                // Texts are checked when read, so this is a bug, not bad input.
                tracing::error!(%error, "a payload's text does not parse");
                Value::Null
            })
        })
    }

    /// The value of slot `slot` of the paths `paths`, or `None` when the slots were taken for
    /// other paths (the caller then walks [`Payload::value`]).
    pub fn slot(&self, paths: u64, slot: u32) -> Option<&Slot> {
        if self.0.paths != paths || paths == 0 {
            return None;
        }
        self.0.slots.get(slot as usize)
    }

    /// The text of a slot's range.
    pub fn range(&self, start: u32, end: u32) -> &str {
        &self.0.text[start as usize..end as usize]
    }

    /// The payload as the audit shows it: with `redactor`'s values replaced. Computed once per
    /// payload (for the first redactor that asks; another one computes without keeping it),
    /// and the payload itself when nothing in it is listed.
    pub fn redacted(&self, redactor: &Redactor) -> Payload {
        if redactor.is_empty() {
            return self.clone();
        }
        let compute = || {
            if !redactor.may_match(self.text()) {
                return None;
            }
            let mut value = self.value().clone();
            redactor.redact(&mut value);
            let text = value.to_string();
            (text != *self.text()).then(|| Payload::trusted(text, Some(value)))
        };
        let (id, redacted) = self.0.redacted.get_or_init(|| (redactor.id(), compute()));
        let redacted = match *id == redactor.id() {
            true => redacted.clone(),
            false => compute(),
        };
        redacted.unwrap_or_else(|| self.clone())
    }

    /// Whether two payloads are the same allocation.
    pub fn ptr_eq(&self, other: &Payload) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// Payloads are equal when their values are.
impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.ptr_eq(other) || self.text() == other.text() || self.value() == other.value()
    }
}

impl From<Value> for Payload {
    /// A payload without slots (tests, calls made by hand).
    fn from(value: Value) -> Payload {
        Payload::trusted(value.to_string(), Some(value))
    }
}

/// As JSON (human-readable formats): the payload's value. Between processes and in checkpoints
/// (binary formats): the id of the paths its slots were taken for, and the text; the receiver
/// takes the slots again with its own copy of the same paths.
impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serializer.is_human_readable() {
            true => self.value().serialize(serializer),
            false => (self.0.paths, self.text()).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        if deserializer.is_human_readable() {
            return Ok(Payload::from(Value::deserialize(deserializer)?));
        }
        let (paths, text) = <(u64, String)>::deserialize(deserializer)?;
        let known = registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&paths)
            .cloned();
        match known {
            Some(paths) => Payload::read(&text, &paths).map_err(de::Error::custom),
            None => {
                let value: Value = serde_json::from_str(&text).map_err(de::Error::custom)?;
                Ok(Payload::trusted(text, Some(value)))
            }
        }
    }
}

/// Texts with at least this many `{` and `[` may nest deeper than a JSON parser allows
/// (128 levels), so they are checked by parsing them whole.
pub const DEEP: usize = 100;

/// How many `{` and `[` a JSON text holds (strings included: an upper bound on its nesting).
pub fn brackets(text: &str) -> usize {
    text.bytes().filter(|b| matches!(b, b'{' | b'[')).count()
}

/// Every path set built in this process, by id: a payload arriving from another process (or
/// from a checkpoint) takes its slots again with it.
fn registry() -> &'static Mutex<FxHashMap<u64, Arc<PayloadPaths>>> {
    static PATHS: OnceLock<Mutex<FxHashMap<u64, Arc<PayloadPaths>>>> = OnceLock::new();
    PATHS.get_or_init(Default::default)
}

/// The payload paths a plan reads, as a trie, each path with its slot.
#[derive(Debug, Clone, Default)]
pub struct PayloadPaths {
    /// A hash of the paths: the same paths give the same id in every process.
    id: u64,
    root: Node,
    count: u32,
}

#[derive(Debug, Clone, Default)]
struct Node {
    slot: Option<u32>,
    /// Object keys (a numeric segment also names the key of its digits).
    keys: Vec<(Box<str>, Node)>,
    /// Array indexes.
    indexes: Vec<(usize, Node)>,
}

impl Node {
    fn key(&self, key: &str) -> Option<&Node> {
        self.keys.iter().find(|(k, _)| **k == *key).map(|(_, n)| n)
    }

    fn index(&self, index: usize) -> Option<&Node> {
        self.indexes
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, n)| n)
    }
}

impl PayloadPaths {
    /// No paths: payloads are read with no slots taken, only checked.
    pub fn none() -> Arc<PayloadPaths> {
        static NONE: OnceLock<Arc<PayloadPaths>> = OnceLock::new();
        Arc::clone(NONE.get_or_init(|| Arc::new(PayloadPaths::default())))
    }

    /// The path set of `paths` (repeats share a slot); registered, so payloads arriving from
    /// other processes find it. Returns it with each path's slot, in the order given.
    pub fn new(paths: &[Vec<PathSegment>]) -> (Arc<PayloadPaths>, Vec<u32>) {
        let mut set = PayloadPaths::default();
        let mut slots = Vec::with_capacity(paths.len());
        for path in paths {
            slots.push(set.insert(path));
        }
        if set.count == 0 {
            return (PayloadPaths::none(), slots);
        }
        set.id = xxhash_rust::xxh3::xxh3_64(format!("{paths:?}").as_bytes()).max(1);
        let set = Arc::new(set);
        registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(set.id)
            .or_insert_with(|| Arc::clone(&set));
        (set, slots)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    fn insert(&mut self, path: &[PathSegment]) -> u32 {
        let mut node = &mut self.root;
        for segment in path {
            node = match segment {
                PathSegment::Key(key) => match node.keys.iter().position(|(k, _)| **k == **key) {
                    Some(i) => &mut node.keys[i].1,
                    None => {
                        node.keys.push((key.as_str().into(), Node::default()));
                        &mut node.keys.last_mut().expect("pushed").1
                    }
                },
                PathSegment::Index(index) => {
                    match node.indexes.iter().position(|(i, _)| i == index) {
                        Some(i) => &mut node.indexes[i].1,
                        None => {
                            node.indexes.push((*index, Node::default()));
                            &mut node.indexes.last_mut().expect("pushed").1
                        }
                    }
                }
            };
        }
        *node.slot.get_or_insert_with(|| {
            self.count += 1;
            self.count - 1
        })
    }

    /// Checks `text` as a JSON value and takes every path's slot from it.
    fn extract(&self, text: &str) -> Result<Box<[Slot]>, String> {
        let mut slots = vec![Slot::Missing; self.count as usize];
        let mut walker = serde_json::Deserializer::from_str(text);
        Walk {
            node: Some(&self.root),
            slots: &mut slots,
            base: text.as_ptr() as usize,
        }
        .deserialize(&mut walker)
        .map_err(|e| e.to_string())?;
        walker.end().map_err(|e| e.to_string())?;
        Ok(slots.into_boxed_slice())
    }
}

/// Walks one JSON value, checking all of it (numbers in range, strings well formed, nesting
/// within the parser's limit) and filling the slots of the paths below `node`.
struct Walk<'a> {
    node: Option<&'a Node>,
    slots: &'a mut [Slot],
    /// Where the walked text starts in memory: borrowed strings are ranges of it.
    base: usize,
}

impl Walk<'_> {
    fn range(&self, text: &str) -> Option<(u32, u32)> {
        let start = (text.as_ptr() as usize).checked_sub(self.base)?;
        Some((
            u32::try_from(start).ok()?,
            u32::try_from(start + text.len()).ok()?,
        ))
    }

    /// The slot of a value given as its raw text (a slice of the walked text).
    fn classify(&self, text: &str) -> Result<Slot, serde_json::Error> {
        Ok(match text.as_bytes().first() {
            Some(b'"') if !text.contains('\\') => {
                let inner = &text[1..text.len() - 1];
                match self.range(inner) {
                    Some((start, end)) => Slot::Text(start, end),
                    None => Slot::Owned(inner.into()),
                }
            }
            Some(b'"') => Slot::Owned(serde_json::from_str::<String>(text)?.into_boxed_str()),
            Some(b'{' | b'[') => match self.range(text) {
                Some((start, end)) => Slot::Raw(start, end),
                None => Slot::Missing,
            },
            Some(b't') => Slot::Bool(true),
            Some(b'f') => Slot::Bool(false),
            Some(b'n') => Slot::Null,
            _ => Slot::Number(serde_json::from_str::<Number>(text)?),
        })
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.node.and_then(|n| n.slot) {
            // The value itself is read: its text is needed, so take it raw, then walk it.
            Some(slot) => {
                let raw = <&RawValue>::deserialize(deserializer)?;
                let text = raw.get();
                let value = self.classify(text).map_err(de::Error::custom)?;
                self.slots[slot as usize] = value;
                // Walked again as a value (not as this seed, which would take it raw again):
                // to check it, and for the paths below it.
                let mut inner = serde_json::Deserializer::from_str(text);
                (&mut inner)
                    .deserialize_any(self)
                    .and_then(|()| inner.end())
                    .map_err(de::Error::custom)
            }
            None => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (node, slots, base) = (self.node, self.slots, self.base);
        let mut index = 0;
        loop {
            let node = node.and_then(|n| n.index(index));
            let walk = Walk {
                node,
                slots: &mut *slots,
                base,
            };
            if seq.next_element_seed(walk)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (node, slots, base) = (self.node, self.slots, self.base);
        while let Some(key) = map.next_key::<Text<'de>>()? {
            let node =
                node.and_then(|node| node.key(&key).or_else(|| node.index(key.parse().ok()?)));
            map.next_value_seed(Walk {
                node,
                slots: &mut *slots,
                base,
            })?;
        }
        Ok(())
    }
}

/// Any JSON value, checked as the parser checks it (numbers in range, strings well formed,
/// nesting within its limit), then dropped: nothing is built.
pub struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Checked, D::Error> {
        let walk = Walk {
            node: None,
            slots: &mut [],
            base: 0,
        };
        deserializer.deserialize_any(walk).map(|()| Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(list: &[&[PathSegment]]) -> (Arc<PayloadPaths>, Vec<u32>) {
        PayloadPaths::new(&list.iter().map(|p| p.to_vec()).collect::<Vec<_>>())
    }

    fn key(k: &str) -> PathSegment {
        PathSegment::Key(k.into())
    }

    #[test]
    fn slots_hold_each_listed_value() {
        let (set, slots) = paths(&[
            &[key("device_id")],
            &[key("value")],
            &[key("tags")],
            &[key("tags"), PathSegment::Index(1)],
            &[key("nested"), key("on")],
            &[key("escaped")],
            &[key("absent")],
            &[key("items"), PathSegment::Index(0)],
        ]);
        let text = r#"{"device_id":"d-1","value":92.5,"tags":["a","b"],"nested":{"on":true},"escaped":"a\"b","items":{"0":null}}"#;
        let payload = Payload::read(text, &set).unwrap();
        let slot = |i: usize| payload.slot(set.id(), slots[i]).unwrap().clone();
        assert_eq!(slot(0), Slot::Text(14, 17));
        assert_eq!(payload.range(14, 17), "d-1");
        assert_eq!(slot(1), Slot::Number(Number::from_f64(92.5).unwrap()));
        let Slot::Raw(start, end) = slot(2) else {
            panic!("tags is raw")
        };
        assert_eq!(payload.range(start, end), r#"["a","b"]"#);
        let Slot::Text(start, end) = slot(3) else {
            panic!("tags.1 is text")
        };
        assert_eq!(payload.range(start, end), "b");
        assert_eq!(slot(4), Slot::Bool(true));
        assert_eq!(slot(5), Slot::Owned("a\"b".into()));
        assert_eq!(slot(6), Slot::Missing);
        assert_eq!(slot(7), Slot::Null, "a numeric segment names an object key");
        assert_eq!(payload.value()["value"], json!(92.5));
        assert!(
            payload.slot(set.id() + 1, 0).is_none(),
            "other paths' slots"
        );
    }

    #[test]
    fn bad_payloads_are_refused_as_the_parser_refuses_them() {
        let (set, _) = paths(&[&[key("a")]]);
        for text in [
            r#"{"a":1e400}"#,
            r#"{"b":1e400}"#,
            r#"{"a":"\x"}"#,
            r#"{"b":[1,}"#,
            r#"{"a":1} extra"#,
        ] {
            assert!(Payload::read(text, &set).is_err(), "{text}");
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
        }
        let deep = format!("{{\"b\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(Payload::read(&deep, &set).is_err());
    }

    #[test]
    fn a_repeated_key_reads_as_its_last_value() {
        let (set, slots) = paths(&[&[key("a")]]);
        let payload = Payload::read(r#"{"a":1,"a":2}"#, &set).unwrap();
        assert_eq!(
            payload.slot(set.id(), slots[0]),
            Some(&Slot::Number(2.into()))
        );
        assert_eq!(payload.value(), &json!({"a": 2}));
    }

    #[test]
    fn a_payload_crosses_processes_with_its_slots() {
        let (set, slots) = paths(&[&[key("floor")]]);
        let payload = Payload::read(r#"{"floor":"3"}"#, &set).unwrap();
        let bytes = bincode::serialize(&payload).unwrap();
        let back: Payload = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back, payload);
        assert_eq!(back.slot(set.id(), slots[0]), Some(&Slot::Text(10, 11)));
    }
}
