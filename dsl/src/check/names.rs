//! The program's symbols (providers and chains, across includes), duplicate names, and every
//! reference to a provider, a chain or a step that does not resolve.

use super::{near_name, place, suggestion, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::Program;
use crate::source::FileId;
use crate::syntax::ast::{
    ActionKind, ChainDecl, Item, LiteralKind, Name, ProviderDecl, Span, StepRun, TableDecl,
    TestEntry,
};
use std::collections::HashMap;

/// The first declaration of each provider and chain name.
pub(super) struct Symbols<'p> {
    providers: Vec<(FileId, &'p ProviderDecl)>,
    chains: Vec<(FileId, &'p ChainDecl)>,
    tables: Vec<(FileId, &'p TableDecl)>,
}

impl<'p> Symbols<'p> {
    /// Collects the symbols, reporting every name declared twice (providers, rules, chains,
    /// steps of one chain, recurring actions, tests) at its second declaration.
    pub(super) fn collect(program: &'p Program, out: &mut Vec<Diagnostic>) -> Symbols<'p> {
        let mut symbols = Symbols {
            providers: Vec::new(),
            chains: Vec::new(),
            tables: Vec::new(),
        };
        let mut seen = Seen::new(program);
        for (file, item) in program.items() {
            match item {
                Item::Provider(p) => {
                    let first = seen.first("provider", file, &p.name.text, &p.name.span, out);
                    if first {
                        symbols.providers.push((file, p));
                    }
                }
                Item::Chain(c) => {
                    if seen.first("chain", file, &c.name.text, &c.name.span, out) {
                        symbols.chains.push((file, c));
                    }
                    let mut steps = Seen::new(program);
                    for step in &c.steps {
                        steps.first("step", file, &step.name.text, &step.name.span, out);
                    }
                }
                Item::Table(t) if seen.first("table", file, &t.name.text, &t.name.span, out) => {
                    symbols.tables.push((file, t));
                }
                Item::Rule(r) => {
                    seen.first("rule", file, &r.name.text, &r.name.span, out);
                }
                Item::Recurring(r) => {
                    seen.first("recurring action", file, &r.name.text, &r.name.span, out);
                }
                Item::Test(t) => {
                    seen.first("test", file, &t.name.value, &t.name.span, out);
                }
                _ => {}
            }
        }
        symbols
    }

    pub(super) fn provider(&self, name: &str) -> Option<&'p ProviderDecl> {
        self.provider_at(name).map(|(_, p)| p)
    }

    /// The provider's declaration and the file it is in.
    fn provider_at(&self, name: &str) -> Option<(FileId, &'p ProviderDecl)> {
        self.providers
            .iter()
            .find(|(_, p)| p.name.text == name)
            .copied()
    }

    pub(super) fn chain(&self, name: &str) -> Option<(FileId, &'p ChainDecl)> {
        self.chains
            .iter()
            .find(|(_, c)| c.name.text == name)
            .copied()
    }

    pub(super) fn chains(&self) -> &[(FileId, &'p ChainDecl)] {
        &self.chains
    }

    /// The table's declaration and the file it is in.
    pub(super) fn table(&self, name: &str) -> Option<(FileId, &'p TableDecl)> {
        self.tables
            .iter()
            .find(|(_, t)| t.name.text == name)
            .copied()
    }

    pub(super) fn table_names(&self) -> Vec<&'p str> {
        self.tables
            .iter()
            .map(|(_, t)| t.name.text.as_str())
            .collect()
    }

    fn provider_names(&self) -> Vec<&'p str> {
        self.providers
            .iter()
            .map(|(_, p)| p.name.text.as_str())
            .collect()
    }

    fn chain_names(&self) -> Vec<&'p str> {
        self.chains
            .iter()
            .map(|(_, c)| c.name.text.as_str())
            .collect()
    }
}

/// First declarations of names of one kind-space, so a second one can point back at the first.
struct Seen<'p> {
    program: &'p Program,
    first: HashMap<(&'static str, String), (FileId, Span)>,
}

impl<'p> Seen<'p> {
    fn new(program: &'p Program) -> Seen<'p> {
        Seen {
            program,
            first: HashMap::new(),
        }
    }

    /// True when this is the first `kind` of that name; otherwise reports the duplicate.
    fn first(
        &mut self,
        kind: &'static str,
        file: FileId,
        name: &str,
        span: &Span,
        out: &mut Vec<Diagnostic>,
    ) -> bool {
        match self.first.get(&(kind, name.to_string())) {
            None => {
                self.first
                    .insert((kind, name.to_string()), (file, span.clone()));
                true
            }
            Some((first_file, first_span)) => {
                let place = place(self.program, file, *first_file, first_span);
                out.push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        file,
                        span.clone(),
                        format!("{kind} `{name}` is declared twice"),
                    )
                    .with_label("declared again here")
                    .with_secondary(*first_file, first_span.clone(), "first declared here")
                    .with_hint(format!(
                        "the first `{name}` is at {place}; rename one of them"
                    )),
                );
                false
            }
        }
    }
}

