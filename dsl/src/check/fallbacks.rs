//! Breaker fallbacks that lead back to where they started: a provider falling back to itself,
//! or a ring of providers falling back to each other, would never deliver once all are open.

use super::{graph, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::FileId;
use crate::syntax::ast::{Item, LiteralKind, Span};

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let mut providers: Vec<&str> = Vec::new();
    let mut edges = Vec::new();
    let mut fallbacks: Vec<(FileId, Span)> = Vec::new();
    let items = cx.items();
    for (file, item) in &items {
        let Item::Breaker(breaker) = item else {
            continue;
        };
        for setting in &breaker.settings.settings {
            if let ("fallback", LiteralKind::Name(to)) =
                (setting.key.text.as_str(), &setting.value.kind)
            {
                let from = node(&breaker.provider.text, &mut providers);
                let to = node(to, &mut providers);
                edges.push((from, to));
                fallbacks.push((*file, setting.value.span.clone()));
            }
        }
    }
    for cycle in graph::cycles(providers.len(), &edges) {
        let (file, span) = fallbacks[*cycle.last().expect("a cycle has an edge")].clone();
        let first = providers[edges[cycle[0]].0];
        let message = if cycle.len() == 1 {
            format!("provider `{first}` falls back to itself")
        } else {
            let path: Vec<String> = cycle
                .iter()
                .map(|&e| format!("`{}`", providers[edges[e].0]))
                .collect();
            format!("breaker fallbacks loop: {} -> `{first}`", path.join(" -> "))
        };
        let mut diagnostic = Diagnostic::new(Code::FallbackCycle, file, span, message)
            .with_label("closes the loop")
            .with_hint(
                "fall back to a provider that does not fall back here, e.g. a `log` provider",
            );
        for &edge in &cycle[..cycle.len() - 1] {
            let (at_file, at) = fallbacks[edge].clone();
            let (from, to) = edges[edge];
            diagnostic = diagnostic.with_secondary(
                at_file,
                at,
                format!("`{}` falls back to `{}`", providers[from], providers[to]),
            );
        }
        out.push(diagnostic);
    }
}

/// The node of a provider, added on first sight.
fn node<'a>(name: &'a str, providers: &mut Vec<&'a str>) -> usize {
    match providers.iter().position(|p| *p == name) {
        Some(i) => i,
        None => {
            providers.push(name);
            providers.len() - 1
        }
    }
}
