//! Redaction: the values of listed keys are replaced by the placeholder before a record leaves
//! the engine.
//!
//! An entry of the audit's `redact` list is either
//! - a bare key (`queue_url`): its value is replaced wherever the key occurs, at any depth,
//!   inside arrays too, the key compared case-insensitively; or
//! - a dotted path (`config.queue_url`), matched from the root of the redacted value (the
//!   payload, or a delivery response), each segment compared case-insensitively; a numeric
//!   segment also names an array index, and arrays on the way are otherwise looked through
//!   (`items.secret` reaches the `secret` of every element of `items`).
//!
//! Paths may be written as in conditions, `payload.config.queue_url`, or bare as in the older
//! gateway's configuration, `config.queue_url`. A path starting with `payload.` is therefore
//! tried both ways: a payload that really has a `payload` key gets both readings redacted, since
//! redacting too much is the safe side of the mistake.

use acteon_dsl::plan::Audit;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// The audit's redaction list compiled once, applied to every record.
#[derive(Debug, Clone)]
pub struct Redactor {
    keys: HashSet<String>,
    paths: PathNode,
    placeholder: Value,
    /// Lowercase texts one of which a JSON text must hold for anything in it to be redacted
    /// (each listed key, each path's last segment); `None` when that cannot be told by a
    /// search (a path ending in an index, a key that is not ASCII).
    needles: Option<Vec<Vec<u8>>>,
    /// Tells redactors apart: a payload keeps its redacted text for one of them.
    id: u64,
}

/// A trie of lowercased path segments; `terminal` marks the end of a listed path.
#[derive(Debug, Clone, Default)]
struct PathNode {
    terminal: bool,
    children: HashMap<String, PathNode>,
}

impl PathNode {
    fn insert<'a>(&mut self, segments: impl Iterator<Item = &'a str>) {
        let mut node = self;
        for segment in segments {
            node = node.children.entry(segment.to_lowercase()).or_default();
        }
        node.terminal = true;
    }

    fn child(&self, key: &str) -> Option<&PathNode> {
        if self.children.is_empty() {
            return None;
        }
        self.children.get(lowercase(key).as_ref())
    }
}

