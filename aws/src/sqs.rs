//! `aws-sqs`: SendMessage, or SendMessageBatch (10 per call) when several calls are ready.
//!
//! Body: the payload's `message_body` or `message` (a string as it is, other JSON as text),
//! else the whole payload as JSON text. `delay_seconds`, `message_group_id`,
//! `message_deduplication_id` (or `message_dedup_id`) and `message_attributes` (an object of
//! strings) are honoured. A FIFO queue (`.fifo`) is given the call's deduplication id when the
//! payload names none, so a replayed action is not queued twice (see [`crate::idempotency`]).
//! Result: `{message_id}`.

use crate::batch;
use crate::error::classify;
use crate::{idempotency, payload};
use acteon_delivery::Backend;
use acteon_delivery::CallError;
use acteon_engine::provider::ProviderCall;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use serde_json::{json, Value};

pub struct Sqs {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub body: String,
    pub delay_seconds: Option<i32>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub attributes: Vec<(String, String)>,
}

/// The message for `call`; `fifo`: the queue is a FIFO queue.
pub fn message(call: &ProviderCall, fifo: bool) -> Result<Message, String> {
    let payload = call.payload.value();
    let body = payload::field(payload, &["message_body", "message"])
        .map_or_else(|| payload.to_string(), payload::text);
    let delay_seconds = match payload::field(payload, &["delay_seconds"]) {
        None => None,
        Some(value) => Some(
            value
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or("payload field `delay_seconds` must be a whole number of seconds")?,
        ),
    };
    Ok(Message {
        body,
        delay_seconds,
        group_id: payload::string(payload, &["message_group_id"])?,
        deduplication_id: idempotency::choose(
            payload::string(payload, &["message_deduplication_id", "message_dedup_id"])?,
            fifo,
            call,
        ),
        attributes: payload::string_map(payload, "message_attributes")?,
    })
}

fn attribute(value: &str) -> Result<MessageAttributeValue, CallError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| CallError::fatal(e.to_string()))
}

impl Sqs {
    async fn send_one(&self, message: Message) -> Result<Value, CallError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message.body)
            .set_delay_seconds(message.delay_seconds)
            .set_message_group_id(message.group_id)
            .set_message_deduplication_id(message.deduplication_id);
        for (name, value) in &message.attributes {
            request = request.message_attributes(name, attribute(value)?);
        }
        let output = request.send().await.map_err(classify)?;
        Ok(json!({ "message_id": output.message_id() }))
    }

    async fn send_batch(&self, messages: Vec<Message>) -> Vec<Result<Value, CallError>> {
        let count = messages.len();
        let mut entries = Vec::with_capacity(count);
        for (index, message) in messages.into_iter().enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(message.body)
                .set_delay_seconds(message.delay_seconds)
                .set_message_group_id(message.group_id)
                .set_message_deduplication_id(message.deduplication_id);
            for (name, value) in &message.attributes {
                match attribute(value) {
                    Ok(attribute) => entry = entry.message_attributes(name, attribute),
                    Err(error) => return vec![Err(error); count],
                }
            }
            match entry.build() {
                Ok(entry) => entries.push(entry),
                Err(error) => return vec![Err(CallError::fatal(error.to_string())); count],
            }
        }
        let output = match self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => return vec![Err(classify(error)); count],
        };
        batch::results(
            count,
            output
                .successful()
                .iter()
                .map(|s| (Some(s.id()), Some(s.message_id()))),
            output.failed().iter().map(|f| batch::Failed {
                id: f.id(),
                code: f.code(),
                message: f.message(),
                sender_fault: f.sender_fault(),
            }),
        )
    }
}

impl Backend for Sqs {
    type Entry = Message;
    const BATCH: usize = 10;

    fn prepare(&self, call: &ProviderCall) -> Result<Message, String> {
        message(call, idempotency::is_fifo(&self.queue_url))
    }

    async fn send(&self, mut entries: Vec<Message>) -> Vec<Result<Value, CallError>> {
        if entries.len() == 1 {
            let one = entries.remove(0);
            return vec![self.send_one(one).await];
        }
        self.send_batch(entries).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(payload: Value) -> ProviderCall {
        ProviderCall {
            provider: "q".into(),
            action_id: "a".into(),
            namespace: "iot".into(),
            tenant: "t".into(),
            action_type: "sensor_reading".into(),
            payload: payload.into(),
            idempotency_key: "a".into(),
        }
    }

    #[test]
    fn the_whole_payload_is_the_body_unless_one_is_named() {
        let plain = message(&call(json!({ "device_id": "d1", "value": 3 })), false).unwrap();
        assert_eq!(plain.body, r#"{"device_id":"d1","value":3}"#);
        let named = message(
            &call(json!({
                "message_body": "hello", "message_group_id": "g", "message_dedup_id": "x",
                "delay_seconds": 5, "message_attributes": { "kind": "alert" }
            })),
            true,
        )
        .unwrap();
        assert_eq!(
            named,
            Message {
                body: "hello".into(),
                delay_seconds: Some(5),
                group_id: Some("g".into()),
                deduplication_id: Some("x".into()),
                attributes: vec![("kind".into(), "alert".into())],
            }
        );
        assert!(message(&call(json!({ "delay_seconds": "soon" })), false).is_err());
        let fifo = message(&call(json!({ "message_group_id": "g" })), true).unwrap();
        assert_eq!(fifo.deduplication_id.as_deref(), Some("a"));
    }
}
