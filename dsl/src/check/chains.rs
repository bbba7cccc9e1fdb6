//! Chains that cannot complete: steps that loop through branches or `next` (plain fall-through
//! only moves forward, so it cannot), and chains that run themselves as sub-chains.

use super::{graph, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::FileId;
use crate::syntax::ast::{ChainDecl, Name, StepRun};

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for &(file, chain) in cx.symbols.chains() {
        step_cycles(file, chain, out);
    }
    sub_chain_recursion(cx, out);
}

fn step_cycles(file: FileId, chain: &ChainDecl, out: &mut Vec<Diagnostic>) {
    let index = |name: &str| chain.steps.iter().position(|s| s.name.text == name);
    let mut edges = Vec::new();
    let mut targets: Vec<&Name> = Vec::new();
    for (from, step) in chain.steps.iter().enumerate() {
        for target in step.branches.iter().map(|b| &b.target).chain(&step.next) {
            if let Some(to) = index(&target.text) {
                edges.push((from, to));
                targets.push(target);
            }
        }
    }
    for cycle in graph::cycles(chain.steps.len(), &edges) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&e| chain.steps[edges[e].0].name.text.as_str())
            .collect();
        let closing = targets[*cycle.last().expect("a cycle has an edge")];
        let message = format!(
            "steps of chain `{}` loop: {} -> `{}`",
            chain.name.text,
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" -> "),
            closing.text
        );
        let mut diagnostic = Diagnostic::new(Code::StepCycle, file, closing.span.clone(), message)
            .with_label("closes the loop")
            .with_hint(
                "a chain must be able to complete: branches and `next` may only lead to steps \
                 that do not lead back here",
            );
        for &edge in &cycle[..cycle.len() - 1] {
            let (from, to) = edges[edge];
            diagnostic = diagnostic.with_secondary(
                file,
                targets[edge].span.clone(),
                format!(
                    "`{}` leads to `{}`",
                    chain.steps[from].name.text, chain.steps[to].name.text
                ),
            );
        }
        out.push(diagnostic);
    }
}

fn sub_chain_recursion(cx: &Context, out: &mut Vec<Diagnostic>) {
    let chains = cx.symbols.chains();
    let index = |name: &str| chains.iter().position(|(_, c)| c.name.text == name);
    let mut edges = Vec::new();
    let mut runs: Vec<(FileId, &Name)> = Vec::new();
    for (from, (file, chain)) in chains.iter().enumerate() {
        for step in &chain.steps {
            if let StepRun::Run { chain: target } = &step.run {
                if let Some(to) = index(&target.text) {
                    edges.push((from, to));
                    runs.push((*file, target));
                }
            }
        }
    }
    for cycle in graph::cycles(chains.len(), &edges) {
        let (file, closing) = runs[*cycle.last().expect("a cycle has an edge")];
        let message = if cycle.len() == 1 {
            format!("chain `{}` runs itself", closing.text)
        } else {
            let path: Vec<String> = cycle
                .iter()
                .map(|&e| format!("`{}`", chains[edges[e].0].1.name.text))
                .collect();
            format!(
                "chain `{}` runs itself through sub-chains: {} -> `{}`",
                closing.text,
                path.join(" -> "),
                closing.text
            )
        };
        let mut diagnostic =
            Diagnostic::new(Code::SubChainRecursion, file, closing.span.clone(), message)
                .with_label("closes the loop")
                .with_hint(
                    "a sub-chain cannot run a chain that is already running; run a different chain",
                );
        for &edge in &cycle[..cycle.len() - 1] {
            let (run_file, target) = runs[edge];
            let from = &chains[edges[edge].0].1.name.text;
            diagnostic = diagnostic.with_secondary(
                run_file,
                target.span.clone(),
                format!("`{from}` runs `{}`", target.text),
            );
        }
        out.push(diagnostic);
    }
}
