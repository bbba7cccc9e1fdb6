//! Providers: where actions are delivered. The dataflow hands a [`ProviderCall`] to a provider
//! and goes on; the provider answers through the [`Reply`] when the call is done, possibly on
//! another thread (the AWS providers answer from a tokio runtime). The delivery operator holds
//! the call's capability until then, so a frontier means "every effect before it is done".

use serde::Serialize;
use serde_json::Value;
use std::sync::mpsc::Sender;
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
}

/// How a call ended, after the provider's own retries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallResult {
    pub success: bool,
    /// The response body (for a step result, what branches and templates read).
    pub body: Value,
    pub error: Option<String>,
    pub attempts: u32,
    pub duration_ms: u64,
}

/// Where a provider sends a call's result: the delivery operator that submitted it, woken up.
pub struct Reply {
    token: u64,
    sender: Sender<(u64, CallResult)>,
    activator: SyncActivator,
}

impl Reply {
    pub fn new(token: u64, sender: Sender<(u64, CallResult)>, activator: SyncActivator) -> Reply {
        Reply {
            token,
            sender,
            activator,
        }
    }

    /// Hands the result back. A dataflow that has already shut down no longer listens; the
    /// result is then dropped, which is all that can be done with it.
    pub fn send(self, result: CallResult) {
        if self.sender.send((self.token, result)).is_ok() {
            let _ = self.activator.activate();
        }
    }
}

pub trait Provider: Send + Sync {
    /// Starts `call`; `reply` receives the result exactly once.
    fn submit(&self, call: ProviderCall, reply: Reply);
}
