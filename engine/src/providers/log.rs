//! The `log` provider kind: the call is written to the log, and that is the delivery.

use crate::provider::{CallResult, Provider, ProviderCall, Reply};
use crate::providers::immediate_success;
use serde_json::json;

#[derive(Debug, Clone, Copy, Default)]
pub struct Log;

impl Log {
    fn log(call: &ProviderCall) -> CallResult {
        tracing::info!(
            provider = %call.provider,
            action_id = %call.action_id,
            namespace = %call.namespace,
            tenant = %call.tenant,
            action_type = %call.action_type,
            payload = %call.payload.text(),
            "provider call"
        );
        immediate_success(json!({ "logged": true }))
    }
}

impl Provider for Log {
    fn submit(&self, call: ProviderCall, reply: Reply) {
        reply.send(Log::log(&call));
    }

    fn make(&self, call: ProviderCall, _reply: &mut dyn FnMut() -> Reply) -> Option<CallResult> {
        Some(Log::log(&call))
    }

    fn answers_inline(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing;

    #[test]
    fn replies_success_at_once() {
        let (reply, results) = testing::reply(7);
        Log.submit(testing::call("audit-log", "a1"), reply);
        let (token, result) = results.try_recv().unwrap();
        assert_eq!(token, 7);
        assert!(result.success);
        assert_eq!(result.body, json!({ "logged": true }));
        assert_eq!(result.error, None);
    }
}
