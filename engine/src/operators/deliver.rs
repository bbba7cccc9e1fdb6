//! Delivery: calls the provider a decision names, then renders the decision as an audit line.
//!
//! Ignores the frontier. Holds, per call in flight, the capability of the decision's time,
//! so the output frontier means "every call before it has completed"; releases it when the
//! provider's reply arrives (providers answer through a channel and wake this operator).
//! A call that a circuit breaker delivered to its fallback is audited `rerouted` to the
//! fallback, with `fallback: true` and the `original_target`.

use super::{AuditLine, Decision, Renderer};
use crate::provider::{CallResult, ProviderCall, Reply};
use crate::providers::registry::ProviderRegistry;
use crate::time::wall_clock_ms;
use acteon_dsl::plan::Outcome;
use serde_json::Value;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::mpsc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::progress::operate::FrontierInterest;

pub fn deliver<'s>(
    decisions: Stream<'s, u64, Vec<Decision>>,
    providers: ProviderRegistry,
    renderer: Rc<Renderer>,
) -> Stream<'s, u64, Vec<AuditLine>> {
    let mut builder = OperatorBuilder::new("Deliver".to_owned(), decisions.scope());
    let info = builder.operator_info();
    let activator = decisions
        .scope()
        .worker()
        .sync_activator_for(info.address.to_vec());
    let mut input = builder.new_input(decisions, Pipeline);
    builder.set_notify_for(0, FrontierInterest::Never);
    let (lines, lines_stream) = builder.new_output::<Vec<AuditLine>>();
    let mut lines = OutputBuilder::<_, CapacityContainerBuilder<Vec<AuditLine>>>::from(lines);

    builder.build(move |_capabilities| {
        let (sender, replies) = mpsc::channel::<(u64, CallResult)>();
        let mut in_flight: HashMap<u64, (Decision, Capability<u64>, i64)> = HashMap::new();
        let mut next_token = 0u64;
        move |_frontiers| {
            let mut output = lines.activate();
            input.for_each(|cap, data| {
                let Some(held) = cap.retain_least(0) else {
                    return;
                };
                let mut session = output.session(&cap);
                for decision in data.drain(..) {
                    let now = wall_clock_ms();
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
                        };
                        session.give(renderer.render(decision, Some(&result), now, now));
                        continue;
                    };
                    let action = &decision.flow.action;
                    let call = ProviderCall {
                        provider: decision.target.clone().unwrap_or_default(),
                        action_id: action.id.clone(),
                        namespace: action.namespace.clone(),
                        tenant: action.tenant.clone(),
                        action_type: action.action_type.clone(),
                        payload: action.payload.clone(),
                        idempotency_key: action.id.clone(),
                    };
                    let token = next_token;
                    next_token += 1;
                    in_flight.insert(token, (decision, held.clone(), now));
                    provider.submit(call, Reply::new(token, sender.clone(), activator.clone()));
                }
            });
            while let Ok((token, result)) = replies.try_recv() {
                if let Some((mut decision, cap, dispatched)) = in_flight.remove(&token) {
                    if let Some(fallback) = &result.delivered_by {
                        // A circuit breaker sent the call to its fallback: the record names
                        // the provider that was called and the one the rules chose.
                        decision.outcome = Outcome::Rerouted;
                        decision
                            .details
                            .insert("fallback".into(), Value::Bool(true));
                        decision
                            .details
                            .insert("original_target".into(), decision.target.clone().into());
                        decision.target = Some(fallback.clone());
                    }
                    output.session(&cap).give(renderer.render(
                        decision,
                        Some(&result),
                        dispatched,
                        wall_clock_ms(),
                    ));
                }
            }
        }
    });
    lines_stream
}
