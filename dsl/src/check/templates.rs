//! `{{...}}` references in step payloads. The payload's source text is scanned rather than its
//! parsed JSON so that a diagnostic points at the reference itself.

use super::{suggestion, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::FileId;
use crate::syntax::ast::{Item, Span, StepRun};

const ROOTS: [&str; 6] = [
    "origin",
    "prev",
    "steps",
    "step_result",
    "chain_id",
    "step_index",
];

const ORIGIN_FIELDS: [&str; 9] = [
    "id",
    "namespace",
    "tenant",
    "action_type",
    "provider",
    "dedup_key",
    "created_at",
    "payload",
    "metadata",
];

const KNOWN: &str = "a template refers to origin.FIELD, origin.payload.x, origin.metadata.k, \
                     prev.body[.x], steps.STEP.body[.x], step_result, chain_id or step_index";

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for (file, item) in cx.items() {
        let Item::Chain(chain) = item else { continue };
        let steps: Vec<&str> = chain.steps.iter().map(|s| s.name.text.as_str()).collect();
        for step in &chain.steps {
            if let StepRun::Call { payload, .. } = &step.run {
                let text = cx.text(file);
                let Some(source) = text.get(payload.span.clone()) else {
                    continue;
                };
                for found in scan(source) {
                    let at = payload.span.start;
                    out.push(match found {
                        Found::Unclosed(offset) => unclosed(file, at + offset),
                        Found::Reference { inner, start } => match reference(inner, &steps) {
                            Ok(()) => continue,
                            Err(problem) => problem.diagnostic(file, at + start, inner),
                        },
                    });
                }
            }
        }
    }
}

enum Found<'a> {
    /// `{{` with no `}}` before its string ends, at this offset.
    Unclosed(usize),
    /// The text between `{{` and `}}`, and its offset.
    Reference { inner: &'a str, start: usize },
}

/// Every `{{...}}` inside the JSON strings of `source` (keys included: they are strings too).
fn scan(source: &str) -> Vec<Found<'_>> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        let end = end.min(bytes.len());
        let string = &source[start..end];
        let mut from = 0;
        while let Some(open) = string[from..].find("{{") {
            let open = from + open;
            match string[open + 2..].find("}}") {
                Some(close) => {
                    let inner = &string[open + 2..open + 2 + close];
                    found.push(Found::Reference {
                        inner,
                        start: start + open + 2,
                    });
                    from = open + 2 + close + 2;
                }
                None => {
                    found.push(Found::Unclosed(start + open));
                    break;
                }
            }
        }
        i = end + 1;
    }
    found
}

fn unclosed(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::new(
        Code::MalformedTemplate,
        file,
        at..at + 2,
        "`{{` is not closed by `}}` in the same string",
    )
    .with_hint("close the reference with `}}`, e.g. \"{{origin.payload.value}}\"")
}

/// What is wrong with a reference, and which of its dot-separated parts (by index) is wrong;
/// `None` means the reference as a whole.
struct Problem {
    part: Option<usize>,
    message: String,
    hint: String,
}

impl Problem {
    fn new(part: Option<usize>, message: String, hint: Option<String>) -> Problem {
        Problem {
            part,
            message,
            hint: hint.unwrap_or_else(|| KNOWN.to_string()),
        }
    }

    fn diagnostic(self, file: FileId, start: usize, inner: &str) -> Diagnostic {
        let span = match self.part {
            Some(index) => part_span(inner, index).map(|r| start + r.start..start + r.end),
            None => None,
        }
        .unwrap_or(start - 2..start + inner.len() + 2);
        Diagnostic::new(Code::BadTemplateReference, file, span, self.message).with_hint(self.hint)
    }
}

/// Byte range of the `index`th dot-separated part of `inner`.
fn part_span(inner: &str, index: usize) -> Option<Span> {
    let mut offset = 0;
    for (i, part) in inner.split('.').enumerate() {
        if i == index {
            let trimmed = part.trim_start();
            let lead = part.len() - trimmed.len();
            return Some(offset + lead..offset + lead + trimmed.trim_end().len().max(1));
        }
        offset += part.len() + 1;
    }
    None
}

