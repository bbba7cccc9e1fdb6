//! Quotas: per tenant, fixed windows of event time, checked before any rule.
//!
//! Exchanged by tenant. Holds the actions of each epoch, with a capability for it, until the
//! input frontier passes the epoch; then admits them in (event time, position) order, so the
//! same actions are over the limit with any number of workers. State: one counter per quota.

use super::{route, Decision, Flow, HeldByTime};
use acteon_dsl::plan::{Outcome, Quota, QuotaExceed};
use serde_json::{json, Map};
use std::collections::HashMap;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;

/// Returns the admitted actions and the `quota_exceeded` decisions.
pub fn quota<'s>(
    flows: Stream<'s, u64, Vec<Flow>>,
    quotas: Vec<Quota>,
) -> (Stream<'s, u64, Vec<Flow>>, Stream<'s, u64, Vec<Decision>>) {
    let mut builder = OperatorBuilder::new("Quota".to_owned(), flows.scope());
    let mut input = builder.new_input(
        flows,
        Exchange::new(|flow: &Flow| route(&flow.action.tenant)),
    );
    let (admitted, admitted_stream) = builder.new_output::<Vec<Flow>>();
    let (exceeded, exceeded_stream) = builder.new_output::<Vec<Decision>>();
    let mut admitted = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(admitted);
    let mut exceeded = OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(exceeded);

    builder.build(move |_capabilities| {
        let mut held = HeldByTime::default();
        // Per quota: the window index and how many actions it admitted.
        let mut windows: HashMap<usize, (i64, u64)> = HashMap::new();
        move |frontiers| {
            input.for_each(|cap, data| held.hold(&cap, data, 2));
            let mut admitted = admitted.activate();
            let mut exceeded = exceeded.activate();
            while let Some((_, caps, flows)) = held.next_ready(&frontiers[0]) {
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
        }
    });
    (admitted_stream, exceeded_stream)
}
