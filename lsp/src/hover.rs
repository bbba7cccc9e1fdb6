//! What hovering over a name shows, as Markdown: a rule's verdict, priority, scope and
//! condition (and, with `--server`, how often it fired); a provider's type, settings and
//! breaker; a chain's timeout and steps; a step; an included file.

use crate::index::{Kind, Occurrence};
use crate::live::Live;
use crate::workspace::Analysis;
use acteon_dsl::syntax::ast::{
    ActionKind, Block, ChainDecl, Item, RuleDecl, ScopeDecl, StepDecl, StepRun,
};
use std::fmt::Write;

/// The hover text of `occurrence` (a reference is described by its declaration).
pub fn hover(analysis: &Analysis, occurrence: &Occurrence, live: Option<&mut Live>) -> String {
    if occurrence.kind == Kind::Include {
        return include(analysis, occurrence);
    }
    let Some(declaration) = analysis.index.declaration(occurrence) else {
        return format!(
            "unknown {} `{}`: no declaration",
            occurrence.kind.word(),
            occurrence.name
        );
    };
    let program = &analysis.compiled.program;
    let at = declaration.item;
    let item = &program.file(at.file).ast.items[at.item];
    let text = analysis.text(at.file);
    match (item, at.step) {
        (Item::Rule(rule), _) => {
            let scope = program.file(at.file).scope();
            let mut out = describe_rule(rule, scope, text);
            if let Some(live) = live {
                out.push_str(&live_count(live, &rule.name.text));
            }
            out
        }
        (Item::Provider(provider), _) => {
            let mut out = format!(
                "```acteon\nprovider {} {}\n```\n",
                provider.name.text, provider.kind.text
            );
            settings(&mut out, "settings", provider.settings.as_ref(), text);
            let breaker = program
                .items()
                .into_iter()
                .find_map(|(file, item)| match item {
                    Item::Breaker(b) if b.provider.text == provider.name.text => Some((file, b)),
                    _ => None,
                });
            if let Some((file, breaker)) = breaker {
                let text = analysis.text(file);
                settings(&mut out, "breaker", Some(&breaker.settings), text);
            }
            let uses = analysis.index.references(declaration, false).count();
            let _ = writeln!(out, "\nnamed {uses} time{} in the script", plural(uses));
            out
        }
        (Item::Chain(chain), None) => describe_chain(chain),
        (Item::Chain(chain), Some(step)) => {
            let step = &chain.steps[step];
            format!(
                "step of chain `{}`\n\n```acteon\n{}\n```\n",
                chain.name.text,
                step_line(step)
            )
        }
        (Item::Recurring(recurring), _) => {
            let mut out = format!("```acteon\nrecurring {}\n```\n", recurring.name.text);
            settings(&mut out, "settings", Some(&recurring.settings), text);
            out
        }
        (Item::Table(table), _) => {
            let mut out = format!(
                "```acteon\n{}\n```\nrows by their `{}` field, read by each action as of its \
                 event time\n",
                source(text, table.span.clone()),
                table.key.text
            );
            let uses = analysis.index.references(declaration, false).count();
            let _ = writeln!(out, "\nread {uses} time{} in the script", plural(uses));
            out
        }
        (Item::Test(test), _) => format!(
            "test \"{}\": {} entr{}; `acteon test` runs it",
            test.name.value,
            test.entries.len(),
            if test.entries.len() == 1 { "y" } else { "ies" }
        ),
        _ => String::new(),
    }
}

/// The source text of a span.
fn source(text: &str, span: std::ops::Range<usize>) -> &str {
    text.get(span).unwrap_or("").trim()
}

fn describe_rule(rule: &RuleDecl, scope: Option<&ScopeDecl>, text: &str) -> String {
    let mut out = format!(
        "```acteon\nrule {} priority {}\n```\n",
        rule.name.text, rule.priority.value
    );
    let _ = writeln!(out, "**verdict**: {}  ", verdict(&rule.action.kind));
    let _ = writeln!(
        out,
        "**priority**: {} (lower runs first; ties in source order)  ",
        rule.priority.value
    );
    let scope = match scope {
        None => "every action (the file has no `scope`)".to_string(),
        Some(scope) => {
            let mut parts = Vec::new();
            if let Some(ns) = &scope.namespace {
                parts.push(format!("namespace \"{}\"", ns.value));
            }
            if let Some(tenant) = &scope.tenant {
                parts.push(format!("tenant \"{}\"", tenant.value));
            }
            parts.join(", ")
        }
    };
    let _ = writeln!(out, "**scope**: {scope}  ");
    match &rule.condition {
        Some(condition) => {
            let _ = writeln!(out, "**when**: `{}`", source(text, condition.span()));
        }
        None => {
            let _ = writeln!(out, "**when**: always (no condition)");
        }
    }
    out
}