fn reference(inner: &str, steps: &[&str]) -> Result<(), Problem> {
    let parts: Vec<&str> = inner.trim().split('.').collect();
    if let Some(empty) = parts.iter().position(|p| p.trim().is_empty()) {
        let message = if inner.trim().is_empty() {
            "empty template reference `{{}}`".to_string()
        } else {
            format!("template reference `{}` has an empty part", inner.trim())
        };
        return Err(Problem::new(
            (!inner.trim().is_empty()).then_some(empty),
            message,
            None,
        ));
    }
    let whole = inner.trim();
    match parts.as_slice() {
        ["step_result" | "chain_id" | "step_index"] => Ok(()),
        ["step_result" | "chain_id" | "step_index", ..] => Err(Problem::new(
            Some(1),
            format!("`{}` has no fields below it", parts[0]),
            Some(format!("write `{{{{{}}}}}`", parts[0])),
        )),
        ["origin"] => Err(Problem::new(
            None,
            "`origin` needs a field, e.g. `origin.payload.x`".to_string(),
            None,
        )),
        ["origin", field, rest @ ..] => match ORIGIN_FIELDS.contains(field) {
            false => Err(Problem::new(
                Some(1),
                format!("the origin action has no field `{field}`"),
                suggestion(field, ORIGIN_FIELDS),
            )),
            true if !rest.is_empty() && !matches!(*field, "payload" | "metadata") => {
                Err(Problem::new(
                    Some(2),
                    format!("`origin.{field}` has no fields below it"),
                    Some("only origin.payload and origin.metadata have fields".to_string()),
                ))
            }
            true => Ok(()),
        },
        ["prev", "body", ..] => Ok(()),
        ["prev", ..] => Err(Problem::new(
            parts.get(1).map(|_| 1),
            format!("`{whole}` is not a reference to the previous step's body"),
            Some("write `prev.body` or `prev.body.x`".to_string()),
        )),
        ["steps", name, rest @ ..] => {
            if !steps.contains(name) {
                let hint = suggestion(name, steps.iter().copied())
                    .or_else(|| Some(format!("steps of this chain: {}", steps.join(", "))));
                return Err(Problem::new(
                    Some(1),
                    format!("no step `{name}` in this chain"),
                    hint,
                ));
            }
            match rest.first() {
                Some(&"body") => Ok(()),
                _ => Err(Problem::new(
                    None,
                    format!("`{whole}` is not a reference to a step's body"),
                    Some(format!(
                        "write `steps.{name}.body` or `steps.{name}.body.x`"
                    )),
                )),
            }
        }
        [root, ..] => Err(Problem::new(
            Some(0),
            format!("unknown template root `{root}`"),
            suggestion(root, ROOTS),
        )),
        [] => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{reference, scan, Found};

    #[test]
    fn finds_references_and_unclosed_openings() {
        let found = scan(r#"{ "a": "{{x}} and {{ y }}", "{{k}}": "{{open" }"#);
        let shapes: Vec<String> = found
            .iter()
            .map(|f| match f {
                Found::Unclosed(at) => format!("unclosed@{at}"),
                Found::Reference { inner, start } => format!("{inner}@{start}"),
            })
            .collect();
        assert_eq!(shapes, ["x@10", " y @20", "k@31", "unclosed@38"]);
    }

    #[test]
    fn knows_the_roots() {
        let steps = ["normalize", "archive"];
        for ok in [
            "origin.payload.value",
            "origin.payload",
            "origin.metadata.source",
            "origin.created_at",
            "prev.body",
            "prev.body.items.0",
            "steps.normalize.body.x",
            " step_result ",
            "chain_id",
            "step_index",
        ] {
            assert!(reference(ok, &steps).is_ok(), "{ok}");
        }
        for bad in [
            "origin",
            "origin.payloads",
            "origin.id.x",
            "prev",
            "prev.success",
            "steps.normalise.body",
            "steps.normalize",
            "step_result.x",
            "orgin.payload",
            "",
            "origin..x",
        ] {
            assert!(reference(bad, &steps).is_err(), "{bad}");
        }
    }
}
