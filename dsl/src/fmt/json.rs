//! Values as the canonical form writes them: literals of settings and conditions, and inline
//! JSON (merge patches, payload templates, test actions).

use super::MAX_WIDTH;
use crate::syntax::ast::{Literal, LiteralKind};
use serde_json::Value;

/// A short object of plain values reads best on one line; anything longer or nested gets one
/// member per line so that diffs touch one member at a time.
const MAX_INLINE_MEMBERS: usize = 3;

/// `value` printed where its first character lands at column `column` of a line indented by
/// `indent`; lines after the first carry their own indentation.
pub(super) fn json(value: &Value, indent: usize, column: usize) -> String {
    if let Some(flat) = inline_json(value) {
        if column + flat.len() <= MAX_WIDTH {
            return flat;
        }
    }
    match value {
        Value::Object(members) if !members.is_empty() => {
            let inner = indent + 2;
            let mut out = String::from("{\n");
            for (i, (key, member)) in members.iter().enumerate() {
                let key = quote(key);
                let column = inner + key.len() + 2;
                out.push_str(&" ".repeat(inner));
                out.push_str(&key);
                out.push_str(": ");
                out.push_str(&json(member, inner, column));
                out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
            out
        }
        Value::Array(elements) if !elements.is_empty() => {
            let inner = indent + 2;
            let mut out = String::from("[\n");
            for (i, element) in elements.iter().enumerate() {
                out.push_str(&" ".repeat(inner));
                out.push_str(&json(element, inner, inner));
                out.push_str(if i + 1 < elements.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
            out
        }
        scalar => scalar.to_string(),
    }
}

/// The one-line form, when the value's shape allows one (its width is the caller's concern).
fn inline_json(value: &Value) -> Option<String> {
    match value {
        Value::Object(members) if members.is_empty() => Some("{}".to_string()),
        Value::Object(members) => {
            if members.len() > MAX_INLINE_MEMBERS || !members.values().all(is_scalar) {
                return None;
            }
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), v))
                .collect();
            Some(format!("{{ {} }}", body.join(", ")))
        }
        Value::Array(elements) => {
            if !elements.iter().all(is_scalar) {
                return None;
            }
            let body: Vec<String> = elements.iter().map(Value::to_string).collect();
            Some(format!("[{}]", body.join(", ")))
        }
        scalar => Some(scalar.to_string()),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

/// A string literal with JSON escapes, as the language writes strings.
pub(super) fn quote(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// A literal at column `column` of a line indented by `indent`.
pub(super) fn literal(literal: &Literal, indent: usize, column: usize) -> String {
    match &literal.kind {
        LiteralKind::String(s) => quote(s),
        LiteralKind::Number(n) => n.to_string(),
        LiteralKind::Bool(b) => b.to_string(),
        LiteralKind::Null => "null".to_string(),
        LiteralKind::Duration { text, .. } => text.clone(),
        LiteralKind::Name(name) => name.clone(),
        LiteralKind::Path(path) => super::expr::path(path),
        LiteralKind::Object(value) => json(value, indent, column),
        LiteralKind::List(elements) => list(elements, indent, column),
    }
}

fn list(elements: &[Literal], indent: usize, column: usize) -> String {
    let flat: Vec<String> = elements
        .iter()
        .map(|e| literal(e, indent, column))
        .collect();
    let one_line = format!("[{}]", flat.join(", "));
    if elements.is_empty() || (!one_line.contains('\n') && column + one_line.len() <= MAX_WIDTH) {
        return one_line;
    }
    let inner = indent + 2;
    let mut out = String::from("[\n");
    for (i, element) in elements.iter().enumerate() {
        out.push_str(&" ".repeat(inner));
        out.push_str(&literal(element, inner, inner));
        out.push_str(if i + 1 < elements.len() { ",\n" } else { "\n" });
    }
    out.push_str(&" ".repeat(indent));
    out.push(']');
    out
}
