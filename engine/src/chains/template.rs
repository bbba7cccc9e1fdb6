//! Step payload templates: `{{...}}` references compiled once per plan into a tree that renders
//! a payload without parsing anything per event.
//!
//! A string that is exactly one reference becomes the referenced JSON value, type kept (`92`
//! stays a number, `{{origin.payload}}` an object); in any other string each reference is
//! interpolated as text (strings as they are, other values as JSON). A reference to a value
//! that is absent renders as `null` alone, and as empty text inside a string.

use crate::action::Action;
use crate::eval::{walk, Accessor};
use acteon_dsl::plan::{FieldPath, FieldRoot, PathSegment};
use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("`{{{{` without a closing `}}}}` in \"{0}\"")]
    Unclosed(String),
    #[error("unknown template reference `{{{{{0}}}}}`")]
    Unknown(String),
}

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// No reference below: rendered by cloning.
    Constant(Value),
    /// A string that is exactly one reference: keeps the referenced value's JSON type.
    Reference(Reference),
    Text(Vec<Piece>),
    Array(Vec<Node>),
    Object(Vec<(Vec<Piece>, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Reference(Reference),
}

/// What a `{{...}}` refers to, resolved at compile time.
#[derive(Debug, Clone, PartialEq)]
enum Reference {
    /// `origin.FIELD`, `origin.payload.x`, `origin.metadata.k`.
    Origin(Accessor),
    /// `origin.metadata`: the whole object.
    OriginMetadata,
    /// `prev.body[.x]`.
    Prev(Vec<PathSegment>),
    /// `steps.NAME.body[.x]`, NAME resolved to its step index.
    Step(usize, Vec<PathSegment>),
    /// `step_result`: the previous step's whole body.
    StepResult,
    ChainId,
    StepIndex,
}

/// What a template reads while rendering one step's payload.
pub struct Context<'a> {
    pub origin: &'a Action,
    /// The body of the step that ran before this one (following branches), if any.
    pub prev: Option<&'a Value>,
    /// The body of each step of the chain that has run, by step index.
    pub steps: &'a [Option<Value>],
    pub chain_id: &'a str,
    pub step_index: usize,
}

