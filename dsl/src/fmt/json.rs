//! Values as the canonical form writes them: literals of settings and conditions, and inline
//! JSON (merge patches, payload templates, test actions).

use super::MAX_WIDTH;
use crate::syntax::ast::{Json, JsonRow, Literal, LiteralKind, PathSegmentKind};
use serde_json::Value;

/// A short object of plain values reads best on one line; anything longer or nested gets one
/// member per line so that diffs touch one member at a time.
const MAX_INLINE_MEMBERS: usize = 3;

/// `value` printed where its first character lands at column `column` of a line indented by
/// `indent`; lines after the first carry their own indentation.
pub(super) fn json(value: &Value, indent: usize, column: usize) -> String {
    print(&tree(value, &[], &mut Vec::new()), indent, column)
}

/// Inline JSON with the rows' values written in their places (a patch, a payload template).
pub(super) fn template(json: &Json, indent: usize, column: usize) -> String {
    print(
        &tree(&json.value, &json.rows, &mut Vec::new()),
        indent,
        column,
    )
}

/// A JSON value as the printer lays it out: leaves already written.
enum Tree {
    Leaf(String),
    Object(Vec<(String, Tree)>),
    Array(Vec<Tree>),
}

fn tree(value: &Value, rows: &[JsonRow], at: &mut Vec<PathSegmentKind>) -> Tree {
    if let Some(row) = rows.iter().find(|row| row.at == *at) {
        return Tree::Leaf(super::expr::row_value(&row.value));
    }
    match value {
        Value::Object(members) => Tree::Object(
            members
                .iter()
                .map(|(key, member)| {
                    at.push(PathSegmentKind::Key(key.clone()));
                    let member = tree(member, rows, at);
                    at.pop();
                    (quote(key), member)
                })
                .collect(),
        ),
        Value::Array(elements) => Tree::Array(
            elements
                .iter()
                .enumerate()
                .map(|(index, element)| {
                    at.push(PathSegmentKind::Index(index));
                    let element = tree(element, rows, at);
                    at.pop();
                    element
                })
                .collect(),
        ),
        scalar => Tree::Leaf(scalar.to_string()),
    }
}

fn print(tree: &Tree, indent: usize, column: usize) -> String {
    if let Some(flat) = inline(tree) {
        if column + flat.len() <= MAX_WIDTH {
            return flat;
        }
    }
    match tree {
        Tree::Object(members) if !members.is_empty() => {
            let inner = indent + 2;
            let mut out = String::from("{\n");
            for (i, (key, member)) in members.iter().enumerate() {
                let column = inner + key.len() + 2;
                out.push_str(&" ".repeat(inner));
                out.push_str(key);
                out.push_str(": ");
                out.push_str(&print(member, inner, column));
                out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
            out
        }
        Tree::Array(elements) if !elements.is_empty() => {
            let inner = indent + 2;
            let mut out = String::from("[\n");
            for (i, element) in elements.iter().enumerate() {
                out.push_str(&" ".repeat(inner));
                out.push_str(&print(element, inner, inner));
                out.push_str(if i + 1 < elements.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
            out
        }
        Tree::Object(_) => "{}".to_string(),
        Tree::Array(_) => "[]".to_string(),
        Tree::Leaf(text) => text.clone(),
    }
}

/// The one-line form, when the value's shape allows one (its width is the caller's concern).
fn inline(tree: &Tree) -> Option<String> {
    let leaf = |tree: &Tree| match tree {
        Tree::Leaf(text) => Some(text.clone()),
        _ => None,
    };
    match tree {
        Tree::Object(members) if members.is_empty() => Some("{}".to_string()),
        Tree::Object(members) => {
            if members.len() > MAX_INLINE_MEMBERS {
                return None;
            }
            let body = members
                .iter()
                .map(|(k, v)| Some(format!("{k}: {}", leaf(v)?)))
                .collect::<Option<Vec<String>>>()?;
            Some(format!("{{ {} }}", body.join(", ")))
        }
        Tree::Array(elements) => {
            let body = elements.iter().map(leaf).collect::<Option<Vec<String>>>()?;
            Some(format!("[{}]", body.join(", ")))
        }
        Tree::Leaf(text) => Some(text.clone()),
    }
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
