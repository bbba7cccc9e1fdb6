//! The field paths seen in sample actions, for completing `payload.` and `metadata.`: from a
//! JSON-lines file given with `--sample`, and from the script's own test blocks (their inline
//! actions and their `input` files). Reading is bounded, so a huge sample cannot stall the
//! editor.

use acteon_dsl::load::Program;
use acteon_dsl::syntax::ast::{Item, TestEntry};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

const MAX_LINES: usize = 10_000;
const MAX_BYTES: u64 = 16 << 20;
const MAX_DEPTH: usize = 8;
const MAX_KEYS: usize = 500;

/// A tree of field names, each with the first value seen there.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    children: BTreeMap<String, Fields>,
    /// The first value seen, as JSON text (short).
    pub example: Option<String>,
}

impl Fields {
    /// Adds every field of an action (a JSON object: `id`, `payload`, `metadata`, ...).
    pub fn add(&mut self, value: &Value) {
        self.add_at(value, 0);
    }

    fn add_at(&mut self, value: &Value, depth: usize) {
        if self.example.is_none() {
            let mut text = match value {
                Value::Object(_) => "{...}".to_string(),
                Value::Array(_) => "[...]".to_string(),
                other => other.to_string(),
            };
            if text.chars().count() > 40 {
                text = text.chars().take(37).collect::<String>() + "...";
            }
            self.example = Some(text);
        }
        let Value::Object(map) = value else { return };
        if depth >= MAX_DEPTH {
            return;
        }
        for (key, value) in map {
            if self.children.len() >= MAX_KEYS && !self.children.contains_key(key) {
                continue;
            }
            self.children
                .entry(key.clone())
                .or_default()
                .add_at(value, depth + 1);
        }
    }

    /// The fields below a path (`["payload", "reading"]`).
    pub fn below(&self, path: &[&str]) -> Option<&Fields> {
        path.iter()
            .try_fold(self, |node, key| node.children.get(*key))
    }

    pub fn children(&self) -> impl Iterator<Item = (&str, &Fields)> {
        self.children.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn merge(&mut self, other: &Fields) {
        if self.example.is_none() {
            self.example.clone_from(&other.example);
        }
        for (key, child) in &other.children {
            self.children.entry(key.clone()).or_default().merge(child);
        }
    }

    /// Every action of a JSON-lines file (lines that are not JSON objects are skipped).
    pub fn from_json_lines(path: &Path) -> std::io::Result<Fields> {
        let file = std::fs::File::open(path)?;
        let mut fields = Fields::default();
        let reader = BufReader::new(file.take(MAX_BYTES));
        for line in reader.lines().take(MAX_LINES) {
            if let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(&line?) {
                fields.add(&value);
            }
        }
        Ok(fields)
    }

    /// The actions of a program's tests: inline ones and their input files.
    pub fn from_tests(program: &Program) -> Fields {
        let mut fields = Fields::default();
        for (file, item) in program.items() {
            let Item::Test(test) = item else { continue };
            let dir = program
                .sources
                .file(file)
                .path
                .parent()
                .unwrap_or(Path::new(""))
                .to_path_buf();
            for entry in &test.entries {
                match entry {
                    TestEntry::Action { json, .. } => fields.add(&json.value),
                    TestEntry::Input { path, .. } => {
                        if let Ok(input) = Fields::from_json_lines(&dir.join(&path.value)) {
                            fields.merge(&input);
                        }
                    }
                    _ => {}
                }
            }
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_are_found_with_an_example() {
        let mut fields = Fields::default();
        fields.add(&serde_json::json!({
            "id": "a", "payload": { "value": 92, "reading": { "unit": "celsius" } }
        }));
        fields.add(&serde_json::json!({ "payload": { "zone": "lobby" } }));
        let payload = fields.below(&["payload"]).unwrap();
        let names: Vec<&str> = payload.children().map(|(k, _)| k).collect();
        assert_eq!(names, ["reading", "value", "zone"]);
        assert_eq!(
            payload.below(&["value"]).unwrap().example.as_deref(),
            Some("92")
        );
        assert!(fields.below(&["payload", "reading", "unit"]).is_some());
        assert!(fields.below(&["nothing"]).is_none());
    }
}
