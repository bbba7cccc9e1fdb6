//! Rule evaluation: runs the compiled rules over each action until a terminal rule decides,
//! a stateful rule must decide, or the rules run out.
//!
//! Holds nothing and ignores the frontier. An action that must pass stateful rule `r` leaves
//! on that rule kind's output at time (epoch, r), so the kind's operator sees every action
//! reaching `r` in an epoch before it decides any of them. Actions a stateful rule let pass
//! come back from the worker that owns their key: they are exchanged back to the worker their
//! position spreads to, so the rules after a busy key run on every worker.

use super::{Decision, Flow};
use crate::audit::record::Details;
use crate::eval::{Evaluation, Evaluator, Gate, RuleKind, Scratch};
use acteon_dsl::plan::Outcome;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::InputCapability;
use timely::dataflow::Stream;
use timely::order::Product;
use timely::progress::operate::FrontierInterest;

pub type LoopTime = Product<u64, u32>;

/// The outputs of evaluation: decisions, and the actions each stateful kind must decide.
pub struct Evaluated<'s> {
    pub decisions: Stream<'s, LoopTime, Vec<Decision>>,
    pub dedup: Stream<'s, LoopTime, Vec<Flow>>,
    pub throttle: Stream<'s, LoopTime, Vec<Flow>>,
    pub group: Stream<'s, LoopTime, Vec<Flow>>,
    pub schedule: Stream<'s, LoopTime, Vec<Flow>>,
}

/// `entered`: new actions at (epoch, 0); `resumed`: actions a stateful rule passed, at
/// (epoch, rule + 1).
pub fn evaluate<'s>(
    entered: Stream<'s, LoopTime, Vec<Flow>>,
    resumed: Stream<'s, LoopTime, Vec<Flow>>,
    evaluator: Arc<Evaluator>,
) -> Evaluated<'s> {
    let mut builder = OperatorBuilder::new("Evaluate".to_owned(), entered.scope());
    let mut entered = builder.new_input(entered, Pipeline);
    let mut resumed = builder.new_input(resumed, Exchange::new(|flow: &Flow| flow.spread()));
    builder.set_notify_for(0, FrontierInterest::Never);
    builder.set_notify_for(1, FrontierInterest::Never);
    let (decisions, decisions_stream) = builder.new_output::<Vec<Decision>>();
    let (dedup, dedup_stream) = builder.new_output::<Vec<Flow>>();
    let (throttle, throttle_stream) = builder.new_output::<Vec<Flow>>();
    let (group, group_stream) = builder.new_output::<Vec<Flow>>();
    let (schedule, schedule_stream) = builder.new_output::<Vec<Flow>>();
    let mut decisions =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(decisions);
    let mut gates = [dedup, throttle, group, schedule]
        .map(OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from);

    builder.build(move |_capabilities| {
        let mut scratch = Scratch::default();
        // Actions stopped at a stateful rule in the current message: (output, rule, action).
        let mut gated: Vec<(usize, u32, Flow)> = Vec::new();
        move |_frontiers| {
            let mut decided = decisions.activate();
            let mut gate_outputs = gates.each_mut().map(|g| g.activate());
            let mut step = |cap: InputCapability<LoopTime>, data: &mut Vec<Flow>| {
                let Some(time) = cap.stamp().iter().next().copied() else {
                    return;
                };
                let mut session = decided.session(&cap);
                for mut flow in data.drain(..) {
                    match evaluator.evaluate(&mut flow.action, flow.next_rule, &mut scratch) {
                        Evaluation::Gate { rule, gate } => {
                            let port = match gate {
                                Gate::Dedup => 0,
                                Gate::Throttle => 1,
                                Gate::Group => 2,
                                Gate::Schedule => 3,
                            };
                            // The action now stands at the rule; it resumes after it.
                            flow.next_rule = rule;
                            gated.push((port, rule, flow));
                        }
                        Evaluation::Terminal { rule } => {
                            session.give(terminal(&evaluator, flow, rule))
                        }
                        Evaluation::NoMatch => {
                            let target = flow.action.provider.clone();
                            session.give(Decision {
                                flow,
                                rule: None,
                                outcome: Outcome::Executed,
                                target,
                                details: Details::new(),
                                deliver: true,
                            });
                        }
                    }
                }
                drop(session);
                // Few distinct (output, rule) pairs per message: one capability each.
                gated.sort_by_key(|(port, rule, _)| (*port, *rule));
                let mut current = None;
                for (port, rule, flow) in gated.drain(..) {
                    let gate_cap = match current.take() {
                        Some((p, r, gate_cap)) if (p, r) == (port, rule) => gate_cap,
                        _ => cap.delayed(&Product::new(time.outer, rule), port + 1),
                    };
                    gate_outputs[port].session(&gate_cap).give(flow);
                    current = Some((port, rule, gate_cap));
                }
            };
            entered.for_each(|cap, data| step(cap, data));
            resumed.for_each(|cap, data| step(cap, data));
        }
    });
    Evaluated {
        decisions: decisions_stream,
        dedup: dedup_stream,
        throttle: throttle_stream,
        group: group_stream,
        schedule: schedule_stream,
    }
}

/// The decision of terminal rule `rule`.
fn terminal(evaluator: &Evaluator, flow: Flow, rule: u32) -> Decision {
    let (outcome, target, deliver, details) = match &evaluator.rule(rule).kind {
        RuleKind::Suppress => (Outcome::Suppressed, None, false, Details::new()),
        RuleKind::Deny => (Outcome::Denied, None, false, Details::new()),
        RuleKind::Allow => (
            Outcome::Executed,
            flow.action.provider.clone(),
            true,
            Details::new(),
        ),
        RuleKind::Reroute { provider } => (
            Outcome::Rerouted,
            Some(provider.clone()),
            true,
            Details::new(),
        ),
        RuleKind::Chain { chain } => (
            Outcome::ChainStarted,
            None,
            false,
            Details::new().with("chain", chain.clone()),
        ),
        other => unreachable!("rule kind {other:?} does not end evaluation"),
    };
    Decision {
        flow,
        rule: Some(rule),
        outcome,
        target,
        details,
        deliver,
    }
}
