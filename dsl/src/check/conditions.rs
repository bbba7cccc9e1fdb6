//! Field paths (in conditions, `by` keys and step branches), regexes, and the operands of
//! operators that only take strings.

use super::{quantities, suggestion, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::FieldRoot;
use crate::source::FileId;
use crate::syntax::ast::{
    ActionKind, Comparand, Expr, Item, Literal, LiteralKind, Operand, Path, TestOp,
};

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for (file, item) in cx.items() {
        match item {
            Item::Rule(rule) => {
                if let Some(condition) = &rule.condition {
                    expr(file, condition, out);
                }
                match &rule.action.kind {
                    ActionKind::Dedup { by: Some(by), .. }
                    | ActionKind::Throttle { by: Some(by), .. } => field(file, by, out),
                    ActionKind::Group { by, .. } => by.iter().for_each(|p| field(file, p, out)),
                    _ => {}
                }
            }
            Item::Chain(chain) => {
                for branch in chain.steps.iter().flat_map(|s| &s.branches) {
                    branch_field(file, &branch.field, out);
                    if let Some(value) = &branch.value {
                        quantities::literal(file, value, out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn expr(file: FileId, e: &Expr, out: &mut Vec<Diagnostic>) {
    match e {
        Expr::Or(parts, _) | Expr::And(parts, _) => parts.iter().for_each(|p| expr(file, p, out)),
        Expr::Not(inner, _) | Expr::Paren(inner, _) => expr(file, inner, out),
        Expr::Test(test) => {
            // A row's key and field are the tables check's.
            if let Operand::Field(path) = &test.field {
                field(file, path, out);
            }
            match &test.op {
                TestOp::Compare(_, Comparand::Row(_)) => {}
                TestOp::Compare(_, Comparand::Literal(value))
                | TestOp::In(value)
                | TestOp::Contains(value) => quantities::literal(file, value, out),
                TestOp::StartsWith(value) | TestOp::EndsWith(value) => string(file, value, out),
                TestOp::Matches(regex) => {
                    if let Err(error) = regex::Regex::new(&regex.pattern) {
                        out.push(
                            Diagnostic::new(
                                Code::BadRegex,
                                file,
                                regex.span.clone(),
                                format!("invalid regex /{}/", regex.pattern),
                            )
                            .with_hint(regex_reason(&error)),
                        );
                    }
                }
                TestOp::Exists => {}
            }
        }
    }
}

/// The regex crate's explanation, which names the offending part, on one line.
fn regex_reason(error: &regex::Error) -> String {
    match error {
        regex::Error::Syntax(text) => text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("error:"))
            .map(str::trim)
            .next()
            .unwrap_or(text.trim())
            .to_string(),
        other => other.to_string(),
    }
}

fn string(file: FileId, value: &Literal, out: &mut Vec<Diagnostic>) {
    if !matches!(value.kind, LiteralKind::String(_)) {
        out.push(
            Diagnostic::new(
                Code::BadSettingValue,
                file,
                value.span.clone(),
                "`starts_with` and `ends_with` compare with a string",
            )
            .with_hint("write the value in quotes"),
        );
    }
}

/// The fields a provider call carries, so the only ones a provider setting can read (a
/// `kafka` provider's record `key`).
const CALL_ROOTS: [FieldRoot; 5] = [
    FieldRoot::Id,
    FieldRoot::Namespace,
    FieldRoot::Tenant,
    FieldRoot::ActionType,
    FieldRoot::Payload,
];

/// A field a provider reads from its call: an action field ([`field`]) among [`CALL_ROOTS`].
pub(super) fn call_field(file: FileId, path: &Path, out: &mut Vec<Diagnostic>) {
    let before = out.len();
    field(file, path, out);
    if out.len() > before {
        return;
    }
    if let Some(root) = FieldRoot::from_name(&path.root.text) {
        if !CALL_ROOTS.contains(&root) {
            let roots: Vec<&str> = CALL_ROOTS.map(FieldRoot::name).to_vec();
            out.push(
                Diagnostic::new(
                    Code::BadFieldPath,
                    file,
                    path.root.span.clone(),
                    format!("`{}` is not sent to providers", root.name()),
                )
                .with_hint(format!(
                    "a provider's call holds only {} (and fields below payload)",
                    roots.join(", ")
                )),
            );
        }
    }
}

/// An action field: a known root, and segments only below `payload` or `metadata`.
pub(super) fn field(file: FileId, path: &Path, out: &mut Vec<Diagnostic>) {
    match FieldRoot::from_name(&path.root.text) {
        None => {
            let hint = suggestion(&path.root.text, FieldRoot::ALL.map(FieldRoot::name))
                .unwrap_or_else(|| {
                    let roots: Vec<&str> = FieldRoot::ALL.map(FieldRoot::name).to_vec();
                    format!("a field path starts with one of: {}", roots.join(", "))
                });
            out.push(
                Diagnostic::new(
                    Code::BadFieldPath,
                    file,
                    path.root.span.clone(),
                    format!("unknown field `{}`", path.root.text),
                )
                .with_hint(hint),
            );
        }
        Some(root) if !root.has_children() && !path.segments.is_empty() => {
            out.push(below_leaf(
                file,
                path,
                root.name(),
                "payload.x or metadata.x",
            ));
        }
        Some(_) => {}
    }
}

/// A branch field: `success`, `body`, or a path below `body`.
fn branch_field(file: FileId, path: &Path, out: &mut Vec<Diagnostic>) {
    match path.root.text.as_str() {
        "body" => {}
        "success" if path.segments.is_empty() => {}
        "success" => out.push(below_leaf(file, path, "success", "body.x")),
        other => {
            let hint = suggestion(other, ["success", "body"])
                .unwrap_or_else(|| "a branch tests `success`, `body` or `body.x`".to_string());
            out.push(
                Diagnostic::new(
                    Code::BadFieldPath,
                    file,
                    path.root.span.clone(),
                    format!("unknown step result field `{other}`"),
                )
                .with_hint(hint),
            );
        }
    }
}

fn below_leaf(file: FileId, path: &Path, root: &str, instead: &str) -> Diagnostic {
    let first = &path.segments[0].span;
    let last = &path.segments[path.segments.len() - 1].span;
    Diagnostic::new(
        Code::BadFieldPath,
        file,
        first.start..last.end,
        format!("`{root}` has no fields below it"),
    )
    .with_hint(format!(
        "only payload and metadata have fields; did you mean {instead}?"
    ))
}
