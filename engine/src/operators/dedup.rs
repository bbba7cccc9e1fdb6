//! Dedup: the first sighting of a key within the TTL passes, a repeat is `deduplicated`.
//!
//! Exchanged by key: (rule, tenant, `by` value | dedup_key | id). Holds each loop time's
//! actions until the frontier passes it, then decides them in (event time, position) order.
//! State: per key the time its first sighting expires (a repeat does not extend it), and an
//! index from expiry to keys that forgets keys once their TTL has passed. With checkpoints,
//! the keys and their expiries are saved before the first time at or after a checkpoint's
//! epoch is decided, and restored (to the worker the exchange sends each key to) at start.
//!
//! With a [`DedupMemory`] (a served engine), every window opened is also written there, and a
//! key this operator has not seen is looked up there: a later dataflow running a changed plan
//! (a reload) then still drops repeats for the dedup rules that did not change.

use super::evaluate::LoopTime;
use super::{frontier_epoch, owns, route, Decision, Flow, HeldByTime};
use crate::checkpoint::store::encode;
use crate::checkpoint::Checkpointer;
use crate::eval::{Evaluator, RuleKind};
use acteon_dsl::plan::Outcome;
use serde_json::{Map, Value};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;

/// (rule, tenant, key): a key is always within its tenant.
pub type DedupKey = (u32, String, String);

fn dedup_key(evaluator: &Evaluator, flow: &Flow) -> DedupKey {
    let rule = flow.next_rule;
    let action = &flow.action;
    let mut key = String::new();
    let by = match &evaluator.rule(rule).kind {
        RuleKind::Dedup { by: Some(by), .. } => by.read(action),
        _ => None,
    };
    match by {
        Some(field) => field.push_key(&mut key),
        None => key.push_str(action.dedup_key.as_deref().unwrap_or(&action.id)),
    }
    (rule, action.tenant.clone(), key)
}

/// Dedup windows shared by successive dataflows, keyed by rule identity (its name and its
/// dedup settings: a rule whose settings change starts afresh), tenant and key. Clones share.
#[derive(Debug, Clone, Default)]
pub struct DedupMemory {
    windows: Arc<Mutex<HashMap<WindowKey, i64>>>,
}

/// (rule identity, tenant, key).
type WindowKey = (String, String, String);

/// Windows written between two sweeps of expired ones.
const SWEEP_EVERY: usize = 4096;

impl DedupMemory {
    pub fn new() -> DedupMemory {
        DedupMemory::default()
    }

    /// The identity of each rule of `plan`, by rule index: what must not change for a rule's
    /// windows to carry over.
    pub fn identities(plan: &acteon_dsl::plan::Plan) -> Vec<String> {
        plan.rules
            .iter()
            .map(|rule| {
                let settings = serde_json::to_string(&rule.action).unwrap_or_default();
                format!("{}\n{settings}", rule.name)
            })
            .collect()
    }

    fn expiry(&self, identity: &str, tenant: &str, key: &str) -> Option<i64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows
            .get(&(identity.to_owned(), tenant.to_owned(), key.to_owned()))
            .copied()
    }

    fn open(&self, identity: &str, tenant: &str, key: &str, expiry: i64, now: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.insert(
            (identity.to_owned(), tenant.to_owned(), key.to_owned()),
            expiry,
        );
        if windows.len().is_multiple_of(SWEEP_EVERY) {
            windows.retain(|_, &mut expiry| expiry > now);
        }
    }
}

/// A [`DedupMemory`] and the identities of the running plan's rules.
#[derive(Debug, Clone)]
pub struct SharedWindows {
    pub memory: DedupMemory,
    pub identities: Arc<Vec<String>>,
}