/// Reports every provider, chain and step name that does not resolve.
pub(super) fn check_references(cx: &Context, out: &mut Vec<Diagnostic>) {
    for (file, item) in cx.items() {
        match item {
            Item::Rule(rule) => match &rule.action.kind {
                ActionKind::Reroute(p) => provider(cx, file, p, out),
                ActionKind::Chain(c) => chain(cx, file, c, out),
                ActionKind::Group { to: Some(p), .. } => provider(cx, file, p, out),
                _ => {}
            },
            Item::Chain(c) => {
                let steps: Vec<&str> = c.steps.iter().map(|s| s.name.text.as_str()).collect();
                for step in &c.steps {
                    match &step.run {
                        StepRun::Call { provider: p, .. } => provider(cx, file, p, out),
                        StepRun::Run { chain: name } => chain(cx, file, name, out),
                    }
                    let targets = step.branches.iter().map(|b| &b.target);
                    for target in targets.chain(&step.next) {
                        if !steps.contains(&target.text.as_str()) {
                            let within = format!(" in chain `{}`", c.name.text);
                            let mut diagnostic =
                                unknown(Code::UnknownStep, file, target, "step", &within, &steps);
                            let near = near_name(&target.text, steps.iter().copied())
                                .and_then(|n| c.steps.iter().find(|s| s.name.text == n));
                            if let Some(step) = near {
                                diagnostic = declared_here(diagnostic, file, &step.name);
                            }
                            out.push(diagnostic);
                        }
                    }
                }
            }
            Item::Breaker(b) => {
                provider(cx, file, &b.provider, out);
                for setting in &b.settings.settings {
                    if setting.key.text == "fallback" {
                        reference_setting(cx, file, &setting.value, out);
                    }
                }
            }
            Item::Recurring(r) => {
                for setting in &r.settings.settings {
                    if setting.key.text == "provider" {
                        reference_setting(cx, file, &setting.value, out);
                    }
                }
            }
            Item::Test(t) => {
                for entry in &t.entries {
                    match entry {
                        TestEntry::ExpectOutcome { to: Some(p), .. } => provider(cx, file, p, out),
                        TestEntry::ExpectCalls { provider: p, .. } => provider(cx, file, p, out),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// A setting whose value names a provider; a value that is not a name is the settings check's.
fn reference_setting(
    cx: &Context,
    file: FileId,
    value: &crate::syntax::ast::Literal,
    out: &mut Vec<Diagnostic>,
) {
    if let LiteralKind::Name(text) = &value.kind {
        let name = Name {
            text: text.clone(),
            span: value.span.clone(),
        };
        provider(cx, file, &name, out);
    }
}

fn provider(cx: &Context, file: FileId, name: &Name, out: &mut Vec<Diagnostic>) {
    let symbols = &cx.symbols;
    if symbols.provider(&name.text).is_none() {
        let known = symbols.provider_names();
        let declaration = |n: &str| symbols.provider_at(n).map(|(f, p)| (f, &p.name));
        out.push(unresolved(
            Code::UnknownProvider,
            "provider",
            file,
            name,
            &known,
            declaration,
        ));
    }
}

fn chain(cx: &Context, file: FileId, name: &Name, out: &mut Vec<Diagnostic>) {
    let symbols = &cx.symbols;
    if symbols.chain(&name.text).is_none() {
        let known = symbols.chain_names();
        let declaration = |n: &str| symbols.chain(n).map(|(f, c)| (f, &c.name));
        out.push(unresolved(
            Code::UnknownChain,
            "chain",
            file,
            name,
            &known,
            declaration,
        ));
    }
}

/// An unknown provider, chain or table; a near name's declaration is shown beside it.
pub(super) fn unresolved<'p>(
    code: Code,
    what: &str,
    file: FileId,
    name: &Name,
    known: &[&str],
    declaration: impl Fn(&str) -> Option<(FileId, &'p Name)>,
) -> Diagnostic {
    let diagnostic = unknown(code, file, name, what, "", known);
    match near_name(&name.text, known.iter().copied()).and_then(declaration) {
        Some((at, declared)) => declared_here(diagnostic, at, declared),
        None => diagnostic,
    }
}

/// Points at the declaration of the name a hint suggests, so the reader sees both.
fn declared_here(diagnostic: Diagnostic, file: FileId, name: &Name) -> Diagnostic {
    let label = format!("`{}` is declared here", name.text);
    diagnostic.with_secondary(file, name.span.clone(), label)
}

/// `unknown {what} `name`{within}`, with a near name or the declared ones as the hint.
fn unknown(
    code: Code,
    file: FileId,
    name: &Name,
    what: &str,
    within: &str,
    known: &[&str],
) -> Diagnostic {
    let hint = suggestion(&name.text, known.iter().copied()).unwrap_or_else(|| {
        let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        if known.is_empty() {
            format!("no {what} is declared{within}")
        } else {
            format!("declared: {}", known.join(", "))
        }
    });
    Diagnostic::new(
        code,
        file,
        name.span.clone(),
        format!("unknown {what} `{}`{within}", name.text),
    )
    .with_label("not declared")
    .with_hint(hint)
}
