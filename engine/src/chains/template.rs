//! Step payload templates: `{{...}}` references compiled once per plan into a tree that writes
//! a payload's JSON text without parsing anything per event.
//!
//! A string that is exactly one reference becomes the referenced JSON value, type kept (`92`
//! stays a number, `{{origin.payload}}` an object); in any other string each reference is
//! interpolated as text (strings as they are, other values as JSON). A reference to a value
//! that is absent renders as `null` alone, and as empty text inside a string. Subtrees without
//! references are rendered once, at compile time, and copied.

use crate::action::Action;
use crate::eval::{walk, Accessor, Field, PlanPaths};
use crate::json;
use acteon_dsl::plan::{FieldPath, FieldRoot, PathSegment, RowInsert};
use serde_json::Value;
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
    /// No reference below: its JSON text, rendered once.
    Constant(String),
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
    /// `origin.payload`: the whole payload.
    OriginPayload,
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
    /// `step_index`: how a `steps.NAME` reference finds the step's index in its chain;
    /// `paths`: the plan's payload paths, which `origin.payload.x` references read; `rows`: the
    /// rows' values written in the payload (of the origin action's lookups), which render as
    /// the referenced value does (`null` when missing, without a default).
    pub fn compile(
        payload: &Value,
        rows: &[RowInsert],
        step_index: &dyn Fn(&str) -> Option<usize>,
        paths: &PlanPaths,
    ) -> Result<Template, TemplateError> {
        let mut compiler = Compiler {
            step_index,
            paths: Some(paths),
            found: None,
            rows,
            at: Vec::new(),
        };
        Ok(Template {
            root: compiler.node(payload)?,
        })
    }

    /// The payload's JSON text.
    pub fn render(&self, cx: &Context<'_>) -> String {
        let mut out = Vec::with_capacity(128);
        write(&self.root, cx, &mut out);
        // Only whole strings and JSON text were written.
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Every `origin.payload.x` path the templates in `payload` read (errors are the checker's
/// and [`Template::compile`]'s to report).
pub fn origin_payload_paths(payload: &Value, add: &mut dyn FnMut(Vec<PathSegment>)) {
    let mut compiler = Compiler {
        step_index: &|_| Some(0),
        paths: None,
        found: Some(add),
        rows: &[],
        at: Vec::new(),
    };
    let _ = compiler.node(payload);
}

struct Compiler<'c> {
    step_index: &'c dyn Fn(&str) -> Option<usize>,
    /// `None` while only collecting paths.
    paths: Option<&'c PlanPaths>,
    found: Option<&'c mut dyn FnMut(Vec<PathSegment>)>,
    rows: &'c [RowInsert],
    /// Where the node being compiled stands in the payload.
    at: Vec<PathSegment>,
}

impl Compiler<'_> {
    fn node(&mut self, value: &Value) -> Result<Node, TemplateError> {
        if let Some(row) = self.rows.iter().find(|r| r.at == self.at) {
            let accessor = match self.paths {
                Some(paths) => Accessor::row(&row.value, paths),
                None => Accessor::Nothing,
            };
            return Ok(Node::Reference(Reference::Origin(accessor)));
        }
        let compiled = match value {
            Value::String(text) => {
                let mut pieces = self.pieces(text)?;
                match pieces.as_slice() {
                    [] | [Piece::Literal(_)] => Node::Constant(value.to_string()),
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
                    .enumerate()
                    .map(|(index, item)| self.below(PathSegment::Index(index), item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(fields) => Node::Object(
                fields
                    .iter()
                    .map(|(key, value)| {
                        let node = self.below(PathSegment::Key(key.clone()), value)?;
                        Ok((self.pieces(key)?, node))
                    })
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => Node::Constant(other.to_string()),
        };
        // A subtree without references renders by one copy instead of a walk.
        Ok(match compiled {
            Node::Array(items) if items.iter().all(|n| matches!(n, Node::Constant(_))) => {
                Node::Constant(value.to_string())
            }
            Node::Object(fields)
                if fields.iter().all(|(key, n)| {
                    matches!(n, Node::Constant(_))
                        && key.iter().all(|p| matches!(p, Piece::Literal(_)))
                }) =>
            {
                Node::Constant(value.to_string())
            }
            other => other,
        })
    }

    /// The node of `value`, which stands at `segment` below the node being compiled.
    fn below(&mut self, segment: PathSegment, value: &Value) -> Result<Node, TemplateError> {
        self.at.push(segment);
        let node = self.node(value);
        self.at.pop();
        node
    }

    /// The literal text and references of one string.
    fn pieces(&mut self, text: &str) -> Result<Vec<Piece>, TemplateError> {
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
            pieces.push(Piece::Reference(self.reference(inner.trim())?));
            rest = &rest[open + 2 + close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_owned()));
        }
        Ok(pieces)
    }

    fn reference(&mut self, inner: &str) -> Result<Reference, TemplateError> {
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
                match (root, path.is_empty()) {
                    (FieldRoot::Metadata, true) => return Ok(Reference::OriginMetadata),
                    (FieldRoot::Payload, true) => return Ok(Reference::OriginPayload),
                    _ => {}
                }
                let path = FieldPath {
                    root,
                    segments: segments(path),
                };
                if let (FieldRoot::Payload, Some(found)) = (root, self.found.as_mut()) {
                    found(path.segments.clone());
                }
                let accessor = match self.paths {
                    Some(paths) => Accessor::compile(&path, paths),
                    None => Accessor::Nothing,
                };
                Ok(Reference::Origin(accessor))
            }
            "prev" => Ok(Reference::Prev(body_path(&rest)?)),
            "steps" => {
                let (&name, path) = rest.split_first().ok_or_else(unknown)?;
                let index = (self.step_index)(name).ok_or_else(unknown)?;
                Ok(Reference::Step(index, body_path(path)?))
            }
            "step_result" if rest.is_empty() => Ok(Reference::StepResult),
            "chain_id" if rest.is_empty() => Ok(Reference::ChainId),
            "step_index" if rest.is_empty() => Ok(Reference::StepIndex),
            _ => Err(unknown()),
        }
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

fn write(node: &Node, cx: &Context<'_>, out: &mut Vec<u8>) {
    match node {
        Node::Constant(text) => out.extend_from_slice(text.as_bytes()),
        Node::Reference(reference) => match resolve(reference, cx) {
            Some(field) => field.write_json(out),
            None => out.extend_from_slice(b"null"),
        },
        Node::Text(pieces) => json::string(out, &text(pieces, cx)),
        Node::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, cx, out);
            }
            out.push(b']');
        }
        Node::Object(fields) => {
            out.push(b'{');
            for (i, (key, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json::key(out, &text(key, cx));
                write(value, cx, out);
            }
            out.push(b'}');
        }
    }
}

fn text<'a>(pieces: &'a [Piece], cx: &Context<'_>) -> Cow<'a, str> {
    if let [Piece::Literal(literal)] = pieces {
        return Cow::Borrowed(literal);
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(literal) => out.push_str(literal),
            Piece::Reference(reference) => {
                if let Some(field) = resolve(reference, cx) {
                    field.push_key(&mut out);
                }
            }
        }
    }
    Cow::Owned(out)
}

