//! Field accessors: a plan's field path resolved once into a direct read of an action.
//!
//! A payload path the plan lists ([`PlanPaths`]) reads the payload's slot for it, taken when the
//! action was decoded; any other path (an action decoded for another plan, a payload built by
//! hand) walks the payload's JSON tree.

use crate::action::Action;
use crate::payload::{Payload, PayloadPaths, Slot};
use acteon_dsl::plan::{
    Condition, FieldPath, FieldRoot, Lookup, Operand, PathSegment, Plan, RowPath, RuleAction,
    StepRun,
};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// A field's value as read from an action, borrowed: reading allocates nothing (but for a
/// metadata value with escapes).
#[derive(Debug, Clone)]
pub enum Field<'a> {
    Text(Cow<'a, str>),
    Null,
    Bool(bool),
    Number(Number),
    /// An array or an object, as its JSON text.
    Raw(&'a str),
    Json(&'a Value),
}

impl<'a> Field<'a> {
    fn of_slot(slot: &'a Slot, payload: &'a Payload) -> Option<Field<'a>> {
        Some(match slot {
            Slot::Missing => return None,
            Slot::Null => Field::Null,
            Slot::Bool(b) => Field::Bool(*b),
            Slot::Number(n) => Field::Number(n.clone()),
            Slot::Text(start, end) => Field::Text(Cow::Borrowed(payload.range(*start, *end))),
            Slot::Owned(text) => Field::Text(Cow::Borrowed(text)),
            Slot::Raw(start, end) => Field::Raw(payload.range(*start, *end)),
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Text(text) => Some(text),
            Field::Json(Value::String(text)) => Some(text),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Field::Number(n) => n.as_f64(),
            Field::Json(Value::Number(n)) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Field::Bool(b) | Field::Json(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Field::Null | Field::Json(Value::Null))
    }

    /// An array or an object as a JSON tree (parsed from its text when it is raw).
    pub fn compound(&self) -> Option<Cow<'a, Value>> {
        match self {
            Field::Raw(text) => serde_json::from_str(text).ok().map(Cow::Owned),
            Field::Json(value @ (Value::Array(_) | Value::Object(_))) => Some(Cow::Borrowed(value)),
            _ => None,
        }
    }

    /// The value as a JSON value, for audit details and batch payloads.
    pub fn to_json(&self) -> Value {
        match self {
            Field::Text(text) => Value::String(text.to_string()),
            Field::Null => Value::Null,
            Field::Bool(b) => Value::Bool(*b),
            Field::Number(n) => Value::Number(n.clone()),
            Field::Raw(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Field::Json(value) => (*value).clone(),
        }
    }

    /// The value as JSON text.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Field::Text(text) => crate::json::string(out, text),
            Field::Null => out.extend_from_slice(b"null"),
            Field::Bool(b) => crate::json::boolean(out, *b),
            Field::Number(n) => crate::json::number(out, n),
            Field::Raw(text) => out.extend_from_slice(text.as_bytes()),
            Field::Json(value) => crate::json::value(out, value),
        }
    }

    /// The value as key text: strings as they are, anything else as compact JSON.
    pub fn push_key(&self, key: &mut String) {
        match self {
            Field::Text(text) => key.push_str(text),
            Field::Json(Value::String(text)) => key.push_str(text),
            Field::Null => key.push_str("null"),
            Field::Bool(b) => key.push_str(if *b { "true" } else { "false" }),
            Field::Number(n) => key.push_str(&n.to_string()),
            Field::Raw(_) => key.push_str(&self.to_json().to_string()),
            Field::Json(value) => key.push_str(&value.to_string()),
        }
    }
}

/// A compiled field path.
#[derive(Debug, Clone, PartialEq)]
pub enum Accessor {
    Id,
    Namespace,
    Tenant,
    ActionType,
    Provider,
    DedupKey,
    CreatedAt,
    /// The whole metadata object has no single value; only its keys are readable.
    MetadataKey(String),
    /// A path that can never hold a value (below a metadata string, or the metadata object).
    Nothing,
    /// A payload path: slot `slot` of the payload paths with id `paths`, else a walk of the
    /// payload's tree along `segments`.
    Payload {
        segments: Vec<PathSegment>,
        paths: u64,
        slot: u32,
    },
    /// A value of the row lookup `lookup` found: the whole row when `segments` is empty, else
    /// slot `slot` of its table's row paths (id `paths`) or a walk of the row's tree; `default`
    /// when the row or the field is missing.
    Row {
        lookup: u32,
        segments: Vec<PathSegment>,
        paths: u64,
        slot: u32,
        default: Option<Box<Value>>,
    },
}

impl Accessor {
    /// A test's operand: an action field or a row's value.
    pub fn operand(operand: &Operand, paths: &PlanPaths) -> Accessor {
        match operand {
            Operand::Field(path) => Accessor::compile(path, paths),
            Operand::Row(row) => Accessor::row(row, paths),
        }
    }

    /// A row's value; `Nothing` when the plan does not make its lookup (a plan built by hand).
    pub fn row(row: &RowPath, paths: &PlanPaths) -> Accessor {
        let Some(lookup) = paths.lookups.iter().position(|l| *l == row.lookup) else {
            return Accessor::Nothing;
        };
        let (paths_id, slot) = paths
            .table(&row.lookup.table)
            .and_then(|table| Some((table.set.id(), *table.slots.get(&row.path)?)))
            .unwrap_or((0, 0));
        Accessor::Row {
            lookup: lookup as u32,
            segments: row.path.clone(),
            paths: paths_id,
            slot,
            default: row.default.clone().map(Box::new),
        }
    }

    pub fn compile(path: &FieldPath, paths: &PlanPaths) -> Accessor {
        match path.root {
            FieldRoot::Id => Accessor::Id,
            FieldRoot::Namespace => Accessor::Namespace,
            FieldRoot::Tenant => Accessor::Tenant,
            FieldRoot::ActionType => Accessor::ActionType,
            FieldRoot::Provider => Accessor::Provider,
            FieldRoot::DedupKey => Accessor::DedupKey,
            FieldRoot::CreatedAt => Accessor::CreatedAt,
            FieldRoot::Payload => match paths.slots.get(&path.segments) {
                Some(&slot) => Accessor::Payload {
                    segments: path.segments.clone(),
                    paths: paths.set.id(),
                    slot,
                },
                None => Accessor::Payload {
                    segments: path.segments.clone(),
                    paths: 0,
                    slot: 0,
                },
            },
            FieldRoot::Metadata => match path.segments.as_slice() {
                [PathSegment::Key(key)] => Accessor::MetadataKey(key.clone()),
                [PathSegment::Index(i)] => Accessor::MetadataKey(i.to_string()),
                _ => Accessor::Nothing,
            },
        }
    }

    /// The field's value, `None` when the action does not have it.
    pub fn read<'a>(&'a self, action: &'a Action) -> Option<Field<'a>> {
        let text = |text: &'a str| Some(Field::Text(Cow::Borrowed(text)));
        match self {
            Accessor::Id => text(&action.id),
            Accessor::Namespace => text(&action.namespace),
            Accessor::Tenant => text(&action.tenant),
            Accessor::ActionType => text(&action.action_type),
            Accessor::Provider => action.provider.as_deref().and_then(text),
            Accessor::DedupKey => action.dedup_key.as_deref().and_then(text),
            Accessor::CreatedAt => action.created_at.as_deref().and_then(text),
            Accessor::MetadataKey(key) => action.metadata.value(key).map(Field::Text),
            Accessor::Nothing => None,
            Accessor::Payload {
                segments,
                paths,
                slot,
            } => read_payload(&action.payload, segments, *paths, *slot),
            Accessor::Row {
                lookup,
                segments,
                paths,
                slot,
                default,
            } => action
                .rows
                .get(*lookup)
                .and_then(|row| match segments.is_empty() {
                    true => Some(Field::Raw(row.text())),
                    false => read_payload(row, segments, *paths, *slot),
                })
                .or_else(|| default.as_deref().map(Field::Json)),
        }
    }
}

/// A path of a payload (an action's or a row's): its slot when it was taken for these paths,
/// else a walk of its tree.
fn read_payload<'a>(
    payload: &'a Payload,
    segments: &[PathSegment],
    paths: u64,
    slot: u32,
) -> Option<Field<'a>> {
    match payload.slot(paths, slot) {
        Some(found) => Field::of_slot(found, payload),
        None => walk(payload.value(), segments).map(Field::Json),
    }
}

