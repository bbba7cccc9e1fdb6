//! The keyed-window operator. Dedup, throttle, quota and group are this one operator over
//! their own per-key logic ([`Window`]), one file each:
//! - [`dedup`]: the first sighting of a key within the TTL passes, a repeat is `deduplicated`.
//! - [`throttle`]: at most `limit` admissions per sliding window of event time, per key.
//! - [`quota`]: per-tenant fixed windows, before any rule.
//! - [`group`]: members are held per key and flushed as one batch.
//!
//! [`keyed`] builds two timely operators. `Key<kind>` computes each flow's [`Key`] once (the
//! rule and a 128-bit fingerprint of its tenant and key values) and stores it in the flow.
//! `<kind>` receives the flows exchanged by that key, so every key lives on one worker, and:
//! - holds each time's flows, with a capability per output, until the input frontier passes
//!   the time; then decides them in (event time, input position) order, so the same actions
//!   decide the same way with any number of workers and any routing;
//! - keeps each key's state, and forgets it once the time being decided has passed the
//!   state's expiry (an action is decided at its own epoch or not at all, so nothing that
//!   could still read the state can arrive);
//! - holds one capability per pending timer time (a group's deadline) on the decisions
//!   output, and fires the keys due then once the frontier passes it; a fired key's state is
//!   gone;
//! - with checkpoints, saves every key's state before deciding anything at or after a
//!   checkpoint's epoch, and restores at start the keys the exchange sends to this worker;
//! - given requests to flush held state now (groups: `DELETE /v1/groups/{key}`, one request to
//!   every worker), fires the keys a request names at the request's time, as it arrives.
//!
//! Its outputs (flows that pass, to resume at the next rule, and decisions) are read by
//! operators that exchange them back by the action's position ([`Flow::spread`]), so the work
//! after a key's decision is spread over the workers again.

pub mod dedup;
pub mod group;
pub mod quota;
pub mod throttle;

use super::{frontier_epoch, owns, Decision, Epoch, Flow};
use crate::checkpoint::store::encode;
use crate::checkpoint::{CheckpointError, Checkpointer, Restored};
use crate::control::GroupFlush;
use crate::eval::Field;
use crate::time::Epochs;
use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::{Capability, InputCapability};
use timely::dataflow::Stream;
use timely::progress::frontier::MutableAntichain;
use timely::progress::operate::FrontierInterest;
use timely::progress::Timestamp;
use xxhash_rust::xxh3::Xxh3Default;

/// A flow's key at a keyed rule: the rule (or quota) and a fingerprint of the tenant and the
/// key's values (not of the rule: a rule keeps its keys when a plan change renumbers it).
/// Fixed size, hashed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub rule: u32,
    /// The 128-bit fingerprint as two halves: `u128` would align the key (and every flow
    /// carrying one) to 16 bytes.
    pub print: [u64; 2],
}

