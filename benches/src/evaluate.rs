//! Deciding decoded actions outside the dataflow: the per-core cost of the compiled rules.

use acteon_engine::action::{Action, Position};
use acteon_engine::decode::Decoder;
use acteon_engine::eval::{Evaluation, Evaluator, Scratch};
use std::sync::Arc;

/// The decoder the source of a run of `evaluator`'s plan uses.
pub fn decoder(evaluator: &Evaluator) -> Decoder {
    Decoder {
        max_action_bytes: 1 << 20,
        paths: Arc::clone(evaluator.paths().set()),
    }
}

/// Decodes seed-like lines as the source does for `evaluator`'s plan.
pub fn decoded(lines: &[String], evaluator: &Evaluator) -> Vec<Action> {
    let decoder = decoder(evaluator);
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            decoder
                .decode(line.as_bytes(), Position::Line(i as u64 + 1), 0, None)
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