pub use acteon_dsl::plan::walk;

/// Every payload path a plan reads (in conditions, `by` keys, lookup keys and chain step
/// templates), each with its slot: decoding takes exactly these out of every payload. Also the
/// plan's lookups, and per table the row paths it reads, each with its slot in the rows.
#[derive(Debug, Clone)]
pub struct PlanPaths {
    set: Arc<PayloadPaths>,
    slots: HashMap<Vec<PathSegment>, u32>,
    /// The plan's lookups, in plan order: a row's value names its lookup by index here.
    lookups: Vec<Lookup>,
    /// Per table of the plan, in plan order.
    tables: Vec<TablePaths>,
}

/// The paths of a table's rows that the plan reads, with the key field and `updated_at`.
#[derive(Debug, Clone)]
pub struct TablePaths {
    pub name: String,
    pub set: Arc<PayloadPaths>,
    slots: HashMap<Vec<PathSegment>, u32>,
    /// The slot of the key field.
    pub key: u32,
    /// The slot of `updated_at`: when a row from a feed takes effect.
    pub updated_at: u32,
}

impl PlanPaths {
    pub fn of(plan: &Plan) -> PlanPaths {
        let mut list: Vec<Vec<PathSegment>> = Vec::new();
        let mut add = |path: &FieldPath| {
            if path.root == FieldRoot::Payload && !list.contains(&path.segments) {
                list.push(path.segments.clone());
            }
        };
        fn conditions(condition: &Condition, add: &mut dyn FnMut(&FieldPath)) {
            match condition {
                Condition::All { of } | Condition::Any { of } => {
                    of.iter().for_each(|c| conditions(c, add))
                }
                Condition::Not { of } => conditions(of, add),
                test => {
                    if let Some(field) = test.operand().and_then(Operand::field) {
                        add(field)
                    }
                }
            }
        }
        for rule in &plan.rules {
            if let Some(condition) = &rule.condition {
                conditions(condition, &mut add);
            }
            match &rule.action {
                RuleAction::Dedup { by: Some(by), .. }
                | RuleAction::Throttle { by: Some(by), .. } => add(by),
                RuleAction::Group { by, .. } => by.iter().for_each(&mut add),
                _ => {}
            }
        }
        for step in plan.chains.iter().flat_map(|chain| &chain.steps) {
            if let StepRun::Call { payload, .. } = &step.run {
                crate::chains::template::origin_payload_paths(payload, &mut |segments| {
                    add(&FieldPath {
                        root: FieldRoot::Payload,
                        segments,
                    })
                });
            }
        }
        let lookups = plan.lookups();
        lookups.iter().for_each(|lookup| add(&lookup.key));
        let mut paths = PlanPaths::from_paths(list);
        let row_paths = plan.row_paths();
        paths.tables = plan
            .tables
            .iter()
            .map(|table| {
                let mut list = vec![
                    vec![PathSegment::Key(table.key.clone())],
                    vec![PathSegment::Key(UPDATED_AT.into())],
                ];
                for row in row_paths.iter().filter(|r| r.lookup.table == table.name) {
                    if !row.path.is_empty() && !list.contains(&row.path) {
                        list.push(row.path.clone());
                    }
                }
                let (set, slots) = PayloadPaths::new(&list);
                TablePaths {
                    name: table.name.clone(),
                    set,
                    key: slots[0],
                    updated_at: slots[1],
                    slots: list.into_iter().zip(slots).collect(),
                }
            })
            .collect();
        paths.lookups = lookups;
        paths
    }

    /// The paths of `list`, each with a slot.
    pub fn from_paths(list: Vec<Vec<PathSegment>>) -> PlanPaths {
        let (set, slots) = PayloadPaths::new(&list);
        PlanPaths {
            set,
            slots: list.into_iter().zip(slots).collect(),
            lookups: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// No paths: every payload read walks the tree.
    pub fn none() -> PlanPaths {
        PlanPaths::from_paths(Vec::new())
    }

    /// The path set decoding takes slots for.
    pub fn set(&self) -> &Arc<PayloadPaths> {
        &self.set
    }

    /// The plan's lookups, by index.
    pub fn lookups(&self) -> &[Lookup] {
        &self.lookups
    }

    /// The row paths of the table `name`.
    pub fn table(&self, name: &str) -> Option<&TablePaths> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// The row field that says when a row read from a feed takes effect (RFC 3339).
pub const UPDATED_AT: &str = "updated_at";