/// What a rule's action does to the actions it matches.
fn verdict(action: &ActionKind) -> String {
    match action {
        ActionKind::Suppress => "`suppress`: ends evaluation, `suppressed`".into(),
        ActionKind::Deny => "`deny`: ends evaluation, `denied`".into(),
        ActionKind::Allow => {
            "`allow`: ends evaluation, `executed` on the action's own provider".into()
        }
        ActionKind::Reroute(p) => format!("`reroute {}`: ends evaluation, `rerouted`", p.text),
        ActionKind::Chain(c) => format!("`chain {}`: ends evaluation, `chain_started`", c.text),
        ActionKind::Modify(_) => "`modify`: merge patch on the payload, evaluation goes on".into(),
        ActionKind::Dedup { within, .. } => format!(
            "`dedup within {}`: a repeat is `deduplicated`, a first sighting goes on",
            within.text
        ),
        ActionKind::Throttle { limit, per, .. } => format!(
            "`throttle {} per {}`: over the limit is `throttled`, otherwise it goes on",
            limit.value, per.text
        ),
        ActionKind::Group { wait, to, .. } => format!(
            "`group`: held as `grouped`; after {} one batch is `group_flushed`{}",
            wait.text,
            to.as_ref()
                .map(|p| format!(" to `{}`", p.text))
                .unwrap_or_default()
        ),
        ActionKind::Schedule { after } => format!(
            "`schedule after {}`: held as `scheduled`, then resumes at the next rule",
            after.text
        ),
    }
}

fn describe_chain(chain: &ChainDecl) -> String {
    let mut out = format!("```acteon\nchain {}", chain.name.text);
    if let Some(timeout) = &chain.timeout {
        let _ = write!(out, " timeout {}", timeout.text);
    }
    out.push_str("\n```\n");
    let _ = writeln!(
        out,
        "{} step{}:\n",
        chain.steps.len(),
        plural(chain.steps.len())
    );
    for (index, step) in chain.steps.iter().enumerate() {
        let _ = writeln!(out, "{}. `{}`", index + 1, step_line(step));
    }
    out
}

/// A step on one line: `normalize: call telemetry-normalizer invoke, if ... then x, next y`.
fn step_line(step: &StepDecl) -> String {
    let mut line = match &step.run {
        StepRun::Call {
            provider,
            action_type,
            ..
        } => format!(
            "{}: call {} {}",
            step.name.text, provider.text, action_type.text
        ),
        StepRun::Run { chain } => format!("{}: run {}", step.name.text, chain.text),
    };
    for branch in &step.branches {
        let _ = write!(line, ", if ... then {}", branch.target.text);
    }
    if let Some(next) = &step.next {
        let _ = write!(line, ", next {}", next.text);
    }
    line
}

fn settings(out: &mut String, title: &str, block: Option<&Block>, text: &str) {
    let Some(block) = block.filter(|b| !b.settings.is_empty()) else {
        return;
    };
    let _ = writeln!(out, "\n{title}:\n```acteon");
    for setting in &block.settings {
        let _ = writeln!(out, "{}", source(text, setting.span.clone()));
    }
    out.push_str("```\n");
}

fn include(analysis: &Analysis, occurrence: &Occurrence) -> String {
    let Some(target) = occurrence.target else {
        return format!("`{}`: not loaded (see the diagnostic)", occurrence.name);
    };
    let declared = analysis
        .index
        .occurrences
        .iter()
        .filter(|o| o.file == target && o.declaration)
        .count();
    format!(
        "`{}`: {} declaration{}",
        analysis.path(target).display(),
        declared,
        plural(declared)
    )
}

fn live_count(live: &mut Live, rule: &str) -> String {
    match live.rule(rule) {
        Ok(Some(counts)) => {
            let outcomes: Vec<String> = counts
                .by_outcome
                .iter()
                .map(|(outcome, n)| format!("{outcome} {n}"))
                .collect();
            format!(
                "\n**live**: fired {} time{} ({})\n",
                counts.total,
                plural(counts.total as usize),
                outcomes.join(", ")
            )
        }
        Ok(None) => "\n**live**: not fired yet\n".to_string(),
        Err(error) => format!("\n**live**: {error}\n"),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
