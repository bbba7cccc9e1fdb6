//! Deciding decoded actions outside the dataflow: the per-core cost of the compiled rules.

use acteon_engine::action::{Action, Position};
use acteon_engine::decode::decode;
use acteon_engine::eval::{Evaluation, Evaluator, Scratch};

/// Decodes seed-like lines as the source does.
pub fn decoded(lines: &[String]) -> Vec<Action> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            decode(
                line.as_bytes(),
                Position::Line(i as u64 + 1),
                1 << 20,
                0,
                None,
            )
            .unwrap()
        })
        .collect()
}

/// Evaluates as the dataflow does when every stateful rule lets the action pass: from the
/// first rule to a terminal rule or the end, resuming after each gate.
pub fn decide(evaluator: &Evaluator, action: &mut Action, scratch: &mut Scratch) -> u32 {
    let mut start = 0;
    loop {
        match evaluator.evaluate(action, start, scratch) {
            Evaluation::Gate { rule, .. } => start = rule + 1,
            Evaluation::Terminal { rule } => return rule,
            Evaluation::NoMatch => return u32::MAX,
        }
    }
}
