//! Chains: runs every started chain step by step, and audits each step and the chain's end.
//!
//! Each chain lives on the worker its action spreads to (where delivery decided to start it,
//! so starting one moves nothing); a sub-chain lives on its parent's worker (it is started
//! here, not routed), so a parent and its child never wait across workers.
//!
//! Steps are submitted to the providers from here, through the registry with a [`Reply`], the
//! same path `deliver` uses, rather than sent back to `deliver` through a feedback loop: a loop
//! would cost an epoch per step and a frontier that cannot pass a chain's start until it ends.
//!
//! Holds, per running chain (and per running sub-chain), one capability: at first the time of
//! the `chain_started` decision, downgraded to the input frontier whenever the chain emits a
//! record, so a long chain does not hold back the audit of later epochs. It is released when
//! the chain ends (completed, failed, timed out or cancelled).
//!
//! Time: a chain's timeout and a step's retry backoff are timers on the input frontier. A
//! timer fires once the frontier passes its epoch: on the event clock when the input's event
//! times do, on the processing clock when the wall clock does. Once the input has ended there
//! is no frontier left to follow, but calls are still in flight (a real Lambda answers in its
//! own time): the timers left then run on the wall clock, each for what remained of it when the
//! input ended, so a chain of a finite input completes if its providers answer within its
//! timeout and times out if they do not. Timers fire in time order, and answers that arrive at
//! once (dry-run providers) are taken before the next timer, so a replay with dry-run providers
//! gives the same audit every run. A step result arriving after its chain ended is ignored.
//!
//! With checkpoints, once the input frontier passes a checkpoint's epoch `E` (before anything
//! else of that activation), every chain started before `E` is saved with its step results, its
//! current step and its timers, and every chain's capability is moved up to `E`: a chain that
//! runs for long then does not keep the checkpoint's audit from completing. At start the saved
//! chains are resumed where the exchange sends their root: a step that was waiting for its
//! answer is issued again (at least once), a retry backoff or a sub-chain goes on waiting.

use super::{owns, AuditEntry, DeadLetter, Flow, Renderer};
use crate::action::Action;
use crate::audit::record::{AuditRecord, Details, RecordId};
use crate::chains::status::{ChainState, ChainStatus, ChainStore};
use crate::chains::template::Context;
use crate::chains::{chain_id, sub_chain_id, ChainBook, CompiledRun};
use crate::checkpoint::store::encode;
use crate::checkpoint::{CheckpointError, Checkpointer, Participant, Restored};
use crate::name::Name;
use crate::payload::Payload;
use crate::provider::{CallResult, ProviderCall, Reply};
use crate::providers::registry::ProviderRegistry;
use crate::time::{wall_clock_ms, wall_clock_us, Clock, Epochs};
use acteon_dsl::plan::{OnFailure, Outcome};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::progress::operate::FrontierInterest;
use timely::scheduling::SyncActivator;

/// A chain to start: the action a `chain` rule decided (its `records` counts the
/// `chain_started` record) and the chain's name.
pub type ChainStart = (Flow, Name);

/// What the chain operator needs besides its input.
pub struct ChainSettings {
    pub book: Arc<ChainBook>,
    pub providers: ProviderRegistry,
    pub store: ChainStore,
    pub renderer: Rc<Renderer>,
    pub epochs: Epochs,
    /// The largest event time this process has read: where event time stands when the input
    /// ends.
    pub watermark: Arc<AtomicI64>,
    /// With checkpoints: running chains are saved for them and resumed from them.
    pub checkpointer: Option<Arc<Checkpointer>>,
}

/// Events handled per activation before yielding to other operators; the operator then
/// reactivates itself.
const EVENTS_PER_ACTIVATION: usize = 4096;

