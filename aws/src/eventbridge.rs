//! `aws-eventbridge`: PutEvents, up to 10 entries per call; entries that fail with a transient
//! code are retried on their own.
//!
//! `source` = the payload's `source`, else "acteon"; `detail_type` = the payload's
//! `detail_type` (or `detail-type`), else the action type; `detail` = the payload's `detail`
//! (an object or JSON text), else the whole payload. `resources` (strings) is honoured.
//! Result: `{event_id}`.

use crate::error::{classify, transient_code};
use crate::payload;
use acteon_delivery::Backend;
use acteon_delivery::CallError;
use acteon_engine::provider::ProviderCall;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{json, Value};

pub struct EventBridge {
    pub client: aws_sdk_eventbridge::Client,
    pub event_bus_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub source: String,
    pub detail_type: String,
    /// JSON text of an object.
    pub detail: String,
    pub resources: Vec<String>,
}

pub fn event(call: &ProviderCall) -> Result<Event, String> {
    let payload = call.payload.value();
    let detail = match payload::field(payload, &["detail"]) {
        Some(detail) => payload::json_object(detail),
        None => payload::json_object(payload),
    };
    Ok(Event {
        source: payload::string(payload, &["source"])?.unwrap_or_else(|| "acteon".to_owned()),
        detail_type: payload::string(payload, &["detail_type", "detail-type"])?
            .unwrap_or_else(|| call.action_type.to_string()),
        detail: Value::Object(detail).to_string(),
        resources: payload::string_list(payload, "resources")?,
    })
}

impl Backend for EventBridge {
    type Entry = Event;
    const BATCH: usize = 10;

    fn prepare(&self, call: &ProviderCall) -> Result<Event, String> {
        event(call)
    }

    async fn send(&self, events: Vec<Event>) -> Vec<Result<Value, CallError>> {
        let count = events.len();
        let entries = events
            .into_iter()
            .map(|event| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.event_bus_name)
                    .source(event.source)
                    .detail_type(event.detail_type)
                    .detail(event.detail)
                    .set_resources((!event.resources.is_empty()).then_some(event.resources))
                    .build()
            })
            .collect();
        let output = match self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => return vec![Err(classify(error)); count],
        };
        // Result entries are in request order.
        let mut answers = output.entries().iter();
        (0..count)
            .map(|_| match answers.next() {
                Some(answer) => match answer.error_code() {
                    None => Ok(json!({ "event_id": answer.event_id() })),
                    Some(code) => Err(CallError {
                        message: format!("{code}: {}", answer.error_message().unwrap_or_default()),
                        transient: transient_code(code),
                    }),
                },
                None => Err(CallError::fatal("missing from the PutEvents answer")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(payload: Value) -> ProviderCall {
        ProviderCall {
            provider: "bus".into(),
            action_id: "a".into(),
            namespace: "iot".into(),
            tenant: "t".into(),
            action_type: "device_lifecycle".into(),
            payload: payload.into(),
            idempotency_key: "a".into(),
        }
    }

    #[test]
    fn a_plain_payload_is_the_detail_of_an_acteon_event() {
        let sent = event(&call(json!({ "device_id": "d", "event": "online" }))).unwrap();
        assert_eq!(sent.source, "acteon");
        assert_eq!(sent.detail_type, "device_lifecycle");
        assert_eq!(sent.detail, r#"{"device_id":"d","event":"online"}"#);
    }

    #[test]
    fn named_fields_are_honoured_and_detail_may_be_json_text() {
        let sent = event(&call(json!({
            "source": "acteon.iot", "detail_type": "CriticalAlert",
            "detail": "{\"value\": 92}", "resources": ["arn:x"]
        })))
        .unwrap();
        assert_eq!(
            sent,
            Event {
                source: "acteon.iot".into(),
                detail_type: "CriticalAlert".into(),
                detail: r#"{"value":92}"#.into(),
                resources: vec!["arn:x".into()],
            }
        );
    }
}
