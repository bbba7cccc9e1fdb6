//! Providers: where actions are delivered. The dataflow hands a [`ProviderCall`] to a provider
//! and goes on; the provider answers through the [`Reply`] when the call is done, possibly on
//! another thread (the AWS providers answer from a tokio runtime). The delivery operator holds
//! the call's capability until then, so a frontier means "every effect before it is done".

use crate::audit::record::Details;
use crate::json;
use crate::name::Name;
use crate::payload::Payload;
use serde::Serialize;
use serde_json::Value;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use timely::scheduling::activate::SyncActivator;

/// One call to make. Its parts are shared with the action and the audit: building one copies
/// no text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderCall {
    /// The provider's name in the script.
    pub provider: Name,
    pub action_id: Arc<str>,
    pub namespace: Name,
    pub tenant: Name,
    pub action_type: Name,
    pub payload: Payload,
    /// The same for every attempt and every replay of one effect: the action id for a
    /// delivery, [`crate::chains::step_key`] for a chain step. Targets that can deduplicate
    /// (FIFO queues and topics) or overwrite (S3 objects) are given it, so an action replayed
    /// after a restart does not repeat its effect there.
    pub idempotency_key: Arc<str>,
}

impl ProviderCall {
    /// The call as a JSON object's text, its fields in declaration order, then `extra` fields
    /// (each value already JSON): a dry-run line, a dead-letter entry.
    pub fn write_json(&self, out: &mut Vec<u8>, extra: &[(&str, &str)]) {
        out.extend_from_slice(b"{\"provider\":");
        json::string(out, &self.provider);
        out.extend_from_slice(b",\"action_id\":");
        json::string(out, &self.action_id);
        out.extend_from_slice(b",\"namespace\":");
        json::string(out, &self.namespace);
        out.extend_from_slice(b",\"tenant\":");
        json::string(out, &self.tenant);
        out.extend_from_slice(b",\"action_type\":");
        json::string(out, &self.action_type);
        out.extend_from_slice(b",\"payload\":");
        out.extend_from_slice(self.payload.text().as_bytes());
        out.extend_from_slice(b",\"idempotency_key\":");
        json::string(out, &self.idempotency_key);
        for (key, value) in extra {
            out.push(b',');
            json::key(out, key);
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'}');
    }
}

/// How a call ended, after the provider's own retries.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CallResult {
    pub success: bool,
    /// The response body (for a step result, what branches and templates read).
    pub body: Value,
    pub error: Option<String>,
    pub attempts: u32,
    pub duration_ms: u64,
    /// Set when a circuit breaker sent the call to a fallback: the provider that was called
    /// instead of the one named (the audit then says `rerouted` with `fallback: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_by: Option<String>,
    /// With `delivered_by`: the error of the named provider's call, when that call failed
    /// (after its retries) and the fallback took it then; `None` when its breaker was open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_over: Option<String>,
}

impl CallResult {
    /// When a circuit breaker sent the call to a fallback: says so in `details` (the path the
    /// call took: `breaker_open`, or `call_failed` with the named provider's error) and makes
    /// `target` the provider that was called; true then.
    pub fn reroute(&self, details: &mut Details, target: &mut Option<Name>) -> bool {
        let Some(fallback) = &self.delivered_by else {
            return false;
        };
        details.insert("fallback", true);
        details.insert("original_target", target.clone());
        match &self.failed_over {
            Some(error) => {
                details.insert("fallback_reason", "call_failed");
                details.insert("original_error", error.clone());
            }
            None => details.insert("fallback_reason", "breaker_open"),
        }
        *target = Some(fallback.as_str().into());
        true
    }
}

/// Where a provider sends a call's result: the delivery operator that submitted it, woken up,
/// possibly through wrappers (a circuit breaker) that look at the result on the way.
pub struct Reply {
    deliver: Box<dyn FnOnce(CallResult) + Send>,
}

impl Reply {
    pub fn new(token: u64, sender: Sender<(u64, CallResult)>, activator: SyncActivator) -> Reply {
        Reply {
            // A dataflow that has already shut down no longer listens; the result is then
            // dropped, which is all that can be done with it.
            deliver: Box::new(move |result| {
                if sender.send((token, result)).is_ok() {
                    let _ = activator.activate();
                }
            }),
        }
    }

    /// A reply that passes the result through `f` before this one receives it.
    pub fn map(self, f: impl FnOnce(CallResult) -> CallResult + Send + 'static) -> Reply {
        self.then(move |reply, result| reply.send(f(result)))
    }

    /// A reply that hands the result and this reply to `f`, which answers through the reply
    /// when it will (a circuit breaker sends a failed call on to a fallback first).
    pub fn then(self, f: impl FnOnce(Reply, CallResult) + Send + 'static) -> Reply {
        Reply {
            deliver: Box::new(move |result| f(self, result)),
        }
    }

    /// Hands the result back.
    pub fn send(self, result: CallResult) {
        (self.deliver)(result)
    }
}

pub trait Provider: Send + Sync {
    /// Starts `call`; `reply` receives the result exactly once.
    fn submit(&self, call: ProviderCall, reply: Reply);

    /// Makes `call`. A provider that answers at once on the caller's thread (dry runs, the
    /// log) returns the result, with no round trip through a [`Reply`]; any other submits the
    /// call with the reply `reply` builds and returns `None`, as does one that never answers.
    fn make(&self, call: ProviderCall, reply: &mut dyn FnMut() -> Reply) -> Option<CallResult> {
        self.submit(call, reply());
        None
    }

    /// Whether [`Provider::make`] answers at once (a circuit breaker around it then decides
    /// inline too).
    fn answers_inline(&self) -> bool {
        false
    }
}

/// Builds the live providers of kinds the engine does not deliver itself (the AWS kinds live
/// in another crate, which depends on this one). The CLI hands one to [`crate::RunConfig`].
pub trait ProviderFactory: Send + Sync + std::fmt::Debug {
    /// A provider for `provider`, or why it cannot be built (bad configuration).
    fn build(&self, provider: &acteon_dsl::plan::Provider) -> Result<Arc<dyn Provider>, String>;
}
