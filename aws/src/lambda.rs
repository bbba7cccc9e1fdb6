//! `aws-lambda`: synchronous Invoke (RequestResponse), one call per action.
//!
//! The event is the action's payload as it is. The result body is what the function returned,
//! except that an API-gateway style answer (an object whose `body` is a JSON string) yields the
//! parsed `body`: that is what chain branches read (`if body.anomaly == true`). A function
//! error (`FunctionError` set) is a failure, never retried: the function ran.

use crate::error::classify;
use acteon_delivery::Backend;
use acteon_delivery::CallError;
use acteon_engine::provider::ProviderCall;
use aws_sdk_lambda::primitives::Blob;
use serde_json::Value;

pub struct Lambda {
    pub client: aws_sdk_lambda::Client,
    pub function_name: String,
    pub qualifier: Option<String>,
}

/// The body branches see: a JSON string in `body` parsed, else the returned JSON.
pub fn result_body(returned: Value) -> Value {
    if let Some(Value::String(text)) = returned.get("body") {
        if let Ok(parsed) = serde_json::from_str::<Value>(text) {
            return parsed;
        }
    }
    returned
}

impl Lambda {
    async fn invoke(&self, event: Vec<u8>) -> Result<Value, CallError> {
        let output = self
            .client
            .invoke()
            .function_name(&self.function_name)
            .set_qualifier(self.qualifier.clone())
            .payload(Blob::new(event))
            .send()
            .await
            .map_err(classify)?;
        let bytes = output.payload().map(Blob::as_ref).unwrap_or_default();
        let returned: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
        };
        if let Some(kind) = output.function_error() {
            let message = returned
                .get("errorMessage")
                .map_or_else(|| returned.to_string(), crate::payload::text);
            let error_type = returned
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or(kind);
            return Err(CallError::fatal(format!(
                "function error ({kind}) {error_type}: {message}"
            )));
        }
        Ok(result_body(returned))
    }
}

impl Backend for Lambda {
    type Entry = Vec<u8>;
    const BATCH: usize = 1;

    fn prepare(&self, call: &ProviderCall) -> Result<Vec<u8>, String> {
        Ok(call.payload.text().as_bytes().to_vec())
    }

    async fn send(&self, entries: Vec<Vec<u8>>) -> Vec<Result<Value, CallError>> {
        let mut results = Vec::with_capacity(entries.len());
        for event in entries {
            results.push(self.invoke(event).await);
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_gateway_answers_yield_their_parsed_body() {
        let answer = json!({ "statusCode": 200, "body": "{\"anomaly\": true}" });
        assert_eq!(result_body(answer), json!({ "anomaly": true }));
        let plain = json!({ "logged": true, "body": "not json" });
        assert_eq!(result_body(plain.clone()), plain);
        assert_eq!(result_body(json!([1, 2])), json!([1, 2]));
    }
}
