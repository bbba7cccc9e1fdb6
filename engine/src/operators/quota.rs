//! Quotas: per tenant, fixed windows of event time, checked before any rule.
//!
//! Exchanged by tenant. Holds the actions of each epoch, with a capability for it, until the
//! input frontier passes the epoch; then admits them in (event time, position) order, so the
//! same actions are over the limit with any number of workers. State: one counter per quota,
//! saved with checkpoints before the first epoch at or after a checkpoint's is decided, and
//! restored (to the worker its tenant is exchanged to) at start.

use super::{frontier_epoch, owns, route, Decision, Flow, HeldByTime};
use crate::checkpoint::store::encode;
use crate::checkpoint::Checkpointer;
use acteon_dsl::plan::{Outcome, Quota, QuotaExceed};
use serde_json::{json, Map};
use std::collections::HashMap;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;

/// Returns the admitted actions and the `quota_exceeded` decisions.
pub fn quota<'s>(
    flows: Stream<'s, u64, Vec<Flow>>,
    quotas: Vec<Quota>,
    checkpointer: Option<Arc<Checkpointer>>,
) -> (Stream<'s, u64, Vec<Flow>>, Stream<'s, u64, Vec<Decision>>) {
    let scope = flows.scope();
    let mut builder = OperatorBuilder::new("Quota".to_owned(), scope);
    let mut input = builder.new_input(
        flows,
        Exchange::new(|flow: &Flow| route(&flow.action.tenant)),
    );
    let (admitted, admitted_stream) = builder.new_output::<Vec<Flow>>();
    let (exceeded, exceeded_stream) = builder.new_output::<Vec<Decision>>();
    let mut admitted = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(admitted);
    let mut exceeded = OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(exceeded);

    let (index, peers) = (scope.index(), scope.peers());
    builder.build(move |_capabilities| {
        let mut held = HeldByTime::default();
        // Per quota: the window index and how many actions it admitted.
        let mut windows: HashMap<usize, (i64, u64)> = HashMap::new();
        let mut participant = checkpointer.map(|c| c.participant("quota", index));
        if let Some(restored) = participant.as_ref().and_then(|p| p.restored()) {
            for (_, saved) in restored.parts::<Vec<(usize, (i64, u64))>>("quota") {
                for (quota, counter) in saved {
                    let Some(quota) = restored.quota(quota) else { continue };
                    if owns(route(&quotas[quota].tenant), index, peers) {
                        windows.insert(quota, counter);
                    }
                }
            }
        }
        move |frontiers| {
            input.for_each(|cap, data| held.hold(&cap, data, 2));
            let mut admitted = admitted.activate();
            let mut exceeded = exceeded.activate();
            let snapshot = |windows: &HashMap<usize, (i64, u64)>| {
                encode(&windows.iter().collect::<Vec<_>>())
            };
            while let Some(time) = held.ready_time(&frontiers[0]) {
                if let Some(participant) = participant.as_mut() {
                    participant.reach(time, |_| snapshot(&windows));
                }
                let Some((_, caps, flows)) = held.next_ready(&frontiers[0]) else {
                    break;
                };
                let mut admit = admitted.session(&caps[0]);
                let mut exceed = exceeded.session(&caps[1]);
                for mut flow in flows {
                    let Some((index, quota)) = quotas.iter().enumerate().find(|(_, q)| {
                        q.tenant == flow.action.tenant
                            && q.namespace.as_deref().is_none_or(|ns| ns == flow.action.namespace)
                    }) else {
                        admit.give(flow);
                        continue;
                    };
                    let window = flow.action.event_time_ms.div_euclid(quota.window_ms.max(1) as i64);
                    let counter = windows.entry(index).or_insert((window, 0));
                    if counter.0 != window {
                        *counter = (window, 0);
                    }
                    counter.1 += 1;
                    if counter.1 <= quota.limit {
                        admit.give(flow);
                        continue;
                    }
                    match quota.on_exceed {
                        QuotaExceed::Warn => {
                            flow.quota_warning = Some((quota.limit, quota.window_ms));
                            admit.give(flow);
                        }
                        QuotaExceed::Block => {
                            let mut details = Map::new();
                            details.insert(
                                "quota".into(),
                                json!({ "limit": quota.limit, "window_ms": quota.window_ms, "behaviour": "block" }),
                            );
                            exceed.give(Decision::record(flow, None, Outcome::QuotaExceeded, details));
                        }
                    }
                }
            }
            if let Some(participant) = participant.as_mut() {
                participant.reach(frontier_epoch(&frontiers[0]), |_| snapshot(&windows));
            }
        }
    });
    (admitted_stream, exceeded_stream)
}
