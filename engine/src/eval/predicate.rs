//! Predicates: one test of one field against precompiled constants.
//!
//! Semantics (docs/design.md, "Rule evaluation" 8): a missing field or a type the test cannot
//! compare makes the test false, never an error. Numbers compare as f64, so `5 == 5.0`.
//! `!=` holds only when the field exists with a value of the same type that differs (and
//! `!= null` holds for any present non-null value): a missing field or another type is false,
//! like every other test.

use super::field::{Accessor, Field};
use crate::action::Action;
use acteon_dsl::plan::Comparison;
use regex::Regex;
use serde_json::Value;
use std::cmp::Ordering;

/// A constant of a condition, in the form comparisons read it.
#[derive(Debug, Clone)]
pub enum Constant {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    /// Lists and objects compare by deep equality.
    Other(Value),
}

impl Constant {
    pub fn new(value: &Value) -> Constant {
        match value {
            Value::Null => Constant::Null,
            Value::Bool(b) => Constant::Bool(*b),
            Value::Number(n) => n
                .as_f64()
                .map_or(Constant::Other(value.clone()), Constant::Number),
            Value::String(s) => Constant::Text(s.clone()),
            other => Constant::Other(other.clone()),
        }
    }

    /// `None` when the field's type cannot be compared with the constant.
    fn equals(&self, field: &Field<'_>) -> Option<bool> {
        match (field, self) {
            (Field::Json(value), constant) => json_equals(value, constant),
            (Field::Text(text), Constant::Text(c)) => Some(text == c),
            (Field::Null, Constant::Null) => Some(true),
            (Field::Bool(b), Constant::Bool(c)) => Some(b == c),
            (Field::Number(n), Constant::Number(c)) => Some(n.as_f64() == Some(*c)),
            (Field::Raw(_), Constant::Other(c)) => field.compound().map(|value| *value == *c),
            _ => None,
        }
    }

    fn order(&self, field: &Field<'_>) -> Option<Ordering> {
        match self {
            Constant::Text(c) => Some(field.as_str()?.cmp(c.as_str())),
            Constant::Number(c) => field.as_f64()?.partial_cmp(c),
            _ => None,
        }
    }
}

fn json_equals(value: &Value, constant: &Constant) -> Option<bool> {
    match (value, constant) {
        (Value::Null, Constant::Null) => Some(true),
        (Value::Bool(b), Constant::Bool(c)) => Some(b == c),
        (Value::Number(n), Constant::Number(c)) => Some(n.as_f64() == Some(*c)),
        (Value::String(s), Constant::Text(c)) => Some(s == c),
        (Value::Array(_) | Value::Object(_), Constant::Other(c)) => Some(value == c),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub enum Test {
    Compare(Comparison, Constant),
    /// A comparison with a row's value, read per action.
    CompareRow(Comparison, Accessor),
    In(Vec<Constant>),
    Contains(Constant),
    StartsWith(String),
    EndsWith(String),
    Matches(Regex),
    Exists,
}

/// One test of one field; rules share it when they write the same test.
#[derive(Debug, Clone)]
pub struct Predicate {
    pub field: Accessor,
    pub test: Test,
}

impl Predicate {
    pub fn holds(&self, action: &Action) -> bool {
        let Some(field) = self.field.read(action) else {
            return false;
        };
        match &self.test {
            Test::CompareRow(cmp, other) => other
                .read(action)
                .is_some_and(|other| relate(&field, *cmp, &other)),
            test => test.holds(&field),
        }
    }
}

/// `left CMP right` for two values read per action, with the semantics of a comparison with a
/// constant: values of one type compare (numbers as numbers, `<` and the like only numbers and
/// strings), values of different types do not, and `!= null` holds for any present non-null
/// value.
fn relate(left: &Field<'_>, cmp: Comparison, right: &Field<'_>) -> bool {
    let equals = || -> Option<bool> {
        if let (Some(a), Some(b)) = (left.as_f64(), right.as_f64()) {
            return Some(a == b);
        }
        if let (Some(a), Some(b)) = (left.as_str(), right.as_str()) {
            return Some(a == b);
        }
        if let (Some(a), Some(b)) = (left.as_bool(), right.as_bool()) {
            return Some(a == b);
        }
        if left.is_null() || right.is_null() {
            return (left.is_null() && right.is_null()).then_some(true);
        }
        match (left.compound(), right.compound()) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        }
    };
    let order = || -> Option<Ordering> {
        if let (Some(a), Some(b)) = (left.as_f64(), right.as_f64()) {
            return a.partial_cmp(&b);
        }
        Some(left.as_str()?.cmp(right.as_str()?))
    };
    match cmp {
        Comparison::Eq => equals() == Some(true),
        Comparison::Ne if right.is_null() => !left.is_null(),
        Comparison::Ne => equals() == Some(false),
        Comparison::Lt => order().is_some_and(Ordering::is_lt),
        Comparison::Le => order().is_some_and(Ordering::is_le),
        Comparison::Gt => order().is_some_and(Ordering::is_gt),
        Comparison::Ge => order().is_some_and(Ordering::is_ge),
    }
}

impl Test {
    /// Whether a present field passes the test (chain branches test step results with it).
    pub fn holds(&self, field: &Field<'_>) -> bool {
        match self {
            Test::Exists => true,
            Test::Compare(Comparison::Eq, c) => c.equals(field) == Some(true),
            Test::Compare(Comparison::Ne, Constant::Null) => !field.is_null(),
            Test::Compare(Comparison::Ne, c) => c.equals(field) == Some(false),
            Test::Compare(cmp, c) => match c.order(field) {
                Some(order) => match cmp {
                    Comparison::Lt => order.is_lt(),
                    Comparison::Le => order.is_le(),
                    Comparison::Gt => order.is_gt(),
                    Comparison::Ge => order.is_ge(),
                    Comparison::Eq | Comparison::Ne => false,
                },
                None => false,
            },
            Test::In(constants) => constants.iter().any(|c| c.equals(field) == Some(true)),
            Test::Contains(c) => match (field.compound().as_deref(), c) {
                (Some(Value::Array(items)), c) => {
                    items.iter().any(|item| json_equals(item, c) == Some(true))
                }
                (_, Constant::Text(needle)) => field
                    .as_str()
                    .is_some_and(|text| text.contains(needle.as_str())),
                _ => false,
            },
            Test::StartsWith(prefix) => field
                .as_str()
                .is_some_and(|t| t.starts_with(prefix.as_str())),
            Test::EndsWith(suffix) => field.as_str().is_some_and(|t| t.ends_with(suffix.as_str())),
            Test::Matches(regex) => field.as_str().is_some_and(|t| regex.is_match(t)),
            // Read per action: a predicate decides it with both values.
            Test::CompareRow(..) => false,
        }
    }
}