/// Returns the actions that pass (to resume at the next rule) and the `deduplicated` decisions.
pub fn dedup<'s>(
    flows: Stream<'s, LoopTime, Vec<Flow>>,
    evaluator: Arc<Evaluator>,
    max_lateness_ms: u64,
    checkpointer: Option<Arc<Checkpointer>>,
    shared: Option<SharedWindows>,
) -> (
    Stream<'s, LoopTime, Vec<Flow>>,
    Stream<'s, LoopTime, Vec<Decision>>,
) {
    let scope = flows.scope();
    let mut builder = OperatorBuilder::new("Dedup".to_owned(), scope);
    let router = Arc::clone(&evaluator);
    let mut input = builder.new_input(
        flows,
        Exchange::new(move |flow: &Flow| route(&dedup_key(&router, flow))),
    );
    let (passed, passed_stream) = builder.new_output::<Vec<Flow>>();
    let (repeated, repeated_stream) = builder.new_output::<Vec<Decision>>();
    let mut passed = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(passed);
    let mut repeated = OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(repeated);

    let (index, peers) = (scope.index(), scope.peers());
    builder.build(move |_capabilities| {
        let mut held = HeldByTime::default();
        let mut expiries: HashMap<DedupKey, i64> = HashMap::new();
        let mut by_expiry: BinaryHeap<Reverse<(i64, DedupKey)>> = BinaryHeap::new();
        let mut participant = checkpointer.map(|c| c.participant("dedup", index));
        if let Some(restored) = participant.as_ref().and_then(|p| p.restored()) {
            for (_, keys) in restored.parts::<Vec<(DedupKey, i64)>>("dedup") {
                for ((rule, tenant, key), expiry) in keys {
                    let Some(rule) = restored.rule(rule) else {
                        continue;
                    };
                    let key = (rule, tenant, key);
                    if owns(route(&key), index, peers) {
                        by_expiry.push(Reverse((expiry, key.clone())));
                        expiries.insert(key, expiry);
                    }
                }
            }
        }
        move |frontiers| {
            input.for_each(|cap, data| held.hold(&cap, data, 2));
            let mut passed = passed.activate();
            let mut repeated = repeated.activate();
            let snapshot =
                |expiries: &HashMap<DedupKey, i64>| encode(&expiries.iter().collect::<Vec<_>>());
            while let Some(time) = held.ready_time(&frontiers[0]) {
                if let Some(participant) = participant.as_mut() {
                    participant.reach(time.outer, |_| snapshot(&expiries));
                }
                let Some((time, caps, flows)) = held.next_ready(&frontiers[0]) else {
                    break;
                };
                // Late actions can still arrive this far behind the epoch: keep their keys.
                let horizon = time.outer as i64 - max_lateness_ms as i64;
                while let Some(Reverse((expiry, _))) = by_expiry.peek() {
                    if *expiry > horizon {
                        break;
                    }
                    let Some(Reverse((expiry, key))) = by_expiry.pop() else {
                        break;
                    };
                    if expiries.get(&key) == Some(&expiry) {
                        expiries.remove(&key);
                    }
                }
                let mut pass = passed.session(&caps[0]);
                let mut repeat = repeated.session(&caps[1]);
                for mut flow in flows {
                    let rule = flow.next_rule;
                    let RuleKind::Dedup { ttl_ms, .. } = evaluator.rule(rule).kind else {
                        continue;
                    };
                    let now = flow.action.event_time_ms;
                    let key = dedup_key(&evaluator, &flow);
                    let identity = shared
                        .as_ref()
                        .and_then(|s| Some((&s.memory, s.identities.get(rule as usize)?)));
                    let known = expiries.get(&key).copied().or_else(|| {
                        let (memory, identity) = identity?;
                        memory.expiry(identity, &key.1, &key.2)
                    });
                    match known.as_ref() {
                        Some(&expiry) if now < expiry => {
                            let mut details = Map::new();
                            details.insert("dedup_key".into(), Value::String(key.2));
                            details.insert("expires_in_ms".into(), Value::from(expiry - now));
                            repeat.give(Decision::record(
                                flow,
                                Some(rule),
                                Outcome::Deduplicated,
                                details,
                            ));
                        }
                        _ => {
                            let expiry = now + ttl_ms as i64;
                            if let Some((memory, identity)) = identity {
                                memory.open(identity, &key.1, &key.2, expiry, now);
                            }
                            expiries.insert(key.clone(), expiry);
                            by_expiry.push(Reverse((expiry, key)));
                            flow.next_rule = rule + 1;
                            pass.give(flow);
                        }
                    }
                }
            }
            if let Some(participant) = participant.as_mut() {
                participant.reach(frontier_epoch(&frontiers[0]), |_| snapshot(&expiries));
            }
        }
    });
    (passed_stream, repeated_stream)
}