pub fn chain<'s>(
    starts: Stream<'s, u64, Vec<ChainStart>>,
    settings: ChainSettings,
) -> Stream<'s, u64, Vec<AuditEntry>> {
    let scope = starts.scope();
    let mut builder = OperatorBuilder::new("Chain".to_owned(), scope);
    let info = builder.operator_info();
    let activator = scope.worker().sync_activator_for(info.address.to_vec());
    let mut input = builder.new_input(
        starts,
        Exchange::new(|(flow, _): &ChainStart| flow.spread()),
    );
    // Frontier changes matter only while chains run, and then a capability is held; with
    // checkpoints also when none runs, or the epochs it must save for would go unnoticed.
    let interest = match settings.checkpointer {
        Some(_) => FrontierInterest::Always,
        None => FrontierInterest::IfCapability,
    };
    builder.set_notify_for(0, interest);
    let (lines, lines_stream) = builder.new_output::<Vec<AuditEntry>>();
    let mut lines = OutputBuilder::<_, CapacityContainerBuilder<Vec<AuditEntry>>>::from(lines);

    let (index, peers) = (scope.index(), scope.peers());
    builder.build(move |mut capabilities| {
        settings.store.register(activator.clone());
        let mut participant = settings
            .checkpointer
            .as_ref()
            .map(|c| c.participant("chain", index));
        let (sender, replies) = mpsc::channel();
        let mut chains = Chains {
            settings,
            running: FxHashMap::default(),
            in_flight: FxHashMap::default(),
            timers: BTreeMap::new(),
            next_token: 0,
            frontier: Some(0),
            input_ended: None,
            wake: None,
            sender,
            activator,
            answered: VecDeque::new(),
            emitted: Vec::new(),
        };
        if let (Some(restored), Some(cap)) = (
            participant.as_ref().and_then(Participant::restored),
            capabilities.pop(),
        ) {
            chains.resume(restored, cap, (index, peers));
        }
        move |frontiers| {
            let frontier = frontiers[0].frontier().iter().next().copied();
            if let Some(participant) = participant.as_mut() {
                let upto = frontier.unwrap_or(u64::MAX);
                if let Some(epoch) = participant.reach(upto, |epoch| chains.snapshot(epoch)) {
                    chains.hold_no_earlier_than(epoch);
                }
            }
            if let (None, Some(last)) = (frontier, chains.frontier) {
                chains.input_ended = Some((Instant::now(), chains.time_at_end(last)));
            }
            chains.frontier = frontier;
            input.for_each(|cap, data| {
                let Some(cap) = cap.retain_least(0) else {
                    return;
                };
                for (flow, chain) in data.drain(..) {
                    chains.start_root(flow, &chain, &cap);
                }
            });
            chains.advance(&replies);
            let mut output = lines.activate();
            let mut emitted = chains.emitted.drain(..).peekable();
            while let Some((cap, line)) = emitted.next() {
                let mut session = output.session(&cap);
                session.give(line);
                while let Some((_, line)) = emitted.next_if(|(c, _)| c.time() == cap.time()) {
                    session.give(line);
                }
            }
        }
    });
    lines_stream
}

/// One worker's chains.
struct Chains {
    settings: ChainSettings,
    running: FxHashMap<Arc<str>, Running>,
    /// Provider call token -> chain id.
    in_flight: FxHashMap<u64, Arc<str>>,
    /// (epoch, sequence) -> (timer, its length in ms); the sequence keeps timers of one epoch
    /// in creation order.
    timers: BTreeMap<(u64, u64), (Timer, u64)>,
    next_token: u64,
    /// The input frontier's time; `None` once the input has ended.
    frontier: Option<u64>,
    /// When the input ended, and the frontier's last time before: timers left then run on the
    /// wall clock from there.
    input_ended: Option<(Instant, u64)>,
    /// The wall-clock wake-up asked for, if any (after the input ended).
    wake: Option<Instant>,
    sender: Sender<(u64, CallResult)>,
    activator: SyncActivator,
    /// Answers given at once by the provider (dry runs), in call order.
    answered: VecDeque<(u64, CallResult)>,
    /// Audit entries of this activation, each with the capability to send it at.
    emitted: Vec<(Capability<u64>, AuditEntry)>,
}

struct Running {
    chain: usize,
    /// The exchange's hash of the root chain's start: where it and its sub-chains live.
    home: u64,
    /// The epoch of the root chain's `chain_started` decision.
    started: u64,
    origin: Rc<Action>,
    /// The next record place among the origin action's records, shared with sub-chains.
    records: Rc<Cell<u32>>,
    parent: Option<Arc<str>>,
    cap: Capability<u64>,
    /// The chain's clock: on the event clock its start time, moved on by retry backoffs (so a
    /// replay is deterministic); on the processing clock the wall clock at its last event.
    time_ms: i64,
    step: usize,
    /// Retries made of the current step.
    retries: u32,
    /// The step that ran before the current one.
    prev: Option<usize>,
    /// Each step's response body, once it has run.
    bodies: Vec<Option<Value>>,
    waiting: Waiting,
    /// The current step's call, for its audit record and the dead-letter output.
    call: Option<ProviderCall>,
    /// When the current step was dispatched (wall clock).
    dispatched_ms: i64,
    /// The last finished step's result: a sub-chain's result for its parent.
    last: Option<CallResult>,
}

