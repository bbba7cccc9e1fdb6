//! Delivery: calls the provider a decision names, then renders the decision as an audit entry;
//! a `chain_started` decision also goes out, with its chain's name, to the chain operator.
//!
//! Decisions arrive exchanged by the action's position, so delivery and rendering are spread
//! over the workers whatever worker decided. Ignores the frontier. A provider that answers at
//! once (dry runs, the log) is answered inline. For any other, holds, per call in flight, the
//! capability of the decision's time, so the output frontier means "every call before it has
//! completed"; releases it when the provider's reply arrives (providers answer through a
//! channel and wake this operator). A call that a circuit breaker delivered to its fallback is
//! audited `rerouted` to the fallback, with `fallback: true` and the `original_target`. A
//! delivery that fails with no fallback to take it also goes to the dead-letter output (the
//! dead-letter file, or a Kafka feed's dead-letter topic), so the action is not lost with it.

use super::chain::ChainStart;
use super::{AuditEntry, DeadLetter, Decision, Renderer};
use crate::audit::record::Detail;
use crate::provider::{CallResult, ProviderCall, Reply};
use crate::providers::registry::ProviderRegistry;
use crate::time::wall_clock_ms;
use acteon_dsl::plan::Outcome;
use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::progress::operate::FrontierInterest;

/// Returns the audit entries and the chains to start.
pub fn deliver<'s>(
    decisions: Stream<'s, u64, Vec<Decision>>,
    providers: ProviderRegistry,
    renderer: Rc<Renderer>,
) -> (
    Stream<'s, u64, Vec<AuditEntry>>,
    Stream<'s, u64, Vec<ChainStart>>,
) {
    let mut builder = OperatorBuilder::new("Deliver".to_owned(), decisions.scope());
    let info = builder.operator_info();
    let activator = decisions
        .scope()
        .worker()
        .sync_activator_for(info.address.to_vec());
    let mut input = builder.new_input(
        decisions,
        Exchange::new(|decision: &Decision| decision.flow.spread()),
    );
    builder.set_notify_for(0, FrontierInterest::Never);
    let (entries, entries_stream) = builder.new_output::<Vec<AuditEntry>>();
    let mut entries = OutputBuilder::<_, CapacityContainerBuilder<Vec<AuditEntry>>>::from(entries);
    let (starts, starts_stream) = builder.new_output::<Vec<ChainStart>>();
    let mut starts = OutputBuilder::<_, CapacityContainerBuilder<Vec<ChainStart>>>::from(starts);

    builder.build(move |_capabilities| {
        let (sender, replies) = mpsc::channel::<(u64, CallResult)>();
        let mut in_flight: FxHashMap<u64, (Decision, Capability<u64>, i64)> = FxHashMap::default();
        let mut next_token = 0u64;
        move |_frontiers| {
            let mut output = entries.activate();
            let mut starts = starts.activate();
            input.for_each(|cap, data| {
                let Some(held) = cap.retain_least(0) else {
                    return;
                };
                let mut session = output.session(&cap);
                let mut started = starts.session(&cap);
                for decision in data.drain(..) {
                    let now = wall_clock_ms();
                    if let Some(Detail::Name(chain)) = decision
                        .details
                        .get("chain")
                        .filter(|_| decision.outcome == Outcome::ChainStarted)
                    {
                        started.give((decision.flow.clone(), chain.clone()));
                    }
                    if !decision.deliver {
                        session.give(renderer.render(decision, None, now, now));
                        continue;
                    }
                    let provider = decision
                        .target
                        .as_ref()
                        .and_then(|name| providers.get(name));
                    let Some(provider) = provider else {
                        let error = match &decision.target {
                            None => "no provider".to_owned(),
                            Some(name) => format!("unknown provider `{name}`"),
                        };
                        let result = CallResult {
                            success: false,
                            body: Value::Null,
                            error: Some(error),
                            attempts: 0,
                            duration_ms: 0,
                            delivered_by: None,
                            failed_over: None,
                        };
                        session.give(answered(&renderer, decision, &result, now));
                        continue;
                    };
                    let action = &decision.flow.action;
                    let call = ProviderCall {
                        provider: decision.target.clone().unwrap_or_else(|| "".into()),
                        action_id: Arc::clone(&action.id),
                        namespace: action.namespace.clone(),
                        tenant: action.tenant.clone(),
                        action_type: action.action_type.clone(),
                        payload: action.payload.clone(),
                        idempotency_key: Arc::clone(&action.id),
                    };
                    let token = next_token;
                    let mut reply = || {
                        next_token += 1;
                        Reply::new(token, sender.clone(), activator.clone())
                    };
                    match provider.make(call, &mut reply) {
                        Some(result) => {
                            let entry = answered(&renderer, decision, &result, now);
                            session.give(entry);
                        }
                        None => {
                            in_flight.insert(token, (decision, held.clone(), now));
                        }
                    }
                }
            });
            while let Ok((token, result)) = replies.try_recv() {
                if let Some((decision, cap, dispatched)) = in_flight.remove(&token) {
                    let entry = answered(&renderer, decision, &result, dispatched);
                    output.session(&cap).give(entry);
                }
            }
        }
    });
    (entries_stream, starts_stream)
}

/// The entry of a delivered decision, given its call's result.
fn answered(
    renderer: &Renderer,
    mut decision: Decision,
    result: &CallResult,
    dispatched: i64,
) -> AuditEntry {
    // A circuit breaker sent the call to its fallback: the record names the provider that was
    // called and the one the rules chose.
    if result.reroute(&mut decision.details, &mut decision.target) {
        decision.outcome = Outcome::Rerouted;
    }
    let dead_letter = (!result.success).then(|| {
        let action = &decision.flow.action;
        let reason = result
            .error
            .clone()
            .unwrap_or_else(|| "the delivery failed".into());
        let entry = json!({
            "action_id": &*action.id,
            "namespace": &action.namespace,
            "tenant": &action.tenant,
            "action_type": &action.action_type,
            "provider": &decision.target,
            "reason": &reason,
            "payload": &action.payload,
        });
        DeadLetter::Entry {
            position: action.position,
            reason,
            entry: entry.to_string(),
        }
    });
    let mut entry = renderer.render(decision, Some(result), dispatched, wall_clock_ms());
    entry.dead_letter = dead_letter.map(Box::new);
    entry
}
