//! Schedule: an action is `scheduled`, then resumes at the next rule once its due time has
//! passed, with its event time set to the due time.
//!
//! No keyed state, so no exchange. Holds, per due time (epoch, rule), a capability and the
//! actions due then; releases them once the input frontier passes that time (on the event
//! clock when the input's event times do, on the processing clock when the wall clock does,
//! and at the end of the input in any case). With checkpoints, the actions held for a
//! checkpoint's epoch (scheduled before it, due at or after it) are saved before anything due
//! at or after it is released, and held again, with their capabilities, at start.

use super::evaluate::LoopTime;
use super::{frontier_epoch, owns, Decision, Flow};
use crate::audit::record::{Detail, Details};
use crate::checkpoint::store::encode;
use crate::checkpoint::Checkpointer;
use crate::eval::{Evaluator, RuleKind};
use crate::time::Epochs;
use acteon_dsl::plan::Outcome;
use std::collections::BTreeMap;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::order::Product;

/// The capability of a release time and the actions due then, each with the epoch it was
/// scheduled in and its due time.
type Due = (Capability<LoopTime>, Vec<(u64, i64, Flow)>);

/// A held action as a checkpoint keeps it: (release (epoch, rule), scheduled epoch, due
/// time, action).
type Saved = ((u64, u32), u64, i64, Flow);

/// Returns the released actions (to resume at the next rule) and the `scheduled` decisions.
pub fn schedule<'s>(
    flows: Stream<'s, LoopTime, Vec<Flow>>,
    evaluator: Arc<Evaluator>,
    epochs: Epochs,
    checkpointer: Option<Arc<Checkpointer>>,
) -> (
    Stream<'s, LoopTime, Vec<Flow>>,
    Stream<'s, LoopTime, Vec<Decision>>,
) {
    let scope = flows.scope();
    let mut builder = OperatorBuilder::new("Schedule".to_owned(), scope);
    let mut input = builder.new_input(flows, Pipeline);
    let (released, released_stream) = builder.new_output::<Vec<Flow>>();
    let (scheduled, scheduled_stream) = builder.new_output::<Vec<Decision>>();
    let mut released = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(released);
    let mut scheduled =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(scheduled);

    let (index, peers) = (scope.index(), scope.peers());
    builder.build(move |capabilities| {
        let mut due: BTreeMap<LoopTime, Due> = BTreeMap::new();
        let mut participant = checkpointer.map(|c| c.participant("schedule", index));
        if let (Some(restored), Some(initial)) = (
            participant.as_ref().and_then(|p| p.restored()),
            capabilities.first(),
        ) {
            for (_, saved) in restored.parts::<Vec<Saved>>("schedule") {
                for ((epoch, rule), scheduled, due_ms, mut flow) in saved {
                    let Some(rule) = restored.rule(rule) else {
                        continue;
                    };
                    if !owns(flow.spread(), index, peers) {
                        continue;
                    }
                    flow.next_rule = rule;
                    let release = Product::new(epoch, rule);
                    due.entry(release)
                        .or_insert_with(|| (initial.delayed(&release), Vec::new()))
                        .1
                        .push((scheduled, due_ms, flow));
                }
            }
        }
        drop(capabilities);
        let snapshot = |due: &BTreeMap<LoopTime, Due>, epoch: u64| {
            let held: Vec<(&LoopTime, &u64, &i64, &Flow)> = due
                .iter()
                .flat_map(|(release, (_, flows))| {
                    flows.iter().map(move |(s, d, f)| (release, s, d, f))
                })
                .filter(|(_, scheduled, _, _)| **scheduled < epoch)
                .collect();
            encode(
                &held
                    .into_iter()
                    .map(|(r, s, d, f)| ((r.outer, r.inner), s, d, f))
                    .collect::<Vec<_>>(),
            )
        };
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
                    let details = Details::new().with("due_at", Detail::Time(due_ms));
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
                        .push((time.outer, due_ms, flow));
                }
            });
            let mut released = released.activate();
            while let Some((&release, _)) = due.first_key_value() {
                if frontiers[0].less_equal(&release) {
                    break;
                }
                if let Some(participant) = participant.as_mut() {
                    participant.reach(release.outer, |epoch| snapshot(&due, epoch));
                }
                let Some((cap, flows)) = due.remove(&release) else {
                    break;
                };
                released.session(&cap).give_iterator(flows.into_iter().map(
                    |(_, due_ms, mut flow)| {
                        flow.action.event_time_ms = due_ms;
                        flow.next_rule += 1;
                        flow
                    },
                ));
            }
            if let Some(participant) = participant.as_mut() {
                participant.reach(frontier_epoch(&frontiers[0]), |epoch| snapshot(&due, epoch));
            }
        }
    });
    (released_stream, scheduled_stream)
}
