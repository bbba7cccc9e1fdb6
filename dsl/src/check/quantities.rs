//! Durations that must not be zero and counts that must be at least one (or, for an expected
//! number of calls, not negative).

use super::Context;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::FileId;
use crate::syntax::ast::{ActionKind, Duration, Int, Item, Literal, LiteralKind, TestEntry};

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for (file, item) in cx.items() {
        match item {
            Item::Rule(rule) => match &rule.action.kind {
                ActionKind::Dedup { within, .. } => duration(file, within, "`dedup within`", out),
                ActionKind::Throttle { limit, per, .. } => {
                    count(file, limit, "a throttle limit", 1, out);
                    duration(file, per, "a throttle window", out);
                }
                ActionKind::Group { wait, max, .. } => {
                    duration(file, wait, "a group's wait", out);
                    if let Some(max) = max {
                        count(file, max, "a group's `max`", 1, out);
                    }
                }
                ActionKind::Schedule { after } => duration(file, after, "`schedule after`", out),
                _ => {}
            },
            Item::Chain(chain) => {
                if let Some(timeout) = &chain.timeout {
                    duration(file, timeout, "a chain timeout", out);
                }
                for retry in chain.steps.iter().filter_map(|s| s.retry.as_ref()) {
                    count(file, &retry.count, "a retry count", 1, out);
                    if let Some(backoff) = &retry.backoff {
                        duration(file, backoff, "a retry backoff", out);
                    }
                }
            }
            Item::Quota(quota) => {
                count(file, &quota.limit, "a quota limit", 1, out);
                duration(file, &quota.per, "a quota window", out);
            }
            Item::Test(test) => {
                for entry in &test.entries {
                    if let TestEntry::ExpectCalls { count: n, .. } = entry {
                        count(file, n, "an expected number of calls", 0, out);
                    }
                }
            }
            _ => {}
        }
    }
}

pub(super) fn duration(file: FileId, d: &Duration, what: &str, out: &mut Vec<Diagnostic>) {
    if d.ms == 0 {
        out.push(zero_duration(file, d.span.clone(), &d.text, what));
    }
}

/// Zero durations anywhere inside a literal (a value compared with, a list, a setting).
pub(super) fn literal(file: FileId, value: &Literal, out: &mut Vec<Diagnostic>) {
    match &value.kind {
        LiteralKind::Duration { ms: 0, text } => {
            out.push(zero_duration(file, value.span.clone(), text, "a duration"))
        }
        LiteralKind::List(items) => items.iter().for_each(|i| literal(file, i, out)),
        _ => {}
    }
}

fn zero_duration(
    file: FileId,
    span: crate::syntax::ast::Span,
    text: &str,
    what: &str,
) -> Diagnostic {
    Diagnostic::new(
        Code::BadDuration,
        file,
        span,
        format!("{what} cannot be zero (`{text}`)"),
    )
    .with_hint("durations are never zero; write at least `1ms`")
}

pub(super) fn count(file: FileId, n: &Int, what: &str, min: i64, out: &mut Vec<Diagnostic>) {
    if n.value < min {
        out.push(
            Diagnostic::new(
                Code::BadCount,
                file,
                n.span.clone(),
                format!("{what} must be at least {min}, not {}", n.value),
            )
            .with_hint(format!("write a whole number of {min} or more")),
        );
    }
}