#[derive(Debug, Clone, PartialEq)]
enum Waiting {
    Call(u64),
    Backoff,
    SubChain(Arc<str>),
}

enum Timer {
    Deadline(Arc<str>),
    Retry { chain_id: Arc<str>, due_ms: i64 },
}

impl Chains {
    fn start_root(&mut self, flow: Flow, chain: &str, cap: &Capability<u64>) {
        let Some(index) = self.settings.book.index(chain) else {
            tracing::error!(chain, action_id = %flow.action.id, "a rule started an unknown chain");
            return;
        };
        let id = chain_id(&flow.action, chain);
        let time_ms = match self.settings.renderer.clock {
            Clock::Event => flow.action.event_time_ms,
            Clock::Processing => wall_clock_ms(),
        };
        let records = Rc::new(Cell::new(flow.records + 1));
        let root = Root {
            home: flow.spread(),
            started: *cap.time(),
        };
        self.start(
            index,
            id,
            Rc::from(flow.action),
            records,
            (None, root),
            cap.clone(),
            time_ms,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        chain: usize,
        id: Arc<str>,
        origin: Rc<Action>,
        records: Rc<Cell<u32>>,
        (parent, root): (Option<Arc<str>>, Root),
        cap: Capability<u64>,
        time_ms: i64,
    ) {
        let book = Arc::clone(&self.settings.book);
        let compiled = book.chain(chain);
        if compiled.steps.is_empty() {
            tracing::error!(chain = %compiled.name, "a chain without steps was started");
            return;
        }
        let status = running_status(&id, &compiled.name, &origin.id, parent.as_deref(), None);
        self.settings.store.insert(status);
        let deadline = self
            .settings
            .epochs
            .of(time_ms.saturating_add(compiled.timeout_ms as i64));
        self.timer(
            deadline,
            compiled.timeout_ms,
            Timer::Deadline(Arc::clone(&id)),
        );
        let steps = compiled.steps.len();
        self.running.insert(
            Arc::clone(&id),
            Running {
                chain,
                home: root.home,
                started: root.started,
                origin,
                records,
                parent,
                cap,
                time_ms,
                step: 0,
                retries: 0,
                prev: None,
                bodies: vec![None; steps],
                waiting: Waiting::Backoff,
                call: None,
                dispatched_ms: wall_clock_ms(),
                last: None,
            },
        );
        self.run_step(&id);
    }

    fn timer(&mut self, epoch: u64, length_ms: u64, timer: Timer) {
        let sequence = self.next_token;
        self.next_token += 1;
        self.timers.insert((epoch, sequence), (timer, length_ms));
    }

    /// The epoch time stood at when the input ended (its frontier went from `last` to none): on
    /// the event clock the latest event time read (the frontier may have jumped past it), on
    /// the processing clock now.
    fn time_at_end(&self, last: u64) -> u64 {
        let epochs = self.settings.epochs;
        match self.settings.renderer.clock {
            Clock::Event => match self.settings.watermark.load(Ordering::Relaxed) {
                i64::MIN => last,
                latest => last.max(epochs.of(latest)),
            },
            Clock::Processing => epochs.of(wall_clock_ms()),
        }
    }

    /// Whether `timer` still has work: its chain runs (and, for a retry, waits on it).
    fn is_live(&self, timer: &Timer) -> bool {
        match timer {
            Timer::Deadline(id) => self.running.contains_key(&**id),
            Timer::Retry { chain_id, .. } => self
                .running
                .get(&**chain_id)
                .is_some_and(|r| r.waiting == Waiting::Backoff),
        }
    }

    /// Whether the first timer, at `epoch` and `length_ms` long, is due. On the frontier while
    /// there is one; after the input ended, on the wall clock, asking to be woken when it is due.
    fn is_due(&mut self, epoch: u64, length_ms: u64, live: bool) -> bool {
        if let Some(time) = self.frontier {
            return time > epoch;
        }
        let Some((ended_at, last)) = self.input_ended else {
            return true;
        };
        if !live {
            return true;
        }
        let remaining_ms = epoch
            .saturating_sub(last)
            .saturating_mul(self.settings.epochs.length_ms())
            .min(length_ms);
        let due = ended_at + Duration::from_millis(remaining_ms);
        let now = Instant::now();
        if now >= due {
            return true;
        }
        if self.wake.is_none_or(|wake| wake <= now || wake > due) {
            self.wake = Some(due);
            let activator = self.activator.clone();
            std::thread::spawn(move || {
                std::thread::sleep(due - now);
                let _ = activator.activate();
            });
        }
        false
    }

    /// Takes cancels, answers and due timers until none is left (or the activation's share
    /// of work is done).
    fn advance(&mut self, replies: &Receiver<(u64, CallResult)>) {
        for _ in 0..EVENTS_PER_ACTIVATION {
            // Cancels first: a cancel asked for while a step ran wins over its answer.
            let cancels = {
                let running = &self.running;
                self.settings
                    .store
                    .take_cancels(|id| running.contains_key(id))
            };
            if !cancels.is_empty() {
                for id in cancels {
                    if let Some((id, _)) = self.running.get_key_value(&*id) {
                        let id = Arc::clone(id);
                        self.end(&id, ChainState::Cancelled, Some("cancelled".into()));
                    }
                }
                continue;
            }
            if let Some((token, result)) = self.answered.pop_front() {
                self.answer(token, result);
                continue;
            }
            if let Ok((token, result)) = replies.try_recv() {
                self.answer(token, result);
                continue;
            }
            let Some((&(epoch, sequence), (timer, length_ms))) = self.timers.first_key_value()
            else {
                return;
            };
            let (length_ms, live) = (*length_ms, self.is_live(timer));
            if !self.is_due(epoch, length_ms, live) {
                return;
            }
            let Some((timer, _)) = self.timers.remove(&(epoch, sequence)) else {
                return;
            };
            match timer {
                Timer::Deadline(id) => {
                    if let Some(running) = self.running.get(&*id) {
                        let timeout_ms = self.settings.book.chain(running.chain).timeout_ms;
                        self.end(
                            &id,
                            ChainState::TimedOut,
                            Some(format!("timed out after {timeout_ms} ms")),
                        );
                    }
                }
                Timer::Retry { chain_id, due_ms } => {
                    if let Some(running) = self.running.get_mut(&*chain_id) {
                        if running.waiting == Waiting::Backoff {
                            running.time_ms = match self.settings.renderer.clock {
                                Clock::Event => due_ms,
                                Clock::Processing => wall_clock_ms(),
                            };
                            self.run_step(&chain_id);
                        }
                    }
                }
            }
        }
        // Work is left: come back after the other operators have run.
        let _ = self.activator.activate();
    }

    fn answer(&mut self, token: u64, result: CallResult) {
        let Some(id) = self.in_flight.remove(&token) else {
            return;
        };
        // A chain that ended (timed out, cancelled) while the call ran ignores its answer.
        if self
            .running
            .get(&*id)
            .is_some_and(|r| r.waiting == Waiting::Call(token))
        {
            self.step_done(&id, result);
        }
    }

    /// Runs the current step of chain `id`: submits its call, or starts its sub-chain.
    fn run_step(&mut self, id: &Arc<str>) {
        let book = Arc::clone(&self.settings.book);
        let Some(running) = self.running.get_mut(id) else {
            return;
        };
        let step = &book.chain(running.chain).steps[running.step];
        running.dispatched_ms = wall_clock_ms();
        match &step.run {
            CompiledRun::Call {
                provider,
                action_type,
                payload,
            } => {
                let payload = payload.render(&Context {
                    origin: &running.origin,
                    prev: running.prev.and_then(|p| running.bodies[p].as_ref()),
                    steps: &running.bodies,
                    chain_id: id,
                    step_index: running.step,
                });
                let call = ProviderCall {
                    provider: provider.clone(),
                    action_id: Arc::clone(&running.origin.id),
                    namespace: running.origin.namespace.clone(),
                    tenant: running.origin.tenant.clone(),
                    action_type: action_type.clone(),
                    payload: Payload::trusted(payload, None),
                    idempotency_key: crate::chains::step_key(id, running.step),
                };
                running.call = Some(call.clone());
                let token = self.next_token;
                self.next_token += 1;
                running.waiting = Waiting::Call(token);
                self.settings.store.update(id, |status| {
                    status.state = ChainState::Running;
                    status.current_step = Some(step.name.to_string());
                });
                match self.settings.providers.get(provider) {
                    Some(target) => {
                        let (sender, activator) = (&self.sender, &self.activator);
                        let mut reply = || Reply::new(token, sender.clone(), activator.clone());
                        // Answered at once (a dry run): taken in turn with the other answers.
                        if let Some(result) = target.make(call, &mut reply) {
                            self.answered.push_back((token, result));
                        }
                        self.in_flight.insert(token, Arc::clone(id));
                    }
                    None => {
                        let error = format!("unknown provider `{provider}`");
                        self.step_done(id, failure(error));
                    }
                }
            }
            CompiledRun::SubChain(child) => {
                let child_id = sub_chain_id(id, &step.name);
                running.waiting = Waiting::SubChain(Arc::clone(&child_id));
                running.call = None;
                let (origin, records, cap, time_ms) = (
                    Rc::clone(&running.origin),
                    Rc::clone(&running.records),
                    running.cap.clone(),
                    running.time_ms,
                );
                let root = Root {
                    home: running.home,
                    started: running.started,
                };
                self.settings.store.update(id, |status| {
                    status.state = ChainState::WaitingForSubChain;
                    status.current_step = Some(step.name.to_string());
                    status.sub_chain = Some(child_id.to_string());
                });
                let parent = Some(Arc::clone(id));
                let family = (parent, root);
                self.start(*child, child_id, origin, records, family, cap, time_ms);
            }
        }
    }

    /// The current step of chain `id` has its result: retry it, or record it and go on.
    fn step_done(&mut self, id: &Arc<str>, result: CallResult) {
        let book = Arc::clone(&self.settings.book);
        let clock = self.settings.renderer.clock;
        let Some(running) = self.running.get_mut(id) else {
            return;
        };
        let chain = book.chain(running.chain);
        let step = &chain.steps[running.step];
        if !result.success && step.retry.is_some_and(|r| running.retries < r.max) {
            running.retries += 1;
            running.waiting = Waiting::Backoff;
            let backoff = step.retry.map_or(0, |r| r.backoff_ms) as i64;
            let due_ms = match clock {
                Clock::Event => running.time_ms,
                Clock::Processing => wall_clock_ms(),
            } + backoff;
            let epoch = self.settings.epochs.of(due_ms);
            let chain_id = Arc::clone(id);
            self.timer(epoch, backoff as u64, Timer::Retry { chain_id, due_ms });
            return;
        }
        let index = running.step;
        let mut details = Details::new()
            .with("chain", chain.name.clone())
            .with("step", step.name.clone())
            .with("step_index", index)
            .with("attempts", running.retries + 1)
            .with("response", result.body.clone())
            .with("error", result.error.clone());
        if let Waiting::SubChain(child) = &running.waiting {
            details.insert("sub_chain", child.to_string());
        }
        let outcome = if result.success {
            Outcome::ChainStepCompleted
        } else {
            details.insert("on_failure", on_failure_name(step.on_failure));
            Outcome::ChainStepFailed
        };
        let call = running.call.take();
        let dead_letter = (!result.success && step.on_failure == OnFailure::Dlq).then(|| {
            DeadLetter::Entry {
                position: running.origin.position,
                reason: result.error.clone().unwrap_or_default(),
                entry: json!({ "chain_id": &**id, "step": &*step.name, "reason": result.error, "call": call })
                    .to_string(),
            }
        });
        let mut target = call.as_ref().map(|c| c.provider.clone());
        // A circuit breaker sent the step's call to its fallback: say where it went.
        result.reroute(&mut details, &mut target);
        let payload = call.map(|c| c.payload);
        self.emit(id, outcome, target, details, payload, dead_letter);

        let Some(running) = self.running.get_mut(id) else {
            return;
        };
        running.bodies[index] = Some(result.body.clone());
        running.prev = Some(index);
        running.retries = 0;
        self.settings.store.update(id, |status| {
            status.path.push(step.name.to_string());
            status.sub_chain = None;
            status.results.insert(step.name.to_string(), result.clone());
        });
        if !result.success && step.on_failure != OnFailure::Skip {
            let error = result.error.unwrap_or_else(|| "the step failed".into());
            self.end(
                id,
                ChainState::Failed,
                Some(format!("step `{}`: {error}", step.name)),
            );
            return;
        }
        let next = step.next(index, chain.steps.len(), &result);
        running.last = Some(result);
        match next {
            Some(next) => {
                running.step = next;
                self.run_step(id);
            }
            None => self.end(id, ChainState::Completed, None),
        }
    }

    /// Ends chain `id`: its running sub-chain is cancelled, its end is recorded, and a parent
    /// waiting for it takes its result.
    fn end(&mut self, id: &Arc<str>, state: ChainState, error: Option<String>) {
        let Some(running) = self.running.get(id) else {
            return;
        };
        let chain = self.settings.book.chain(running.chain).name.clone();
        let mut details = Details::new().with("chain", chain.clone());
        if let Some(parent) = &running.parent {
            details.insert("parent", parent.to_string());
        }
        details.insert("error", error.clone());
        let outcome = match state {
            ChainState::Completed => Outcome::ChainCompleted,
            ChainState::TimedOut => Outcome::ChainTimedOut,
            ChainState::Cancelled => Outcome::ChainCancelled,
            _ => Outcome::ChainFailed,
        };
        self.emit(id, outcome, None, details, None, None);
        let Some(running) = self.running.remove(id) else {
            return;
        };
        self.settings.store.finish(id, |status| {
            status.state = state;
            status.error = error.clone();
            status.finished_at_us = Some(wall_clock_us());
        });
        if let Waiting::SubChain(child) = &running.waiting {
            // The parent is gone first, so the child's end does not come back to it.
            self.end(
                child,
                ChainState::Cancelled,
                Some(format!("parent chain {}", state_name(state))),
            );
        }
        let Some(parent) = &running.parent else {
            return;
        };
        let Some(waiting) = self.running.get_mut(parent) else {
            return;
        };
        if waiting.waiting != Waiting::SubChain(Arc::clone(id)) {
            return;
        }
        waiting.time_ms = waiting.time_ms.max(running.time_ms);
        let result = match (state, running.last) {
            (ChainState::Completed, Some(last)) => last,
            _ => failure(format!(
                "sub-chain `{chain}` {}: {}",
                state_name(state),
                error.unwrap_or_default()
            )),
        };
        let parent = parent.clone();
        self.step_done(&parent, result);
    }

    /// Records an audit line about chain `id`, at its capability moved up to the frontier.
    fn emit(
        &mut self,
        id: &Arc<str>,
        outcome: Outcome,
        target: Option<Name>,
        details: Details,
        payload: Option<Payload>,
        dead_letter: Option<DeadLetter>,
    ) {
        let Some(running) = self.running.get_mut(id) else {
            return;
        };
        if let Some(time) = self.frontier {
            if *running.cap.time() < time {
                running.cap.downgrade(&time);
            }
        }
        let renderer = &self.settings.renderer;
        let origin = &running.origin;
        let place = running.records.get();
        running.records.set(place + 1);
        let now = wall_clock_ms();
        let (dispatched, completed) = match renderer.clock {
            Clock::Event => (running.time_ms, running.time_ms),
            Clock::Processing => (running.dispatched_ms, now),
        };
        let record = AuditRecord {
            id: RecordId::new(Arc::clone(&origin.id), origin.position, place),
            action_id: Arc::clone(&origin.id),
            namespace: origin.namespace.clone(),
            tenant: origin.tenant.clone(),
            action_type: origin.action_type.clone(),
            provider: origin.provider.clone(),
            target,
            rule: None,
            outcome,
            details,
            payload: payload
                .filter(|_| renderer.store_payload)
                .map(|p| p.redacted(&renderer.redactor)),
            chain_id: Some(Arc::clone(id)),
            dispatched_at_ms: dispatched,
            completed_at_ms: completed,
            duration_ms: (completed - dispatched).max(0) as u64,
            expires_at_ms: renderer.ttl.expires_at_ms(
                &origin.namespace,
                &origin.tenant,
                dispatched,
            ),
        };
        let order = (origin.event_time_ms, origin.position, place);
        let entry = renderer.entry(record, order, dead_letter);
        self.emitted.push((running.cap.clone(), entry));
    }
}

/// Where a root chain and its sub-chains live, and when the root started.
#[derive(Clone, Copy)]
struct Root {
    home: u64,
    started: u64,
}

/// A running chain as a checkpoint keeps it (as JSON: step results are any JSON value).
#[derive(Serialize, Deserialize)]
struct SavedChain {
    id: Arc<str>,
    /// The chain's name: it is resumed only if the plan still has a chain of that name with
    /// as many steps.
    chain: String,
    origin: Action,
    /// The next record place among the origin action's records.
    records: u32,
    parent: Option<Arc<str>>,
    home: u64,
    started: u64,
    time_ms: i64,
    step: usize,
    retries: u32,
    prev: Option<usize>,
    bodies: Vec<Option<Value>>,
    waiting: SavedWaiting,
    last: Option<CallResult>,
    /// The timeout's timer: (epoch, length in ms).
    deadline: Option<(u64, u64)>,
}

#[derive(Serialize, Deserialize)]
enum SavedWaiting {
    /// For the current step's answer: the step is issued again.
    Call,
    /// For a retry's backoff: (epoch, length in ms, due time).
    Backoff(Option<(u64, u64, i64)>),
    SubChain(Arc<str>),
}

impl Chains {
    /// The chains started before `epoch`, each as JSON.
    fn snapshot(&self, epoch: u64) -> Result<Vec<u8>, CheckpointError> {
        let saved: Vec<String> = self
            .running
            .iter()
            .filter(|(_, running)| running.started < epoch)
            .map(|(id, running)| serde_json::to_string(&self.saved(id, running)))
            .collect::<Result<_, _>>()
            .map_err(|e| CheckpointError::Encode(e.to_string()))?;
        encode(&saved)
    }

