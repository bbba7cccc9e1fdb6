//! Schedule: an action is `scheduled`, then resumes at the next rule once its due time has
//! passed, with its event time set to the due time.
//!
//! No keyed state, so no exchange. Holds, per due time (epoch, rule), a capability and the
//! actions due then; releases them once the input frontier passes that time (on the event
//! clock when the input's event times do, on the processing clock when the wall clock does,
//! and at the end of the input in any case).

use super::evaluate::LoopTime;
use super::{Decision, Flow};
use crate::eval::{Evaluator, RuleKind};
use crate::time::{format_rfc3339_ms, Epochs};
use acteon_dsl::plan::Outcome;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::order::Product;

/// The capability of a release time and the actions due then, with their due times.
type Due = (Capability<LoopTime>, Vec<(i64, Flow)>);

/// Returns the released actions (to resume at the next rule) and the `scheduled` decisions.
pub fn schedule<'s>(
    flows: Stream<'s, LoopTime, Vec<Flow>>,
    evaluator: Arc<Evaluator>,
    epochs: Epochs,
) -> (
    Stream<'s, LoopTime, Vec<Flow>>,
    Stream<'s, LoopTime, Vec<Decision>>,
) {
    let mut builder = OperatorBuilder::new("Schedule".to_owned(), flows.scope());
    let mut input = builder.new_input(flows, Pipeline);
    let (released, released_stream) = builder.new_output::<Vec<Flow>>();
    let (scheduled, scheduled_stream) = builder.new_output::<Vec<Decision>>();
    let mut released = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(released);
    let mut scheduled =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(scheduled);

    builder.build(move |_capabilities| {
        let mut due: BTreeMap<LoopTime, Due> = BTreeMap::new();
        move |frontiers| {
            let mut scheduled = scheduled.activate();
            input.for_each(|cap, data| {
                let Some(&time) = cap.stamp().iter().next() else {
                    return;
                };
                let mut session = scheduled.session(&cap);
                for mut flow in data.drain(..) {
                    let rule = flow.next_rule;
                    let RuleKind::Schedule { delay_ms } = evaluator.rule(rule).kind else {
                        continue;
                    };
                    let due_ms = flow.action.event_time_ms + delay_ms as i64;
                    let mut details = Map::new();
                    details.insert("due_at".into(), Value::String(format_rfc3339_ms(due_ms)));
                    session.give(Decision::record(
                        flow.clone(),
                        Some(rule),
                        Outcome::Scheduled,
                        details,
                    ));
                    flow.records += 1;
                    let release = Product::new(epochs.of(due_ms).max(time.outer), rule);
                    due.entry(release)
                        .or_insert_with(|| (cap.delayed(&release, 0), Vec::new()))
                        .1
                        .push((due_ms, flow));
                }
            });
            let mut released = released.activate();
            while let Some(entry) = due.first_entry() {
                if frontiers[0].less_equal(entry.key()) {
                    break;
                }
                let (cap, flows) = entry.remove();
                released.session(&cap).give_iterator(flows.into_iter().map(
                    |(due_ms, mut flow)| {
                        flow.action.event_time_ms = due_ms;
                        flow.next_rule += 1;
                        flow
                    },
                ));
            }
        }
    });
    (released_stream, scheduled_stream)
}
