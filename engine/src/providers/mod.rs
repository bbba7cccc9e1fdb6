//! The providers this crate ships, and the registry that picks one per provider of a plan.
//!
//! - [`breaker`]: circuit breakers around live providers, and their [`breaker::ProviderHealth`].
//! - [`dry_run`]: records every call instead of making it (`--dry-run DIR`, `acteon test`).
//! - [`log`]: the `log` provider kind: logs the call.
//! - [`registry`]: [`registry::ProviderRegistry`], a provider for every name of a plan.

pub mod breaker;
pub mod dry_run;
pub mod log;
pub mod registry;

use crate::provider::CallResult;
use serde_json::Value;

/// A call that ended at once, the first attempt, with `body`.
fn immediate_success(body: Value) -> CallResult {
    CallResult {
        success: true,
        body,
        error: None,
        attempts: 1,
        duration_ms: 0,
        delivered_by: None,
        failed_over: None,
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Replies need a timely activator; a throwaway worker provides one.

    use crate::provider::{CallResult, ProviderCall, Reply};
    use serde_json::json;
    use std::sync::mpsc::{channel, Receiver};

    /// A reply and where its result arrives.
    pub(crate) fn reply(token: u64) -> (Reply, Receiver<(u64, CallResult)>) {
        let activator = timely::execute_directly(|worker| worker.sync_activator_for(vec![0]));
        let (sender, receiver) = channel();
        (Reply::new(token, sender, activator), receiver)
    }

    pub(crate) fn call(provider: &str, action_id: &str) -> ProviderCall {
        ProviderCall {
            provider: provider.into(),
            action_id: action_id.into(),
            namespace: "iot".into(),
            tenant: "smartbuilding-hq".into(),
            action_type: "sensor_reading".into(),
            payload: json!({ "value": 92, "queue_url": "https://sqs/q" }).into(),
            idempotency_key: action_id.into(),
        }
    }
}