impl Key {
    /// The worker-independent hash the exchange routes by.
    pub fn route(&self) -> u64 {
        (self.print[0] ^ self.print[1])
            .wrapping_add(u64::from(self.rule).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// Builds a key's fingerprint: each part is written with its length, so `("ab", "c")` and
/// `("a", "bc")` differ. XXH3-128: the same in every process, and collisions among even
/// billions of live keys are out of reach.
pub struct Fingerprint(Xxh3Default);

impl Default for Fingerprint {
    fn default() -> Fingerprint {
        Fingerprint(Xxh3Default::new())
    }
}

impl Fingerprint {
    pub fn text(&mut self, text: &str) -> &mut Fingerprint {
        self.0.update(&(text.len() as u64).to_le_bytes());
        self.0.update(text.as_bytes());
        self
    }

    /// A key value read from the action, as its key text (strings as they are, other values
    /// as JSON); an absent value is empty text.
    pub fn field(&mut self, field: Option<Field<'_>>) -> &mut Fingerprint {
        match field.as_ref().and_then(Field::as_str) {
            Some(text) => self.text(text),
            None => {
                let mut text = String::new();
                if let Some(field) = &field {
                    field.push_key(&mut text);
                }
                self.text(&text)
            }
        }
    }

    pub fn key(&self, rule: u32) -> Key {
        let print = self.0.digest128();
        Key {
            rule,
            print: [print as u64, (print >> 64) as u64],
        }
    }
}

/// What one decision (or one timer) produces.
#[derive(Default)]
pub struct Out {
    /// Actions that go on to the next rule.
    pub passed: Vec<Flow>,
    pub decided: Vec<Decision>,
}

/// One kind of keyed rule: what it keeps per key and how it decides.
pub trait Window: 'static {
    /// What one key keeps between actions.
    type State: Serialize + DeserializeOwned + 'static;
    /// The operator's name and its checkpoint part's.
    const NAME: &'static str;

    /// The flow's key; `None`: this kind has nothing to decide about it, and it passes.
    fn key(&self, flow: &Flow) -> Option<Key>;

    /// Decides `flow`, at its turn in (event time, position) order, against its key's
    /// `state` (`None` when the key has none; left `None` to forget the key).
    fn decide(&self, key: Key, state: &mut Option<Self::State>, flow: Flow, out: &mut Out);

    /// The event time (ms) from which the state is of no more use to any action.
    fn expires(&self, state: &Self::State) -> i64;

    /// The event time (ms) at which the state must fire, if it has a timer (a group's
    /// deadline).
    fn due(&self, _state: &Self::State) -> Option<i64> {
        None
    }

    /// The timer of a due state has passed: the state is handed over and forgotten.
    fn fire(&self, _key: Key, _state: Self::State, _out: &mut Out) {}

    /// Whether `request` names the held `state` of `key` (a waiting group).
    fn requested(&self, _key: Key, _state: &Self::State, _request: &GroupFlush) -> bool {
        false
    }

    /// A requested state is handed over now, at `at_ms`, and forgotten.
    fn fire_now(&self, key: Key, state: Self::State, _at_ms: i64, out: &mut Out) {
        self.fire(key, state, out)
    }

    /// A key saved in a restored checkpoint, renumbered for this plan; `None` when its rule
    /// (or quota) is gone.
    fn restore(&self, key: Key, restored: &Restored) -> Option<Key>;
}

/// Times keyed operators run at: a timer's time is built from an epoch and the rule.
pub trait WindowTime: Timestamp + Copy + Ord + Epoch {
    /// The time of `epoch` at `rule` (inside the rule loop: the rule's loop coordinate).
    fn at(epoch: u64, rule: u32) -> Self;
}

impl WindowTime for u64 {
    fn at(epoch: u64, _rule: u32) -> u64 {
        epoch
    }
}

impl WindowTime for super::evaluate::LoopTime {
    fn at(epoch: u64, rule: u32) -> Self {
        timely::order::Product::new(epoch, rule)
    }
}

/// What the operator needs besides its logic.
pub struct Settings {
    pub epochs: Epochs,
    pub checkpointer: Option<Arc<Checkpointer>>,
}

/// Per time: the capabilities of the two outputs and the flows to decide then.
type Held<T> = BTreeMap<T, ([Capability<T>; 2], Vec<Flow>)>;

/// Runs `logic` over `flows`: returns the flows that pass and the decisions. `flushes`, when
/// given, are this worker's requests to flush held state now.
#[allow(clippy::type_complexity)]
pub fn keyed<'s, T: WindowTime, W: Window>(
    flows: Stream<'s, T, Vec<Flow>>,
    logic: W,
    settings: Settings,
    flushes: Option<Stream<'s, T, Vec<GroupFlush>>>,
) -> (Stream<'s, T, Vec<Flow>>, Stream<'s, T, Vec<Decision>>) {
    let logic = Arc::new(logic);
    let keyed = key_stage(flows, Arc::clone(&logic));
    let scope = keyed.scope();
    let mut builder = OperatorBuilder::new(W::NAME.to_owned(), scope);
    let mut input = builder.new_input(
        keyed,
        Exchange::new(|flow: &Flow| flow.key.map_or_else(|| flow.spread(), |k| k.route())),
    );
    let mut flush_input = flushes.map(|flushes| builder.new_input(flushes, Pipeline));
    let (passed, passed_stream) = builder.new_output::<Vec<Flow>>();
    let (decided, decided_stream) = builder.new_output::<Vec<Decision>>();
    let mut passed = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(passed);
    let mut decided = OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(decided);

    let (index, peers) = (scope.index(), scope.peers());
    let Settings {
        epochs,
        checkpointer,
    } = settings;
    builder.build(move |mut capabilities| {
        let mut state = Keys::<T, W> {
            logic,
            epochs,
            states: FxHashMap::default(),
            expiries: BinaryHeap::new(),
            timers: BTreeMap::new(),
        };
        let mut participant = checkpointer.map(|c| c.participant(W::NAME, index));
        // The decisions output's initial capability: restored timers are held from it.
        let initial = capabilities.pop();
        if let (Some(restored), Some(initial)) = (
            participant.as_ref().and_then(|p| p.restored()),
            initial.as_ref(),
        ) {
            state.restore(restored, initial, (index, peers));
        }
        drop(initial);
        drop(capabilities);
        let mut held: Held<T> = BTreeMap::new();
        let mut out = Out::default();
        move |frontiers| {
            input.for_each(|cap, data| hold(&mut held, &cap, data));
            let mut passed = passed.activate();
            let mut decided = decided.activate();
            if let Some(flush_input) = flush_input.as_mut() {
                flush_input.for_each(|cap, requests| {
                    let Some(&time) = cap.stamp().iter().next() else {
                        return;
                    };
                    if let Some(participant) = participant.as_mut() {
                        participant.reach(time.epoch(), |_| state.snapshot());
                    }
                    for request in requests.drain(..) {
                        let flushed = state.fire_requested(&request, &mut out);
                        request.tally.report(flushed);
                    }
                    decided
                        .session(&cap.delayed(&time, 1))
                        .give_iterator(out.decided.drain(..));
                });
            }
            let frontier = &frontiers[0];
            loop {
                let flows_time = ready(&held, frontier);
                let timer_time = ready(&state.timers, frontier);
                let time = match (flows_time, timer_time) {
                    (None, None) => break,
                    // Flows first at the same time: a member that closes a group flushes it
                    // before its deadline would.
                    (Some(f), Some(t)) => f.min(t),
                    (Some(t), None) | (None, Some(t)) => t,
                };
                if let Some(participant) = participant.as_mut() {
                    participant.reach(time.epoch(), |_| state.snapshot());
                }
                if flows_time == Some(time) {
                    let Some(([pass_cap, decide_cap], mut flows)) = held.remove(&time) else {
                        break;
                    };
                    flows.sort_by_key(|flow| flow.action.order_key());
                    state.forget_expired(time.epoch() as i64);
                    for flow in flows {
                        state.decide(flow, &decide_cap, &mut out);
                    }
                    passed
                        .session(&pass_cap)
                        .give_iterator(out.passed.drain(..));
                    decided
                        .session(&decide_cap)
                        .give_iterator(out.decided.drain(..));
                } else {
                    let Some((cap, keys)) = state.timers.remove(&time) else {
                        break;
                    };
                    for key in keys {
                        state.fire_if_due(key, time, &mut out);
                    }
                    decided.session(&cap).give_iterator(out.decided.drain(..));
                }
            }
            if let Some(participant) = participant.as_mut() {
                participant.reach(frontier_epoch(frontier), |_| state.snapshot());
            }
        }
    });
    (passed_stream, decided_stream)
}

/// Computes each flow's key for `logic`, in place, before the exchange.
fn key_stage<'s, T: WindowTime, W: Window>(
    flows: Stream<'s, T, Vec<Flow>>,
    logic: Arc<W>,
) -> Stream<'s, T, Vec<Flow>> {
    let mut builder = OperatorBuilder::new(format!("Key{}", W::NAME), flows.scope());
    let mut input = builder.new_input(flows, Pipeline);
    builder.set_notify_for(0, FrontierInterest::Never);
    let (output, stream) = builder.new_output::<Vec<Flow>>();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(output);
    builder.build(move |_capabilities| {
        move |_frontiers| {
            let mut output = output.activate();
            input.for_each(|cap, data| {
                for flow in data.iter_mut() {
                    flow.key = logic.key(flow);
                }
                output.session(&cap).give_iterator(data.drain(..));
            });
        }
    });
    stream
}

