//! Throttle: at most `limit` admitted actions per sliding window of event time, per key.
//!
//! Exchanged by key: (rule, tenant, `by` value). Holds each loop time's actions until the
//! frontier passes it, then decides them in (event time, position) order. State: per key the
//! event times of the admitted actions still inside the window (at most `limit`), and an
//! index from the time a key goes idle to the key, to forget idle keys. With checkpoints, the
//! windows are saved before the first time at or after a checkpoint's epoch is decided, and
//! restored (to the worker the exchange sends each key to) at start.

use super::evaluate::LoopTime;
use super::{frontier_epoch, owns, route, Decision, Flow, HeldByTime};
use crate::checkpoint::store::encode;
use crate::checkpoint::Checkpointer;
use crate::eval::{Evaluator, RuleKind};
use acteon_dsl::plan::Outcome;
use serde_json::{Map, Value};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;

/// (rule, tenant, `by` value or empty).
type ThrottleKey = (u32, String, String);

fn throttle_key(evaluator: &Evaluator, flow: &Flow) -> ThrottleKey {
    let mut key = String::new();
    if let RuleKind::Throttle { by: Some(by), .. } = &evaluator.rule(flow.next_rule).kind {
        if let Some(field) = by.read(&flow.action) {
            field.push_key(&mut key);
        }
    }
    (flow.next_rule, flow.action.tenant.clone(), key)
}

struct Window {
    /// Event times of admitted actions, oldest first.
    admitted: VecDeque<i64>,
}

/// Returns the admitted actions (to resume at the next rule) and the `throttled` decisions.
pub fn throttle<'s>(
    flows: Stream<'s, LoopTime, Vec<Flow>>,
    evaluator: Arc<Evaluator>,
    max_lateness_ms: u64,
    checkpointer: Option<Arc<Checkpointer>>,
) -> (
    Stream<'s, LoopTime, Vec<Flow>>,
    Stream<'s, LoopTime, Vec<Decision>>,
) {
    let scope = flows.scope();
    let mut builder = OperatorBuilder::new("Throttle".to_owned(), scope);
    let router = Arc::clone(&evaluator);
    let mut input = builder.new_input(
        flows,
        Exchange::new(move |flow: &Flow| route(&throttle_key(&router, flow))),
    );
    let (admitted, admitted_stream) = builder.new_output::<Vec<Flow>>();
    let (throttled, throttled_stream) = builder.new_output::<Vec<Decision>>();
    let mut admitted = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(admitted);
    let mut throttled =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(throttled);

    let (index, peers) = (scope.index(), scope.peers());
    builder.build(move |_capabilities| {
        let mut held = HeldByTime::default();
        let mut windows: HashMap<ThrottleKey, Window> = HashMap::new();
        let mut by_idle: BinaryHeap<Reverse<(i64, ThrottleKey)>> = BinaryHeap::new();
        let mut participant = checkpointer.map(|c| c.participant("throttle", index));
        if let Some(restored) = participant.as_ref().and_then(|p| p.restored()) {
            for (_, saved) in restored.parts::<Vec<(ThrottleKey, VecDeque<i64>)>>("throttle") {
                for ((rule, tenant, by), admitted) in saved {
                    let Some(rule) = restored.rule(rule) else {
                        continue;
                    };
                    let key = (rule, tenant, by);
                    if owns(route(&key), index, peers) {
                        let window = Window { admitted };
                        by_idle.push(Reverse((
                            idle_until(&window, &evaluator, rule),
                            key.clone(),
                        )));
                        windows.insert(key, window);
                    }
                }
            }
        }
        move |frontiers| {
            input.for_each(|cap, data| held.hold(&cap, data, 2));
            let mut admitted = admitted.activate();
            let mut throttled = throttled.activate();
            let snapshot = |windows: &HashMap<ThrottleKey, Window>| {
                encode(
                    &windows
                        .iter()
                        .map(|(k, w)| (k, &w.admitted))
                        .collect::<Vec<_>>(),
                )
            };
            while let Some(time) = held.ready_time(&frontiers[0]) {
                if let Some(participant) = participant.as_mut() {
                    participant.reach(time.outer, |_| snapshot(&windows));
                }
                let Some((time, caps, flows)) = held.next_ready(&frontiers[0]) else {
                    break;
                };
                let horizon = time.outer as i64 - max_lateness_ms as i64;
                while let Some(Reverse((idle_at, _))) = by_idle.peek() {
                    if *idle_at > horizon {
                        break;
                    }
                    let Some(Reverse((idle_at, key))) = by_idle.pop() else {
                        break;
                    };
                    if windows
                        .get(&key)
                        .is_some_and(|w| idle_until(w, &evaluator, key.0) <= idle_at)
                    {
                        windows.remove(&key);
                    }
                }
                let mut admit = admitted.session(&caps[0]);
                let mut refuse = throttled.session(&caps[1]);
                for mut flow in flows {
                    let rule = flow.next_rule;
                    let RuleKind::Throttle {
                        limit, window_ms, ..
                    } = evaluator.rule(rule).kind
                    else {
                        continue;
                    };
                    let now = flow.action.event_time_ms;
                    let window_ms = window_ms as i64;
                    let key = throttle_key(&evaluator, &flow);
                    let window = windows.entry(key.clone()).or_insert_with(|| Window {
                        admitted: VecDeque::new(),
                    });
                    // The window is (now − window, now]: older admissions no longer count.
                    while window
                        .admitted
                        .front()
                        .is_some_and(|&t| t <= now - window_ms)
                    {
                        window.admitted.pop_front();
                    }
                    if (window.admitted.len() as u64) < limit {
                        window.admitted.push_back(now);
                        by_idle.push(Reverse((now + window_ms, key)));
                        flow.next_rule = rule + 1;
                        admit.give(flow);
                    } else {
                        let oldest = window.admitted.front().copied().unwrap_or(now);
                        let mut details = Map::new();
                        details.insert(
                            "retry_after_ms".into(),
                            Value::from(oldest + window_ms - now),
                        );
                        details.insert("limit".into(), Value::from(limit));
                        details.insert("window_ms".into(), Value::from(window_ms));
                        refuse.give(Decision::record(
                            flow,
                            Some(rule),
                            Outcome::Throttled,
                            details,
                        ));
                    }
                }
            }
            if let Some(participant) = participant.as_mut() {
                participant.reach(frontier_epoch(&frontiers[0]), |_| snapshot(&windows));
            }
        }
    });
    (admitted_stream, throttled_stream)
}

/// When the key's window empties: its newest admission plus the window.
fn idle_until(window: &Window, evaluator: &Evaluator, rule: u32) -> i64 {
    let window_ms = match evaluator.rule(rule).kind {
        RuleKind::Throttle { window_ms, .. } => window_ms as i64,
        _ => 0,
    };
    window
        .admitted
        .back()
        .map_or(i64::MIN, |&last| last + window_ms)
}
