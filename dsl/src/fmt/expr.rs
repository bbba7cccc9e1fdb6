//! Conditions, field paths and rule actions on one line each (breaking a long condition is the
//! printer's job, since it needs the comments around it).

use super::json::{literal, quote, template};
use crate::syntax::ast::{
    Action, ActionKind, BranchOpDecl, Comparand, CompareOp, Expr, Operand, Path, PathSegment,
    PathSegmentKind, RowValue, Test, TestOp,
};

/// `expr` flat on one line starting at `column` (only object literals ever span lines).
pub(super) fn expr(expr: &Expr, indent: usize, column: usize) -> String {
    match expr {
        Expr::Or(operands, _) => join(operands, " or ", indent, column),
        Expr::And(operands, _) => join(operands, " and ", indent, column),
        Expr::Not(inner, _) => format!("not {}", self::expr(inner, indent, column + 4)),
        Expr::Paren(inner, _) => format!("({})", self::expr(inner, indent, column + 1)),
        Expr::Test(t) => test(t, indent, column),
    }
}

fn join(operands: &[Expr], separator: &str, indent: usize, column: usize) -> String {
    let mut out = String::new();
    for (i, operand) in operands.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(&expr(operand, indent, column + out.len()));
    }
    out
}

fn test(test: &Test, indent: usize, column: usize) -> String {
    let field = match &test.field {
        Operand::Field(field) => path(field),
        Operand::Row(row) => row_value(row),
    };
    let (op, value) = match &test.op {
        TestOp::Compare(op, Comparand::Row(row)) => {
            return format!("{field} {} {}", compare(*op), row_value(row));
        }
        TestOp::Compare(op, Comparand::Literal(value)) => (compare(*op), Some(value)),
        TestOp::In(value) => ("in", Some(value)),
        TestOp::Contains(value) => ("contains", Some(value)),
        TestOp::StartsWith(value) => ("starts_with", Some(value)),
        TestOp::EndsWith(value) => ("ends_with", Some(value)),
        TestOp::Matches(regex) => {
            return format!("{field} matches /{}/", regex.pattern.replace('/', "\\/"));
        }
        TestOp::Exists => return format!("{field} exists"),
    };
    let head = format!("{field} {op}");
    match value {
        Some(value) => {
            let value = literal(value, indent, column + head.len() + 1);
            format!("{head} {value}")
        }
        None => head,
    }
}

pub(super) fn compare(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "==",
        CompareOp::Ne => "!=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
    }
}

pub(super) fn branch_op(op: BranchOpDecl) -> &'static str {
    match op {
        BranchOpDecl::Compare(op) => compare(op),
        BranchOpDecl::Contains => "contains",
        BranchOpDecl::Exists => "exists",
    }
}

pub(crate) fn path(path: &Path) -> String {
    let mut out = path.root.text.clone();
    push_segments(&mut out, &path.segments);
    out
}

fn push_segments(out: &mut String, segments: &[PathSegment]) {
    for segment in segments {
        out.push('.');
        match &segment.kind {
            PathSegmentKind::Key(key) => out.push_str(key),
            PathSegmentKind::QuotedKey(key) => out.push_str(&quote(key)),
            PathSegmentKind::Index(index) => out.push_str(&index.to_string()),
        }
    }
}

/// `devices[payload.device_id].max_temp ?? 85` (a default is always one line).
pub(super) fn row_value(value: &RowValue) -> String {
    let row = &value.row;
    let mut out = format!("{}[{}]", row.table.text, path(&row.key));
    push_segments(&mut out, &row.field);
    if let Some(default) = &value.default {
        out.push_str(" ?? ");
        out.push_str(&literal(default, 0, usize::MAX / 2));
    }
    out
}

/// The action after `then `, which starts at `column`.
pub(super) fn action(action: &Action, indent: usize, column: usize) -> String {
    let by = |by: &Option<Path>| {
        by.as_ref()
            .map(|p| format!(" by {}", path(p)))
            .unwrap_or_default()
    };
    match &action.kind {
        ActionKind::Suppress => "suppress".to_string(),
        ActionKind::Deny => "deny".to_string(),
        ActionKind::Allow => "allow".to_string(),
        ActionKind::Reroute(provider) => format!("reroute {}", provider.text),
        ActionKind::Chain(chain) => format!("chain {}", chain.text),
        ActionKind::Modify(patch) => format!("modify {}", template(patch, indent, column + 7)),
        ActionKind::Dedup { within, by: key } => format!("dedup within {}{}", within.text, by(key)),
        ActionKind::Throttle {
            limit,
            per,
            by: key,
        } => {
            format!("throttle {} per {}{}", limit.value, per.text, by(key))
        }
        ActionKind::Group { by, wait, max, to } => {
            let paths: Vec<String> = by.iter().map(path).collect();
            let mut out = format!("group by {} wait {}", paths.join(", "), wait.text);
            if let Some(max) = max {
                out.push_str(&format!(" max {}", max.value));
            }
            if let Some(to) = to {
                out.push_str(&format!(" to {}", to.text));
            }
            out
        }
        ActionKind::Schedule { after } => format!("schedule after {}", after.text),
    }
}