    fn saved(&self, id: &str, running: &Running) -> SavedChain {
        let mut deadline = None;
        let mut backoff = None;
        for (&(epoch, _), (timer, length_ms)) in &self.timers {
            match timer {
                Timer::Deadline(of) if **of == *id => deadline = Some((epoch, *length_ms)),
                Timer::Retry { chain_id, due_ms } if **chain_id == *id => {
                    backoff = Some((epoch, *length_ms, *due_ms))
                }
                _ => {}
            }
        }
        SavedChain {
            id: id.into(),
            chain: self.settings.book.chain(running.chain).name.to_string(),
            origin: (*running.origin).clone(),
            records: running.records.get(),
            parent: running.parent.clone(),
            home: running.home,
            started: running.started,
            time_ms: running.time_ms,
            step: running.step,
            retries: running.retries,
            prev: running.prev,
            bodies: running.bodies.clone(),
            waiting: match &running.waiting {
                Waiting::Call(_) => SavedWaiting::Call,
                Waiting::Backoff => SavedWaiting::Backoff(backoff),
                Waiting::SubChain(child) => SavedWaiting::SubChain(child.clone()),
            },
            last: running.last.clone(),
            deadline,
        }
    }

    /// After a checkpoint at `epoch`: every chain's records from now on belong to `epoch` or
    /// later, so no capability needs to stay earlier.
    fn hold_no_earlier_than(&mut self, epoch: u64) {
        for running in self.running.values_mut() {
            if *running.cap.time() < epoch {
                running.cap.downgrade(&epoch);
            }
        }
    }