fn hold<T: WindowTime>(held: &mut Held<T>, cap: &InputCapability<T>, data: &mut Vec<Flow>) {
    let Some(&time) = cap.stamp().iter().next() else {
        return;
    };
    held.entry(time)
        .or_insert_with(|| ([cap.delayed(&time, 0), cap.delayed(&time, 1)], Vec::new()))
        .1
        .append(data);
}

/// The earliest time of `map`, once the frontier has passed it.
fn ready<T: WindowTime, V>(map: &BTreeMap<T, V>, frontier: &MutableAntichain<T>) -> Option<T> {
    let (&time, _) = map.first_key_value()?;
    (!frontier.less_equal(&time)).then_some(time)
}

/// One worker's keys.
struct Keys<T: WindowTime, W: Window> {
    logic: Arc<W>,
    epochs: Epochs,
    states: FxHashMap<Key, W::State>,
    /// (expiry, key): a key whose expiry has passed is forgotten, unless it has moved since.
    expiries: BinaryHeap<Reverse<(i64, Key)>>,
    /// Per timer time, its capability (decisions output) and the keys that may be due then.
    timers: BTreeMap<T, (Capability<T>, Vec<Key>)>,
}

impl<T: WindowTime, W: Window> Keys<T, W> {
    fn decide(&mut self, flow: Flow, cap: &Capability<T>, out: &mut Out) {
        let Some(key) = flow.key else {
            out.passed.push(flow);
            return;
        };
        let mut state = self.states.remove(&key);
        let before = state
            .as_ref()
            .map(|s| (self.logic.expires(s), self.logic.due(s)));
        self.logic.decide(key, &mut state, flow, out);
        let Some(state) = state else {
            return;
        };
        let (expires, due) = (self.logic.expires(&state), self.logic.due(&state));
        if before.map(|b| b.0) != Some(expires) {
            self.expiries.push(Reverse((expires, key)));
        }
        if let Some(due) = due.filter(|_| before.map(|b| b.1) != Some(due)) {
            let time = self.timer_time(due, key.rule, cap.time().epoch());
            self.timers
                .entry(time)
                .or_insert_with(|| (cap.delayed(&time), Vec::new()))
                .1
                .push(key);
        }
        self.states.insert(key, state);
    }

