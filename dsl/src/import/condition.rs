//! YAML rule conditions: `all`/`any` lists and `field` predicates with operators.

use super::emit::{literal, path_segment, regex};
use crate::plan::FieldRoot;
use serde_json::Value;
use serde_yaml::{Mapping, Value as Yaml};

/// The older format nests `all`/`any` at most this deep.
const MAX_DEPTH: usize = 16;

/// A condition on its way to script text; `All` never holds an `All` directly.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test { field: String, op: Op, value: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    In,
    Exists,
}

/// The older operator keys, in the order the language lists them.
const OPERATORS: [(&str, Op); 11] = [
    ("eq", Op::Eq),
    ("ne", Op::Ne),
    ("gt", Op::Gt),
    ("lt", Op::Lt),
    ("gte", Op::Ge),
    ("lte", Op::Le),
    ("contains", Op::Contains),
    ("starts_with", Op::StartsWith),
    ("ends_with", Op::EndsWith),
    ("matches", Op::Matches),
    ("in_list", Op::In),
];

/// A rule's `condition`; `Err` names the construct a script cannot express.
pub(super) fn condition(yaml: &Yaml) -> Result<Condition, String> {
    predicate(yaml, 0)
}

fn predicate(yaml: &Yaml, depth: usize) -> Result<Condition, String> {
    if depth > MAX_DEPTH {
        return Err(format!("conditions nested deeper than {MAX_DEPTH}"));
    }
    let map = yaml
        .as_mapping()
        .ok_or("a condition that is not a mapping")?;
    if let Some(list) = map.get("all") {
        return Ok(all(group(list, "all", depth)?));
    }
    if let Some(list) = map.get("any") {
        let mut any = Vec::new();
        for operand in group(list, "any", depth)? {
            match operand {
                Condition::Any(inner) => any.extend(inner),
                other => any.push(other),
            }
        }
        return Ok(if any.len() == 1 {
            any.remove(0)
        } else {
            Condition::Any(any)
        });
    }
    match map.get("field") {
        Some(field) => field_predicate(field, map),
        None => {
            let construct = map
                .keys()
                .next()
                .and_then(Yaml::as_str)
                .unwrap_or("an empty predicate");
            Err(construct.to_string())
        }
    }
}

fn group(list: &Yaml, key: &str, depth: usize) -> Result<Vec<Condition>, String> {
    let list = list
        .as_sequence()
        .ok_or_else(|| format!("`{key}` that is not a list"))?;
    if list.is_empty() {
        return Err(format!("an empty `{key}`"));
    }
    list.iter().map(|p| predicate(p, depth + 1)).collect()
}

/// Operands joined by `and`, flattened.
pub(super) fn all(operands: Vec<Condition>) -> Condition {
    let mut flat = Vec::new();
    for operand in operands {
        match operand {
            Condition::All(inner) => flat.extend(inner),
            other => flat.push(other),
        }
    }
    if flat.len() == 1 {
        flat.remove(0)
    } else {
        Condition::All(flat)
    }
}

/// `field: action.X` with one or more operators, which all have to hold.
fn field_predicate(field: &Yaml, map: &Mapping) -> Result<Condition, String> {
    let field = field.as_str().ok_or("a `field` that is not a string")?;
    let path = field_path(field)?;
    let mut tests = Vec::new();
    for (key, value) in map {
        let key = key.as_str().unwrap_or_default();
        if key == "field" {
            continue;
        }
        let op = OPERATORS
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, op)| *op)
            .ok_or_else(|| format!("operator `{key}`"))?;
        let value: Value =
            serde_json::to_value(value).map_err(|e| format!("value of `{key}`: {e}"))?;
        tests.push(test(&path, op, value)?);
    }
    if tests.is_empty() {
        return Err(format!("a predicate on {field} without an operator"));
    }
    Ok(all(tests))
}

fn test(field: &str, op: Op, value: Value) -> Result<Condition, String> {
    let test = |op, value| Condition::Test {
        field: field.to_string(),
        op,
        value,
    };
    // Null stands for "absent" in the older format: `ne: null` is its way to say "exists".
    Ok(match (op, &value) {
        (Op::Eq, Value::Null) => Condition::Not(Box::new(test(Op::Exists, Value::Null))),
        (Op::Ne, Value::Null) => test(Op::Exists, Value::Null),
        (Op::StartsWith | Op::EndsWith | Op::Matches, v) if !v.is_string() => {
            return Err(format!("a non-string operand of {field}"));
        }
        (Op::Matches, Value::String(pattern)) if pattern.contains('\n') => {
            return Err("a regex over several lines".to_string());
        }
        (Op::In, v) if !v.is_array() => return Err(format!("`in_list` on {field} without a list")),
        _ => test(op, value),
    })
}

/// `action.payload.a.b` as the script's `payload.a.b`; fields outside the action (`env`,
/// `time`, `now`) and action fields a script cannot see are refused.
fn field_path(field: &str) -> Result<String, String> {
    match field.strip_prefix("action.") {
        Some(path) => script_path(path).ok_or_else(|| format!("field {field}")),
        None => Err(format!("field {field}")),
    }
}

/// A path from an action field's root, as the older format writes it without `action.` (group
/// keys do).
pub(super) fn script_path(path: &str) -> Option<String> {
    let mut segments = path.split('.');
    let root = FieldRoot::from_name(segments.next()?)?;
    let mut out = root.name().to_string();
    for segment in segments {
        if segment.is_empty() || !root.has_children() {
            return None;
        }
        out.push('.');
        out.push_str(&path_segment(segment));
    }
    Some(out)
}

impl Condition {
    /// The condition as script text; nested groups get parentheses so that they read as written.
    pub(super) fn text(&self) -> String {
        match self {
            Condition::All(operands) => join(operands, " and "),
            Condition::Any(operands) => join(operands, " or "),
            Condition::Not(inner) => format!("not {}", inner.nested()),
            Condition::Test { field, op, value } => {
                let operand = match op {
                    Op::Exists => return format!("{field} exists"),
                    Op::Matches => regex(value.as_str().unwrap_or_default()),
                    _ => literal(value),
                };
                let op = match op {
                    Op::Eq => "==",
                    Op::Ne => "!=",
                    Op::Gt => ">",
                    Op::Lt => "<",
                    Op::Ge => ">=",
                    Op::Le => "<=",
                    Op::Contains => "contains",
                    Op::StartsWith => "starts_with",
                    Op::EndsWith => "ends_with",
                    Op::Matches => "matches",
                    Op::In => "in",
                    Op::Exists => "exists",
                };
                format!("{field} {op} {operand}")
            }
        }
    }

    fn nested(&self) -> String {
        match self {
            Condition::All(_) | Condition::Any(_) => format!("({})", self.text()),
            _ => self.text(),
        }
    }

    /// Whether this is `FIELD == "VALUE"` for a string value, and which value.
    pub(super) fn equals_string(&self, wanted: &str) -> Option<&str> {
        match self {
            Condition::Test {
                field,
                op: Op::Eq,
                value: Value::String(value),
            } if field == wanted => Some(value),
            _ => None,
        }
    }
}

fn join(operands: &[Condition], separator: &str) -> String {
    operands
        .iter()
        .map(Condition::nested)
        .collect::<Vec<_>>()
        .join(separator)
}
