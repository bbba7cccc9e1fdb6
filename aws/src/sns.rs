//! `aws-sns`: Publish, or PublishBatch (10 per call) when several calls are ready.
//!
//! Message: the payload's `message` (a string as it is, other JSON as text), else the whole
//! payload as JSON text. `subject`, `message_group_id` and `message_deduplication_id` (or
//! `message_dedup_id`) are honoured. A FIFO topic (`.fifo`) is given the call's deduplication
//! id when the payload names none (see [`crate::idempotency`]). Result: `{message_id}`.

use crate::batch;
use crate::error::classify;
use crate::{idempotency, payload};
use acteon_delivery::Backend;
use acteon_delivery::CallError;
use acteon_engine::provider::ProviderCall;
use aws_sdk_sns::types::PublishBatchRequestEntry;
use serde_json::{json, Value};

pub struct Sns {
    pub client: aws_sdk_sns::Client,
    pub topic_arn: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub message: String,
    pub subject: Option<String>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
}

/// The notification for `call`; `fifo`: the topic is a FIFO topic.
pub fn notification(call: &ProviderCall, fifo: bool) -> Result<Notification, String> {
    let payload = call.payload.value();
    Ok(Notification {
        message: payload::field(payload, &["message"])
            .map_or_else(|| payload.to_string(), payload::text),
        subject: payload::string(payload, &["subject"])?,
        group_id: payload::string(payload, &["message_group_id"])?,
        deduplication_id: idempotency::choose(
            payload::string(payload, &["message_deduplication_id", "message_dedup_id"])?,
            fifo,
            call,
        ),
    })
}

impl Sns {
    async fn publish(&self, notification: Notification) -> Result<Value, CallError> {
        let output = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(notification.message)
            .set_subject(notification.subject)
            .set_message_group_id(notification.group_id)
            .set_message_deduplication_id(notification.deduplication_id)
            .send()
            .await
            .map_err(classify)?;
        Ok(json!({ "message_id": output.message_id() }))
    }

    async fn publish_batch(
        &self,
        notifications: Vec<Notification>,
    ) -> Vec<Result<Value, CallError>> {
        let count = notifications.len();
        let mut entries = Vec::with_capacity(count);
        for (index, notification) in notifications.into_iter().enumerate() {
            let entry = PublishBatchRequestEntry::builder()
                .id(index.to_string())
                .message(notification.message)
                .set_subject(notification.subject)
                .set_message_group_id(notification.group_id)
                .set_message_deduplication_id(notification.deduplication_id)
                .build();
            match entry {
                Ok(entry) => entries.push(entry),
                Err(error) => return vec![Err(CallError::fatal(error.to_string())); count],
            }
        }
        let output = match self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => return vec![Err(classify(error)); count],
        };
        batch::results(
            count,
            output.successful().iter().map(|s| (s.id(), s.message_id())),
            output.failed().iter().map(|f| batch::Failed {
                id: f.id(),
                code: f.code(),
                message: f.message(),
                sender_fault: f.sender_fault(),
            }),
        )
    }
}

impl Backend for Sns {
    type Entry = Notification;
    const BATCH: usize = 10;

    fn prepare(&self, call: &ProviderCall) -> Result<Notification, String> {
        notification(call, idempotency::is_fifo(&self.topic_arn))
    }

    async fn send(&self, mut entries: Vec<Notification>) -> Vec<Result<Value, CallError>> {
        if entries.len() == 1 {
            let one = entries.remove(0);
            return vec![self.publish(one).await];
        }
        self.publish_batch(entries).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(payload: Value) -> ProviderCall {
        ProviderCall {
            provider: "alerts".into(),
            action_id: "a".into(),
            namespace: "iot".into(),
            tenant: "t".into(),
            action_type: "sensor_reading".into(),
            payload: payload.into(),
            idempotency_key: "a".into(),
        }
    }

    #[test]
    fn telemetry_without_a_message_is_sent_as_json_text() {
        let sent = notification(
            &call(json!({ "sensor_type": "temperature", "value": 92 })),
            false,
        );
        assert_eq!(
            sent.unwrap().message,
            r#"{"sensor_type":"temperature","value":92}"#
        );
    }

    #[test]
    fn named_fields_are_honoured() {
        let sent = notification(
            &call(json!({
                "message": { "text": "hot" }, "subject": "Alert",
                "message_group_id": "g1", "message_deduplication_id": "d1"
            })),
            true,
        )
        .unwrap();
        assert_eq!(
            sent,
            Notification {
                message: r#"{"text":"hot"}"#.into(),
                subject: Some("Alert".into()),
                group_id: Some("g1".into()),
                deduplication_id: Some("d1".into()),
            }
        );
    }
}