    /// When a timer at `due_ms` fires: at its epoch, never before the time that set it.
    fn timer_time(&self, due_ms: i64, rule: u32, now_epoch: u64) -> T {
        T::at(self.epochs.of(due_ms).max(now_epoch), rule)
    }

    fn fire_if_due(&mut self, key: Key, time: T, out: &mut Out) {
        let due = self.states.get(&key).and_then(|s| self.logic.due(s));
        let Some(due) = due else {
            return;
        };
        // A key re-armed for a later time (or fired already) waits for that time.
        if self.timer_time(due, key.rule, 0) > time {
            return;
        }
        if let Some(state) = self.states.remove(&key) {
            self.logic.fire(key, state, out);
        }
    }

    /// Fires now every key `request` names; how many.
    fn fire_requested(&mut self, request: &GroupFlush, out: &mut Out) -> usize {
        let named: Vec<Key> = self
            .states
            .iter()
            .filter(|(key, state)| self.logic.requested(**key, state, request))
            .map(|(key, _)| *key)
            .collect();
        for key in &named {
            if let Some(state) = self.states.remove(key) {
                self.logic.fire_now(*key, state, request.at_ms, out);
            }
        }
        named.len()
    }

    /// Forgets the keys whose state expired at or before `horizon` (event time, ms).
    fn forget_expired(&mut self, horizon: i64) {
        while let Some(Reverse((expires, _))) = self.expiries.peek() {
            if *expires > horizon {
                break;
            }
            let Some(Reverse((_, key))) = self.expiries.pop() else {
                break;
            };
            // A key whose state moved on since has a later entry of its own.
            let current = self.states.get(&key).map(|s| self.logic.expires(s));
            if current.is_some_and(|current| current <= horizon) {
                self.states.remove(&key);
            }
        }
    }

    fn snapshot(&self) -> Result<Vec<u8>, CheckpointError> {
        encode(&self.states.iter().collect::<Vec<_>>())
    }

    fn restore(
        &mut self,
        restored: &Restored,
        initial: &Capability<T>,
        (index, peers): (usize, usize),
    ) {
        for (_, saved) in restored.parts::<Vec<(Key, W::State)>>(W::NAME) {
            for (key, state) in saved {
                let Some(key) = self.logic.restore(key, restored) else {
                    continue;
                };
                if !owns(key.route(), index, peers) {
                    continue;
                }
                self.expiries
                    .push(Reverse((self.logic.expires(&state), key)));
                if let Some(due) = self.logic.due(&state) {
                    let time = self.timer_time(due, key.rule, restored.epoch());
                    self.timers
                        .entry(time)
                        .or_insert_with(|| (initial.delayed(&time), Vec::new()))
                        .1
                        .push(key);
                }
                self.states.insert(key, state);
            }
        }
    }
}
