//! The `log` provider kind: the call is written to the log, and that is the delivery.

use crate::provider::{Provider, ProviderCall, Reply};
use crate::providers::immediate_success;
use serde_json::json;

#[derive(Debug, Clone, Copy, Default)]
pub struct Log;

impl Provider for Log {
    fn submit(&self, call: ProviderCall, reply: Reply) {
        tracing::info!(
            provider = %call.provider,
            action_id = %call.action_id,
            namespace = %call.namespace,
            tenant = %call.tenant,
            action_type = %call.action_type,
            payload = %call.payload,
            "provider call"
        );
        reply.send(immediate_success(json!({ "logged": true })));
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