fn resolve<'a>(reference: &'a Reference, cx: &Context<'a>) -> Option<Field<'a>> {
    match reference {
        Reference::Origin(accessor) => accessor.read(cx.origin),
        Reference::OriginPayload => Some(Field::Raw(cx.origin.payload.text())),
        Reference::OriginMetadata => Some(Field::Raw(cx.origin.metadata.text())),
        Reference::Prev(path) => cx.prev.and_then(|body| walk(body, path)).map(Field::Json),
        Reference::Step(index, path) => cx
            .steps
            .get(*index)
            .and_then(Option::as_ref)
            .and_then(|body| walk(body, path))
            .map(Field::Json),
        Reference::StepResult => cx.prev.map(Field::Json),
        Reference::ChainId => Some(Field::Text(Cow::Borrowed(cx.chain_id))),
        Reference::StepIndex => Some(Field::Number(cx.step_index.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Metadata, Position};
    use crate::payload::Payload;
    use serde_json::json;

    /// The plan's paths, as a plan made of `payload`'s template would have them.
    fn paths_of(payload: &Value) -> PlanPaths {
        let mut found = Vec::new();
        origin_payload_paths(payload, &mut |path| found.push(path));
        PlanPaths::from_paths(found)
    }

    fn origin(paths: &PlanPaths) -> Action {
        Action {
            id: "a1".into(),
            namespace: "iot".into(),
            tenant: "smartbuilding-hq".into(),
            action_type: "sensor_reading".into(),
            provider: Some("metrics-queue".into()),
            payload: Payload::from_value(
                json!({ "value": 92, "device": { "id": "d-7" }, "tags": ["x", "y"] }),
                paths.set(),
            ),
            metadata: Metadata::from_entries([("site", "hq")]),
            dedup_key: Some("k1".into()),
            created_at: Some("2026-11-28T09:00:00Z".into()),
            event_time_ms: 0,
            position: Position::Line(1),
            rows: Default::default(),
        }
    }

    fn steps(name: &str) -> Option<usize> {
        ["normalize", "detect"].iter().position(|s| *s == name)
    }

    fn render_with(payload: Value) -> Value {
        let paths = paths_of(&payload);
        let origin = origin(&paths);
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
        let text = Template::compile(&payload, &[], &steps, &paths)
            .unwrap()
            .render(&cx);
        serde_json::from_str(&text).unwrap()
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
        let origin = origin(&PlanPaths::none());
        let cx = Context {
            origin: &origin,
            prev: None,
            steps: &[None, None],
            chain_id: "c",
            step_index: 0,
        };
        let template = Template::compile(
            &json!({ "p": "{{prev.body.x}}", "r": "[{{step_result}}]" }),
            &[],
            &steps,
            &PlanPaths::none(),
        )
        .unwrap();
        assert_eq!(template.render(&cx), r#"{"p":null,"r":"[]"}"#);
    }

    #[test]
    fn constants_compile_to_one_clone() {
        let template = Template::compile(
            &json!({ "a": [1, { "b": "c" }] }),
            &[],
            &steps,
            &PlanPaths::none(),
        )
        .unwrap();
        assert_eq!(
            template.root,
            Node::Constant(r#"{"a":[1,{"b":"c"}]}"#.into())
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
                Template::compile(&json!(text), &[], &steps, &PlanPaths::none()),
                Err(error),
                "{text}"
            );
        }
    }
}
