//! Field accessors: a plan's field path resolved once into a direct read of an action.

use crate::action::Action;
use acteon_dsl::plan::{FieldPath, FieldRoot, PathSegment};
use serde_json::Value;

/// A field's value as read from an action, borrowed: reading allocates nothing.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl<'a> Field<'a> {
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Field::Text(text) => Some(text),
            Field::Json(Value::String(text)) => Some(text),
            Field::Json(_) => None,
        }
    }

    /// The value as a JSON value, for audit details and batch payloads.
    pub fn to_json(self) -> Value {
        match self {
            Field::Text(text) => Value::String(text.to_owned()),
            Field::Json(value) => value.clone(),
        }
    }

    /// The value as key text: strings as they are, anything else as JSON.
    pub fn push_key(self, key: &mut String) {
        match self.as_str() {
            Some(text) => key.push_str(text),
            None => {
                if let Field::Json(value) = self {
                    key.push_str(&value.to_string());
                }
            }
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
    Payload(Vec<PathSegment>),
}

impl Accessor {
    pub fn compile(path: &FieldPath) -> Accessor {
        match path.root {
            FieldRoot::Id => Accessor::Id,
            FieldRoot::Namespace => Accessor::Namespace,
            FieldRoot::Tenant => Accessor::Tenant,
            FieldRoot::ActionType => Accessor::ActionType,
            FieldRoot::Provider => Accessor::Provider,
            FieldRoot::DedupKey => Accessor::DedupKey,
            FieldRoot::CreatedAt => Accessor::CreatedAt,
            FieldRoot::Payload => Accessor::Payload(path.segments.clone()),
            FieldRoot::Metadata => match path.segments.as_slice() {
                [PathSegment::Key(key)] => Accessor::MetadataKey(key.clone()),
                [PathSegment::Index(i)] => Accessor::MetadataKey(i.to_string()),
                _ => Accessor::Nothing,
            },
        }
    }

    /// The field's value, `None` when the action does not have it.
    pub fn read<'a>(&self, action: &'a Action) -> Option<Field<'a>> {
        match self {
            Accessor::Id => Some(Field::Text(&action.id)),
            Accessor::Namespace => Some(Field::Text(&action.namespace)),
            Accessor::Tenant => Some(Field::Text(&action.tenant)),
            Accessor::ActionType => Some(Field::Text(&action.action_type)),
            Accessor::Provider => action.provider.as_deref().map(Field::Text),
            Accessor::DedupKey => action.dedup_key.as_deref().map(Field::Text),
            Accessor::CreatedAt => action.created_at.as_deref().map(Field::Text),
            Accessor::MetadataKey(key) => action.metadata.get(key).map(|v| Field::Text(v)),
            Accessor::Nothing => None,
            Accessor::Payload(segments) => walk(&action.payload, segments).map(Field::Json),
        }
    }
}

/// The value at `segments` below `value`, `None` when there is none. Payloads, chain step
/// results and templates all read paths this way.
pub fn walk<'a>(mut value: &'a Value, segments: &[PathSegment]) -> Option<&'a Value> {
    for segment in segments {
        value = match (segment, value) {
            (PathSegment::Key(key), Value::Object(map)) => map.get(key)?,
            (PathSegment::Index(i), Value::Array(items)) => items.get(*i)?,
            // `payload.items.0` written on an object means the key "0".
            (PathSegment::Index(i), Value::Object(map)) => map.get(&i.to_string())?,
            _ => return None,
        };
    }
    Some(value)
}