impl Template {
    /// `step_index`: how a `steps.NAME` reference finds the step's index in its chain.
    pub fn compile(
        payload: &Value,
        step_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<Template, TemplateError> {
        Ok(Template {
            root: node(payload, step_index)?,
        })
    }

    pub fn render(&self, cx: &Context<'_>) -> Value {
        render(&self.root, cx)
    }
}

fn node(value: &Value, step_index: &dyn Fn(&str) -> Option<usize>) -> Result<Node, TemplateError> {
    let compiled = match value {
        Value::String(text) => {
            let mut pieces = pieces(text, step_index)?;
            match pieces.as_slice() {
                [] | [Piece::Literal(_)] => Node::Constant(value.clone()),
                [Piece::Reference(_)] => match pieces.pop() {
                    Some(Piece::Reference(reference)) => Node::Reference(reference),
                    _ => unreachable!("matched a single reference"),
                },
                _ => Node::Text(pieces),
            }
        }
        Value::Array(items) => Node::Array(
            items
                .iter()
                .map(|item| node(item, step_index))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Node::Object(
            fields
                .iter()
                .map(|(key, value)| Ok((pieces(key, step_index)?, node(value, step_index)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => Node::Constant(other.clone()),
    };
    // A subtree without references renders by one clone instead of a walk.
    Ok(match compiled {
        Node::Array(items) if items.iter().all(|n| matches!(n, Node::Constant(_))) => {
            Node::Constant(value.clone())
        }
        Node::Object(fields)
            if fields.iter().all(|(key, n)| {
                matches!(n, Node::Constant(_)) && key.iter().all(|p| matches!(p, Piece::Literal(_)))
            }) =>
        {
            Node::Constant(value.clone())
        }
        other => other,
    })
}

/// The literal text and references of one string.
fn pieces(
    text: &str,
    step_index: &dyn Fn(&str) -> Option<usize>,
) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            return Err(TemplateError::Unclosed(text.to_owned()));
        };
        if open > 0 {
            pieces.push(Piece::Literal(rest[..open].to_owned()));
        }
        let inner = &rest[open + 2..open + 2 + close];
        pieces.push(Piece::Reference(reference(inner.trim(), step_index)?));
        rest = &rest[open + 2 + close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_owned()));
    }
    Ok(pieces)
}

fn reference(
    inner: &str,
    step_index: &dyn Fn(&str) -> Option<usize>,
) -> Result<Reference, TemplateError> {
    let unknown = || TemplateError::Unknown(inner.to_owned());
    let mut parts = inner.split('.');
    let root = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let body_path = |rest: &[&str]| match rest.split_first() {
        Some((&"body", path)) => Ok(segments(path)),
        _ => Err(unknown()),
    };
    match root {
        "origin" => {
            let (&field, path) = rest.split_first().ok_or_else(unknown)?;
            let root = FieldRoot::from_name(field).ok_or_else(unknown)?;
            if !root.has_children() && !path.is_empty() {
                return Err(unknown());
            }
            if root == FieldRoot::Metadata && path.is_empty() {
                return Ok(Reference::OriginMetadata);
            }
            Ok(Reference::Origin(Accessor::compile(&FieldPath {
                root,
                segments: segments(path),
            })))
        }
        "prev" => Ok(Reference::Prev(body_path(&rest)?)),
        "steps" => {
            let (&name, path) = rest.split_first().ok_or_else(unknown)?;
            let index = step_index(name).ok_or_else(unknown)?;
            Ok(Reference::Step(index, body_path(path)?))
        }
        "step_result" if rest.is_empty() => Ok(Reference::StepResult),
        "chain_id" if rest.is_empty() => Ok(Reference::ChainId),
        "step_index" if rest.is_empty() => Ok(Reference::StepIndex),
        _ => Err(unknown()),
    }
}

fn segments(path: &[&str]) -> Vec<PathSegment> {
    path.iter()
        .map(|part| match part.parse() {
            Ok(index) => PathSegment::Index(index),
            Err(_) => PathSegment::Key((*part).to_owned()),
        })
        .collect()
}

fn render(node: &Node, cx: &Context<'_>) -> Value {
    match node {
        Node::Constant(value) => value.clone(),
        Node::Reference(reference) => resolve(reference, cx).map_or(Value::Null, Cow::into_owned),
        Node::Text(pieces) => Value::String(text(pieces, cx)),
        Node::Array(items) => Value::Array(items.iter().map(|n| render(n, cx)).collect()),
        Node::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, n)| (text(key, cx), render(n, cx)))
                .collect::<Map<_, _>>(),
        ),
    }
}

fn text(pieces: &[Piece], cx: &Context<'_>) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(literal) => out.push_str(literal),
            Piece::Reference(reference) => match resolve(reference, cx).as_deref() {
                None => {}
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
            },
        }
    }
    out
}

