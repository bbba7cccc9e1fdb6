//! Providers: where actions are delivered. The dataflow hands a [`ProviderCall`] to a provider
//! and goes on; the provider answers through the [`Reply`] when the call is done, possibly on
//! another thread (the AWS providers answer from a tokio runtime). The delivery operator holds
//! the call's capability until then, so a frontier means "every effect before it is done".

use serde::Serialize;
use serde_json::Value;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use timely::scheduling::activate::SyncActivator;

/// One call to make.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderCall {
    /// The provider's name in the script.
    pub provider: String,
    pub action_id: String,
    pub namespace: String,
    pub tenant: String,
    pub action_type: String,
    pub payload: Value,
    /// The same for every attempt and every replay of one effect: the action id for a
    /// delivery, [`crate::chains::step_key`] for a chain step. Targets that can deduplicate
    /// (FIFO queues and topics) or overwrite (S3 objects) are given it, so an action replayed
    /// after a restart does not repeat its effect there.
    pub idempotency_key: String,
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
        Reply {
            deliver: Box::new(move |result| (self.deliver)(f(result))),
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
}

/// Builds the live providers of kinds the engine does not deliver itself (the AWS kinds live
/// in another crate, which depends on this one). The CLI hands one to [`crate::RunConfig`].
pub trait ProviderFactory: Send + Sync + std::fmt::Debug {
    /// A provider for `provider`, or why it cannot be built (bad configuration).
    fn build(&self, provider: &acteon_dsl::plan::Provider) -> Result<Arc<dyn Provider>, String>;
}