impl Redactor {
    pub fn new(audit: &Audit) -> Redactor {
        let mut keys = HashSet::new();
        let mut paths = PathNode::default();
        for entry in &audit.redact {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            if !entry.contains('.') {
                keys.insert(entry.to_lowercase());
                continue;
            }
            paths.insert(entry.split('.'));
            if let Some(rest) = strip_prefix_ignore_case(entry, "payload.") {
                paths.insert(rest.split('.'));
            }
        }
        let needles = audit
            .redact
            .iter()
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| {
                let last = entry.trim().rsplit('.').next().unwrap_or_default();
                let searchable = last.is_ascii() && last.parse::<usize>().is_err();
                searchable.then(|| last.to_ascii_lowercase().into_bytes())
            })
            .collect();
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Redactor {
            keys,
            paths,
            placeholder: Value::String(audit.placeholder.clone()),
            needles,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// A redactor with nothing listed.
    pub fn none() -> Redactor {
        Redactor::new(&Audit::default())
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether redacting `json` (a JSON text) could change it: `false` only when no string
    /// in it is a listed key in any case, so its text can be used as it is. A text with
    /// escapes is taken to match (a key may be written with them).
    pub fn may_match(&self, json: &str) -> bool {
        let Some(needles) = &self.needles else {
            return true;
        };
        let text = json.as_bytes();
        if memchr::memchr(b'\\', text).is_some() {
            return true;
        }
        // Keys are quoted: compare what follows each quote.
        memchr::memchr_iter(b'"', text).any(|quote| {
            let rest = &text[quote + 1..];
            needles.iter().any(|needle| {
                rest.len() > needle.len()
                    && rest[needle.len()] == b'"'
                    && rest[..needle.len()].eq_ignore_ascii_case(needle)
            })
        })
    }

    /// Nothing is listed: records pass unchanged, and callers may skip the walk.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.paths.children.is_empty()
    }

    /// Replaces every listed value inside `value` (a payload, or a delivery response).
    pub fn redact(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        self.walk(value, &[&self.paths]);
    }

    /// `trail` holds the trie nodes the current position has reached, one per way of reading
    /// the path so far (an array index both names a segment and is looked through). None of
    /// them is terminal: a terminal node's value has already been replaced.
    fn walk(&self, value: &mut Value, trail: &[&PathNode]) {
        match value {
            Value::Object(object) => {
                for (key, child) in object.iter_mut() {
                    let next: Vec<&PathNode> =
                        trail.iter().filter_map(|node| node.child(key)).collect();
                    if self.keys.contains(lowercase(key).as_ref())
                        || next.iter().any(|node| node.terminal)
                    {
                        *child = self.placeholder.clone();
                    } else if !self.keys.is_empty() || !next.is_empty() {
                        self.walk(child, &next);
                    }
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    let mut next: Vec<&PathNode> = trail.to_vec();
                    if trail.iter().any(|node| !node.children.is_empty()) {
                        let index = index.to_string();
                        next.extend(trail.iter().filter_map(|node| node.child(&index)));
                    }
                    if next.iter().any(|node| node.terminal) {
                        *item = self.placeholder.clone();
                    } else {
                        self.walk(item, &next);
                    }
                }
            }
            _ => {}
        }
    }
}

fn lowercase(key: &str) -> Cow<'_, str> {
    if key.chars().any(char::is_uppercase) {
        Cow::Owned(key.to_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor(entries: &[&str]) -> Redactor {
        Redactor::new(&Audit {
            redact: entries.iter().map(|e| e.to_string()).collect(),
            ..Audit::default()
        })
    }

    fn seed() -> Redactor {
        redactor(&["aws_role_arn", "function_arn", "queue_url"])
    }

    #[test]
    fn seed_keys_at_every_depth() {
        let mut value = json!({
            "queue_url": "https://sqs/1",
            "device": { "function_arn": "arn:lambda", "zone": "a" },
            "deep": { "deeper": { "aws_role_arn": "arn:iam", "keep": 1 } }
        });
        seed().redact(&mut value);
        assert_eq!(
            value,
            json!({
                "queue_url": "[REDACTED]",
                "device": { "function_arn": "[REDACTED]", "zone": "a" },
                "deep": { "deeper": { "aws_role_arn": "[REDACTED]", "keep": 1 } }
            })
        );
    }

    #[test]
    fn keys_match_in_any_case_both_ways() {
        let mut value = json!({ "Queue_URL": "x", "inner": { "FUNCTION_ARN": { "nested": 1 } } });
        redactor(&["QUEUE_url", "function_arn"]).redact(&mut value);
        assert_eq!(
            value,
            json!({ "Queue_URL": "[REDACTED]", "inner": { "FUNCTION_ARN": "[REDACTED]" } })
        );
    }

    #[test]
    fn keys_inside_arrays() {
        let mut value = json!({
            "targets": [
                { "queue_url": "q1", "name": "a" },
                [ { "aws_role_arn": "r" } ],
                "plain"
            ]
        });
        seed().redact(&mut value);
        assert_eq!(
            value,
            json!({
                "targets": [
                    { "queue_url": "[REDACTED]", "name": "a" },
                    [ { "aws_role_arn": "[REDACTED]" } ],
                    "plain"
                ]
            })
        );
    }

    #[test]
    fn whole_value_is_replaced_whatever_its_type() {
        let mut value = json!({ "queue_url": ["a", "b"], "function_arn": null, "aws_role_arn": 7 });
        seed().redact(&mut value);
        assert_eq!(
            value,
            json!({ "queue_url": "[REDACTED]", "function_arn": "[REDACTED]", "aws_role_arn": "[REDACTED]" })
        );
    }

    #[test]
    fn dotted_path_only_at_its_place() {
        let mut value = json!({
            "config": { "queue_url": "q", "region": "us-east-1" },
            "other": { "queue_url": "kept" }
        });
        redactor(&["config.queue_url"]).redact(&mut value);
        assert_eq!(
            value,
            json!({
                "config": { "queue_url": "[REDACTED]", "region": "us-east-1" },
                "other": { "queue_url": "kept" }
            })
        );
    }

    #[test]
    fn payload_prefix_names_the_payload_root() {
        let mut value = json!({ "config": { "Queue_Url": "q" }, "queue_url": "kept" });
        redactor(&["payload.CONFIG.queue_url"]).redact(&mut value);
        assert_eq!(
            value,
            json!({ "config": { "Queue_Url": "[REDACTED]" }, "queue_url": "kept" })
        );
    }

    #[test]
    fn paths_through_arrays_by_index_or_through_every_element() {
        let mut value = json!({
            "items": [ { "secret": 1, "n": 0 }, { "secret": 2, "n": 1 } ],
            "hosts": [ { "password": "a" }, { "password": "b" } ]
        });
        redactor(&["items.secret", "hosts.1.password"]).redact(&mut value);
        assert_eq!(
            value,
            json!({
                "items": [ { "secret": "[REDACTED]", "n": 0 }, { "secret": "[REDACTED]", "n": 1 } ],
                "hosts": [ { "password": "a" }, { "password": "[REDACTED]" } ]
            })
        );
    }

    #[test]
    fn a_path_can_name_an_array_element() {
        let mut value = json!({ "tokens": ["a", "b", "c"] });
        redactor(&["tokens.1"]).redact(&mut value);
        assert_eq!(value, json!({ "tokens": ["a", "[REDACTED]", "c"] }));
    }

    #[test]
    fn custom_placeholder_and_empty_list() {
        let mut value = json!({ "queue_url": "q" });
        let audit = Audit {
            redact: vec!["queue_url".into()],
            placeholder: "***".into(),
            ..Audit::default()
        };
        Redactor::new(&audit).redact(&mut value);
        assert_eq!(value, json!({ "queue_url": "***" }));

        let untouched = redactor(&[]);
        assert!(untouched.is_empty());
        let mut value = json!({ "queue_url": "q" });
        untouched.redact(&mut value);
        assert_eq!(value, json!({ "queue_url": "q" }));
    }

    #[test]
    fn a_text_without_listed_keys_needs_no_redaction() {
        let seed = seed();
        assert!(!seed.may_match(r#"{"device_id":"d","value":1}"#));
        assert!(seed.may_match(r#"{"Queue_URL":"q"}"#));
        assert!(seed.may_match(r#"{"deep":{"aws_role_arn":"x"}}"#));
        assert!(
            redactor(&["items.0"]).may_match("{}"),
            "an index cannot be searched"
        );
        assert!(!redactor(&[]).may_match(r#"{"queue_url":"q"}"#));
    }
}