fn resolve<'a>(reference: &Reference, cx: &Context<'a>) -> Option<Cow<'a, Value>> {
    match reference {
        Reference::Origin(accessor) => accessor.read(cx.origin).map(|field| match field {
            crate::eval::Field::Json(value) => Cow::Borrowed(value),
            text => Cow::Owned(text.to_json()),
        }),
        Reference::OriginMetadata => Some(Cow::Owned(Value::Object(
            cx.origin
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ))),
        Reference::Prev(path) => cx.prev.and_then(|body| walk(body, path)).map(Cow::Borrowed),
        Reference::Step(index, path) => cx
            .steps
            .get(*index)
            .and_then(Option::as_ref)
            .and_then(|body| walk(body, path))
            .map(Cow::Borrowed),
        Reference::StepResult => cx.prev.map(Cow::Borrowed),
        Reference::ChainId => Some(Cow::Owned(Value::String(cx.chain_id.to_owned()))),
        Reference::StepIndex => Some(Cow::Owned(Value::from(cx.step_index))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Position;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn origin() -> Action {
        Action {
            id: "a1".into(),
            namespace: "iot".into(),
            tenant: "smartbuilding-hq".into(),
            action_type: "sensor_reading".into(),
            provider: Some("metrics-queue".into()),
            payload: json!({ "value": 92, "device": { "id": "d-7" }, "tags": ["x", "y"] }),
            metadata: BTreeMap::from([("site".to_owned(), "hq".to_owned())]),
            dedup_key: Some("k1".into()),
            created_at: Some("2026-11-28T09:00:00Z".into()),
            event_time_ms: 0,
            position: Position::Line(1),
        }
    }

    fn steps(name: &str) -> Option<usize> {
        ["normalize", "detect"].iter().position(|s| *s == name)
    }

    fn render_with(payload: Value) -> Value {
        let origin = origin();
        let normalize = json!({ "logged": true, "score": 0.5 });
        let detect = json!({ "anomaly": false, "reason": "ok" });
        let results = [Some(normalize), Some(detect.clone())];
        let cx = Context {
            origin: &origin,
            prev: Some(&detect),
            steps: &results,
            chain_id: "a1/telemetry",
            step_index: 2,
        };
        Template::compile(&payload, &steps).unwrap().render(&cx)
    }

    #[test]
    fn a_lone_reference_keeps_its_json_type() {
        assert_eq!(
            render_with(json!({
                "n": "{{origin.payload.value}}",
                "o": "{{origin.payload.device}}",
                "l": "{{ origin.payload.tags }}",
                "b": "{{prev.body.anomaly}}",
                "f": "{{steps.normalize.body.score}}",
                "i": "{{step_index}}",
                "missing": "{{origin.payload.nope}}",
            })),
            json!({ "n": 92, "o": { "id": "d-7" }, "l": ["x", "y"], "b": false, "f": 0.5,
                    "i": 2, "missing": null })
        );
    }

    #[test]
    fn references_inside_text_are_interpolated() {
        assert_eq!(
            render_with(json!({
                "msg": "{{origin.payload.device.id}} read {{origin.payload.value}} ({{prev.body.reason}})",
                "gone": "<{{origin.payload.nope}}>",
                "obj": "d={{origin.payload.device}}",
                "{{origin.tenant}}-key": "literal",
            })),
            json!({ "msg": "d-7 read 92 (ok)", "gone": "<>", "obj": "d={\"id\":\"d-7\"}",
                    "smartbuilding-hq-key": "literal" })
        );
    }

    #[test]
    fn every_root_resolves() {
        assert_eq!(
            render_with(json!([
                "{{origin.id}}",
                "{{origin.namespace}}",
                "{{origin.tenant}}",
                "{{origin.action_type}}",
                "{{origin.provider}}",
                "{{origin.metadata.site}}",
                "{{origin.metadata}}",
                "{{origin.dedup_key}}",
                "{{origin.created_at}}",
                "{{origin.payload.tags.1}}",
                "{{prev.body}}",
                "{{steps.detect.body}}",
                "{{step_result}}",
                "{{chain_id}}",
                "{{step_index}}",
                7,
                true
            ])),
            json!([
                "a1", "iot", "smartbuilding-hq", "sensor_reading", "metrics-queue", "hq",
                { "site": "hq" }, "k1", "2026-11-28T09:00:00Z", "y",
                { "anomaly": false, "reason": "ok" }, { "anomaly": false, "reason": "ok" },
                { "anomaly": false, "reason": "ok" }, "a1/telemetry", 2, 7, true
            ])
        );
    }

    #[test]
    fn before_any_step_prev_and_step_result_are_absent() {
        let origin = origin();
        let cx = Context {
            origin: &origin,
            prev: None,
            steps: &[None, None],
            chain_id: "c",
            step_index: 0,
        };
        let template = Template::compile(
            &json!({ "p": "{{prev.body.x}}", "r": "[{{step_result}}]" }),
            &steps,
        )
        .unwrap();
        assert_eq!(template.render(&cx), json!({ "p": null, "r": "[]" }));
    }

    #[test]
    fn constants_compile_to_one_clone() {
        let template = Template::compile(&json!({ "a": [1, { "b": "c" }] }), &steps).unwrap();
        assert_eq!(
            template.root,
            Node::Constant(json!({ "a": [1, { "b": "c" }] }))
        );
    }

    #[test]
    fn bad_references_are_errors() {
        for (text, error) in [
            (
                "{{origin.payload",
                TemplateError::Unclosed("{{origin.payload".into()),
            ),
            (
                "{{origin.colour}}",
                TemplateError::Unknown("origin.colour".into()),
            ),
            (
                "{{origin.id.x}}",
                TemplateError::Unknown("origin.id.x".into()),
            ),
            (
                "{{steps.nope.body}}",
                TemplateError::Unknown("steps.nope.body".into()),
            ),
            (
                "{{prev.success}}",
                TemplateError::Unknown("prev.success".into()),
            ),
            (
                "{{chain_id.x}}",
                TemplateError::Unknown("chain_id.x".into()),
            ),
        ] {
            assert_eq!(
                Template::compile(&json!(text), &steps),
                Err(error),
                "{text}"
            );
        }
    }
}