    /// Resumes the restored checkpoint's chains whose root lives on worker `index` of `peers`,
    /// at `cap` moved to the checkpoint's epoch; steps that waited for an answer are issued
    /// again.
    fn resume(
        &mut self,
        restored: &Restored,
        mut cap: Capability<u64>,
        (index, peers): (usize, usize),
    ) {
        cap.downgrade(&restored.epoch());
        let book = Arc::clone(&self.settings.book);
        // The record places of one origin action are shared by its chain and sub-chains.
        let mut places: HashMap<String, Rc<Cell<u32>>> = HashMap::new();
        let mut reissue = Vec::new();
        for (_, entries) in restored.parts::<Vec<String>>("chain") {
            for entry in entries {
                let saved: SavedChain = match serde_json::from_str(&entry) {
                    Ok(saved) => saved,
                    Err(error) => {
                        tracing::error!(%error, "a checkpoint's chain is not resumed");
                        continue;
                    }
                };
                if !owns(saved.home, index, peers) {
                    continue;
                }
                let chain = book
                    .index(&saved.chain)
                    .filter(|&c| book.chain(c).steps.len() == saved.bodies.len());
                let Some(chain) = chain else {
                    tracing::warn!(chain = %saved.chain, chain_id = %saved.id, "the checkpoint's running chain is dropped: the chain was changed or removed");
                    continue;
                };
                let records = places
                    .entry(saved.origin.id.to_string())
                    .or_insert_with(|| Rc::new(Cell::new(0)));
                records.set(records.get().max(saved.records));
                let id = saved.id;
                let steps = book.chain(chain).steps.len();
                let step = book.chain(chain).steps.get(saved.step);
                self.settings.store.insert(running_status(
                    &id,
                    &saved.chain,
                    &saved.origin.id,
                    saved.parent.as_deref(),
                    step.map(|s| s.name.to_string()),
                ));
                if let Some((epoch, length_ms)) = saved.deadline {
                    self.timer(epoch, length_ms, Timer::Deadline(id.clone()));
                }
                let waiting = match saved.waiting {
                    SavedWaiting::Call => {
                        reissue.push(id.clone());
                        Waiting::Backoff
                    }
                    SavedWaiting::Backoff(timer) => {
                        if let Some((epoch, length_ms, due_ms)) = timer {
                            let chain_id = id.clone();
                            self.timer(epoch, length_ms, Timer::Retry { chain_id, due_ms });
                        }
                        Waiting::Backoff
                    }
                    SavedWaiting::SubChain(child) => Waiting::SubChain(child),
                };
                let mut bodies = saved.bodies;
                bodies.resize(steps, None);
                self.running.insert(
                    id,
                    Running {
                        chain,
                        home: saved.home,
                        started: saved.started,
                        origin: Rc::new(saved.origin),
                        records: Rc::clone(records),
                        parent: saved.parent,
                        cap: cap.clone(),
                        time_ms: saved.time_ms,
                        step: saved.step.min(steps - 1),
                        retries: saved.retries,
                        prev: saved.prev,
                        bodies,
                        waiting,
                        call: None,
                        dispatched_ms: wall_clock_ms(),
                        last: saved.last,
                    },
                );
            }
        }
        if !self.running.is_empty() {
            tracing::warn!(
                chains = self.running.len(),
                reissued = reissue.len(),
                "running chains resumed from the checkpoint"
            );
        }
        for id in reissue {
            self.run_step(&id);
        }
    }
}

/// The status of a chain that starts (or resumes) running now.
fn running_status(
    id: &str,
    chain: &str,
    action_id: &str,
    parent: Option<&str>,
    current_step: Option<String>,
) -> ChainStatus {
    ChainStatus {
        chain_id: id.to_owned(),
        chain: chain.to_owned(),
        action_id: action_id.to_owned(),
        parent: parent.map(str::to_owned),
        state: ChainState::Running,
        current_step,
        sub_chain: None,
        path: Vec::new(),
        results: BTreeMap::new(),
        error: None,
        started_at_us: wall_clock_us(),
        finished_at_us: None,
    }
}

fn failure(error: String) -> CallResult {
    CallResult {
        success: false,
        body: Value::Null,
        error: Some(error),
        attempts: 0,
        duration_ms: 0,
        delivered_by: None,
        failed_over: None,
    }
}

fn on_failure_name(on_failure: OnFailure) -> &'static str {
    match on_failure {
        OnFailure::Abort => "abort",
        OnFailure::Skip => "skip",
        OnFailure::Dlq => "dlq",
    }
}

fn state_name(state: ChainState) -> &'static str {
    match state {
        ChainState::Running | ChainState::WaitingForSubChain => "running",
        ChainState::Completed => "completed",
        ChainState::Failed => "failed",
        ChainState::TimedOut => "timed out",
        ChainState::Cancelled => "cancelled",
    }
}
