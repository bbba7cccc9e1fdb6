//! Rules that can never fire, and rule attributes (`@allow(unreachable)` is the only one).
//!
//! A rule is shadowed by an earlier terminal rule (in evaluation order) whose scope is the same
//! or wider and whose condition is absent or a subset of the later rule's conjuncts: every
//! action the later rule matches, the earlier one has already ended. Conjuncts are compared in
//! their lowered form, so spacing, parentheses and quoting of keys do not matter. A `modify`
//! between the two may change the payload, so a payload test does not shadow across one.

use super::{place, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::{Condition, FieldRoot, Operand};
use crate::source::FileId;
use crate::syntax::ast::{ActionKind, Expr, Item, RuleDecl, ScopeDecl};

struct Rule<'p> {
    file: FileId,
    decl: &'p RuleDecl,
    scope: Option<&'p ScopeDecl>,
    /// `None` when a conjunct does not lower (a bad field path, reported elsewhere).
    conjuncts: Option<Vec<Condition>>,
}

impl Rule<'_> {
    fn is_terminal(&self) -> bool {
        matches!(
            self.decl.action.kind,
            ActionKind::Suppress
                | ActionKind::Deny
                | ActionKind::Allow
                | ActionKind::Reroute(_)
                | ActionKind::Chain(_)
        )
    }

    fn is_modify(&self) -> bool {
        matches!(self.decl.action.kind, ActionKind::Modify(_))
    }

    fn allows_unreachable(&self) -> bool {
        self.decl
            .attributes
            .iter()
            .any(|a| a.name.text == "allow" && a.args.iter().any(|arg| arg.text == "unreachable"))
    }

    fn reads_payload(&self) -> bool {
        self.conjuncts.iter().flatten().any(mentions_payload)
    }
}

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let mut rules: Vec<Rule> = Vec::new();
    for (file, item) in cx.items() {
        if let Item::Rule(decl) = item {
            attributes(file, decl, out);
            rules.push(Rule {
                file,
                decl,
                scope: cx.scope(file),
                conjuncts: decl.condition.as_ref().map_or(Some(Vec::new()), conjuncts),
            });
        }
    }
    rules.sort_by_key(|r| r.decl.priority.value);
    for (later_index, later) in rules.iter().enumerate() {
        if later.allows_unreachable() {
            continue;
        }
        let earlier = &rules[..later_index];
        let shadowing = earlier.iter().enumerate().find(|(index, rule)| {
            let modified_between = rules[index + 1..later_index].iter().any(Rule::is_modify);
            rule.is_terminal()
                && !(modified_between && rule.reads_payload())
                && wider_scope(rule.scope, later.scope)
                && matches!(
                    (&rule.conjuncts, &later.conjuncts),
                    (Some(early), Some(late)) if early.iter().all(|c| late.contains(c))
                )
        });
        if let Some((_, first)) = shadowing {
            out.push(shadowed(cx, later, first));
        }
    }
}

fn shadowed(cx: &Context, later: &Rule, first: &Rule) -> Diagnostic {
    let (code, what) = if later.is_modify() {
        (Code::ModifyUnreachable, "never applies")
    } else {
        (Code::UnreachableRule, "can never fire")
    };
    let name = &later.decl.name;
    let place = place(cx.program, later.file, first.file, &first.decl.name.span);
    Diagnostic::new(
        code,
        later.file,
        name.span.clone(),
        format!(
            "rule `{}` {what}: rule `{}` (priority {}, {place}) runs first and ends every action it would match",
            name.text, first.decl.name.text, first.decl.priority.value
        ),
    )
    .with_label(what)
    .with_secondary(
        first.file,
        first.decl.name.span.clone(),
        format!(
            "priority {}: ends every action `{}` would match",
            first.decl.priority.value, name.text
        ),
    )
    .with_hint(format!(
        "give `{}` a priority below {}, narrow `{}`, or mark it `@allow(unreachable)`",
        name.text, first.decl.priority.value, first.decl.name.text
    ))
}

/// A scope part that is absent matches every value, so it is wider than any given one.
fn wider_scope(earlier: Option<&ScopeDecl>, later: Option<&ScopeDecl>) -> bool {
    let part = |pick: fn(&ScopeDecl) -> Option<&str>| match earlier.and_then(pick) {
        None => true,
        Some(value) => later.and_then(pick) == Some(value),
    };
    part(|s| s.namespace.as_ref().map(|n| n.value.as_str()))
        && part(|s| s.tenant.as_ref().map(|t| t.value.as_str()))
}

fn attributes(file: FileId, rule: &RuleDecl, out: &mut Vec<Diagnostic>) {
    const ONLY: &str = "the only attribute is `@allow(unreachable)`";
    for attribute in &rule.attributes {
        if attribute.name.text != "allow" {
            out.push(
                Diagnostic::new(
                    Code::BadSettingValue,
                    file,
                    attribute.name.span.clone(),
                    format!("unknown attribute `{}`", attribute.name.text),
                )
                .with_hint(ONLY),
            );
            continue;
        }
        if attribute.args.is_empty() {
            out.push(
                Diagnostic::new(
                    Code::BadSettingValue,
                    file,
                    attribute.name.span.clone(),
                    "`allow` needs to say what it allows",
                )
                .with_hint(ONLY),
            );
        }
        for arg in attribute.args.iter().filter(|a| a.text != "unreachable") {
            let hint = crate::check::suggestion(&arg.text, ["unreachable"])
                .unwrap_or_else(|| ONLY.to_string());
            out.push(
                Diagnostic::new(
                    Code::BadSettingValue,
                    file,
                    arg.span.clone(),
                    format!("`allow` does not know `{}`", arg.text),
                )
                .with_hint(hint),
            );
        }
    }
}

/// The top-level `and`s of a condition, lowered as the plan lowers them; `None` when a test
/// names an unknown field (reported elsewhere), which the lowering turns into a `never`.
fn conjuncts(expr: &Expr) -> Option<Vec<Condition>> {
    let conjuncts = match crate::lower::condition(expr) {
        Condition::All { of } => of,
        single => vec![single],
    };
    (!conjuncts.iter().any(has_never)).then_some(conjuncts)
}

/// An empty `Any`: what the lowering makes of a test on an unknown field.
fn has_never(condition: &Condition) -> bool {
    match condition {
        Condition::Any { of } if of.is_empty() => true,
        Condition::All { of } | Condition::Any { of } => of.iter().any(has_never),
        Condition::Not { of } => has_never(of),
        _ => false,
    }
}

fn mentions_payload(condition: &Condition) -> bool {
    match condition {
        Condition::All { of } | Condition::Any { of } => of.iter().any(mentions_payload),
        Condition::Not { of } => mentions_payload(of),
        test => {
            let mut rows = Vec::new();
            test.row_paths(&mut rows);
            let field = test.operand().and_then(Operand::field);
            field.is_some_and(|f| f.root == FieldRoot::Payload)
                || rows.iter().any(|r| r.lookup.key.root == FieldRoot::Payload)
        }
    }
}
