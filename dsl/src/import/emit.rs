//! Writing script text: literals, durations and settings blocks. The importer writes plain text
//! and leaves the layout to the formatter.

use crate::plan::is_plain_key;
use serde_json::Value;

/// A string literal with JSON escapes.
pub(super) fn quote(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// A value as a script literal; objects are written as JSON, which the language takes as is.
pub(super) fn literal(value: &Value) -> String {
    match value {
        Value::Array(elements) => {
            let elements: Vec<String> = elements.iter().map(literal).collect();
            format!("[{}]", elements.join(", "))
        }
        other => other.to_string(),
    }
}

/// A whole number of seconds in the largest unit that divides it exactly, the way the
/// hand-written scripts read (`7d`, `1h`, `60s`): minutes are left out on purpose, since the
/// older format's `..._seconds` keys read naturally as seconds.
pub(super) fn seconds(seconds: u64) -> String {
    milliseconds(seconds.saturating_mul(1000))
}

pub(super) fn milliseconds(ms: u64) -> String {
    const DAY: u64 = 86_400_000;
    const HOUR: u64 = 3_600_000;
    match ms {
        0 => "0s".to_string(),
        ms if ms % DAY == 0 => format!("{}d", ms / DAY),
        ms if ms % HOUR == 0 => format!("{}h", ms / HOUR),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// A path segment below `payload` or `metadata`: an index, a plain key, or a quoted key.
pub(super) fn path_segment(segment: &str) -> String {
    let index = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    if index || is_plain_key(segment) {
        segment.to_string()
    } else {
        quote(segment)
    }
}

/// A regex between slashes; a slash inside is escaped, the only escape the language adds.
pub(super) fn regex(pattern: &str) -> String {
    format!("/{}/", pattern.replace('/', "\\/"))
}

/// `HEAD { key = value ... }`, or `HEAD` alone when `bare_when_empty` and there are no settings.
pub(super) struct Block {
    head: String,
    settings: Vec<(String, String)>,
}

impl Block {
    pub(super) fn new(head: impl Into<String>) -> Block {
        Block {
            head: head.into(),
            settings: Vec::new(),
        }
    }

    pub(super) fn set(&mut self, key: &str, value: impl Into<String>) {
        self.settings.push((key.to_string(), value.into()));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.settings.is_empty()
    }

    pub(super) fn write(&self, out: &mut String, bare_when_empty: bool) {
        out.push_str(&self.head);
        if self.settings.is_empty() && bare_when_empty {
            out.push('\n');
            return;
        }
        out.push_str(" {\n");
        for (key, value) in &self.settings {
            out.push_str(&format!("  {key} = {value}\n"));
        }
        out.push_str("}\n");
    }
}
