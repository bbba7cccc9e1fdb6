//! The `kafka` provider type: each call becomes one record on the provider's topic.
//!
//! The record:
//! - value: the call's payload as JSON (after `modify`; the audit's redaction does not apply:
//!   the topic is a delivery, like an SQS message);
//! - key: the value at the provider's `key` path (a string as it is, any other JSON value as
//!   its JSON text); the action id when no `key` is set or the path finds nothing (or `null`);
//! - headers: `acteon-action-id`, `acteon-tenant`, `acteon-namespace`, `acteon-action-type`
//!   ([`HEADERS`]), so consumers can route and deduplicate without parsing the value.
//!
//! Calls go through the same delivery machinery as the AWS providers
//! ([`acteon_delivery::Dispatcher`]): batches of calls are produced together, a
//! transient failure (queue full, broker unreachable, timeouts) is retried with backoff up to
//! the policy's attempts, and the circuit breaker the engine puts around every live provider
//! sees the final result. A call succeeds only once the broker has acknowledged its record,
//! so the feed's offsets are never committed past a record that was not written.

use crate::producer::producer_config;
use crate::{ensure_topic, KafkaError};
use acteon_delivery::Backend;
use acteon_delivery::CallError;
use acteon_dsl::plan::{FieldPath, FieldRoot};
use acteon_engine::eval::walk;
use acteon_engine::provider::ProviderCall;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The headers of every record, in order: action id, tenant, namespace, action type.
pub const HEADERS: [&str; 4] = [
    "acteon-action-id",
    "acteon-tenant",
    "acteon-namespace",
    "acteon-action-type",
];

/// Records produced together from one batch of calls (librdkafka pipelines them; the
/// dispatcher's in-flight limit bounds how many batches wait at once).
const BATCH: usize = 64;

/// One provider's producer and topic.
pub struct KafkaBackend {
    producer: FutureProducer,
    topic: String,
    key: Option<FieldPath>,
}

/// A call prepared once, reused by retries.
#[derive(Clone)]
pub struct Record {
    key: String,
    value: Arc<[u8]>,
    headers: OwnedHeaders,
}

impl KafkaBackend {
    /// Connects to `brokers` and creates `topic` when it is missing (the development broker
    /// does not create topics on first use); an unreachable broker is an error here, before
    /// the run starts.
    pub fn new(
        brokers: &[String],
        topic: &str,
        key: Option<FieldPath>,
        properties: &BTreeMap<String, String>,
    ) -> Result<KafkaBackend, KafkaError> {
        let brokers = brokers.join(",");
        ensure_topic(&brokers, properties, topic, 1)?;
        let producer = producer_config(&brokers, properties)
            .create()
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        Ok(KafkaBackend {
            producer,
            topic: topic.to_owned(),
            key,
        })
    }

    /// The record key for `call`.
    fn key(&self, call: &ProviderCall) -> String {
        let Some(path) = &self.key else {
            return call.action_id.to_string();
        };
        let text = |s: &str| Some(Value::String(s.to_owned()));
        let value = match path.root {
            FieldRoot::Id => text(&call.action_id),
            FieldRoot::Namespace => text(&call.namespace),
            FieldRoot::Tenant => text(&call.tenant),
            FieldRoot::ActionType => text(&call.action_type),
            FieldRoot::Payload => walk(call.payload.value(), &path.segments).cloned(),
            // The checker refuses the fields a call does not carry (E0105).
            _ => None,
        };
        match value {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => call.action_id.to_string(),
            Some(other) => other.to_string(),
        }
    }
}

/// Whether a failed produce may succeed if tried again: the broker or the network, not the
/// record.
fn classify(error: &RdError) -> CallError {
    use RDKafkaErrorCode::*;
    let transient = match error.rdkafka_error_code() {
        Some(code) => matches!(
            code,
            QueueFull
                | MessageTimedOut
                | RequestTimedOut
                | BrokerTransportFailure
                | AllBrokersDown
                | BrokerNotAvailable
                | LeaderNotAvailable
                | NotLeaderForPartition
                | NetworkException
                | NotEnoughReplicas
                | NotEnoughReplicasAfterAppend
                | NotCoordinator
                | CoordinatorLoadInProgress
                | KafkaStorageError
                | OperationTimedOut
        ),
        None => false,
    };
    let message = format!("kafka produce: {error}");
    match transient {
        true => CallError::transient(message),
        false => CallError::fatal(message),
    }
}

impl Backend for KafkaBackend {
    type Entry = Record;
    const BATCH: usize = BATCH;

    fn prepare(&self, call: &ProviderCall) -> Result<Record, String> {
        let value = call.payload.text().as_bytes().to_vec();
        let values: [&str; 4] = [
            &call.action_id,
            &call.tenant,
            &call.namespace,
            &call.action_type,
        ];
        let headers =
            HEADERS
                .iter()
                .zip(values)
                .fold(OwnedHeaders::new(), |headers, (key, value)| {
                    headers.insert(Header {
                        key,
                        value: Some(value),
                    })
                });
        Ok(Record {
            key: self.key(call),
            value: value.into(),
            headers,
        })
    }

    async fn send(&self, records: Vec<Record>) -> Vec<Result<Value, CallError>> {
        // Every record is queued before any is waited on, so the batch is in flight at once.
        let queued: Vec<_> = records
            .iter()
            .map(|record| {
                let future = FutureRecord::to(&self.topic)
                    .key(record.key.as_str())
                    .payload(&record.value[..])
                    .headers(record.headers.clone());
                self.producer
                    .send_result(future)
                    .map_err(|(error, _)| classify(&error))
            })
            .collect();
        let mut results = Vec::with_capacity(queued.len());
        for delivery in queued {
            results.push(match delivery {
                Err(error) => Err(error),
                Ok(acknowledged) => match acknowledged.await {
                    Ok(Ok(delivery)) => Ok(json!({
                        "topic": self.topic,
                        "partition": delivery.partition,
                        "offset": delivery.offset,
                    })),
                    Ok(Err((error, _))) => Err(classify(&error)),
                    Err(_) => Err(CallError::fatal("the Kafka producer shut down")),
                },
            });
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acteon_dsl::plan::PathSegment;
    use rdkafka::message::Headers;

    fn call() -> ProviderCall {
        ProviderCall {
            provider: "alerts-topic".into(),
            action_id: "a1".into(),
            namespace: "iot".into(),
            tenant: "smartbuilding-hq".into(),
            action_type: "sensor_reading".into(),
            payload: json!({ "device": { "id": "temp-7", "floor": 3 }, "value": null }).into(),
            idempotency_key: "a1".into(),
        }
    }

    /// A backend that never connects: `prepare` does not touch the broker.
    fn backend(key: Option<FieldPath>) -> KafkaBackend {
        KafkaBackend {
            producer: producer_config("127.0.0.1:1", &BTreeMap::new())
                .create()
                .unwrap(),
            topic: "t".into(),
            key,
        }
    }

    fn path(root: FieldRoot, keys: &[&str]) -> Option<FieldPath> {
        Some(FieldPath {
            root,
            segments: keys.iter().map(|k| PathSegment::Key((*k).into())).collect(),
        })
    }

    #[test]
    fn the_key_comes_from_the_path_else_the_action_id() {
        let key = |k| backend(k).prepare(&call()).unwrap().key;
        assert_eq!(key(None), "a1");
        assert_eq!(key(path(FieldRoot::Payload, &["device", "id"])), "temp-7");
        assert_eq!(key(path(FieldRoot::Payload, &["device", "floor"])), "3");
        assert_eq!(
            key(path(FieldRoot::Payload, &["device"])),
            r#"{"id":"temp-7","floor":3}"#
        );
        assert_eq!(key(path(FieldRoot::Payload, &["value"])), "a1", "null");
        assert_eq!(key(path(FieldRoot::Payload, &["missing"])), "a1");
        assert_eq!(key(path(FieldRoot::Tenant, &[])), "smartbuilding-hq");
    }

    #[test]
    fn the_value_is_the_payload_and_the_headers_name_the_action() {
        let record = backend(None).prepare(&call()).unwrap();
        let value: Value = serde_json::from_slice(&record.value).unwrap();
        assert_eq!(&value, call().payload.value());
        let headers: Vec<(String, String)> = record
            .headers
            .iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    String::from_utf8(h.value.unwrap().to_vec()).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            headers,
            [
                ("acteon-action-id", "a1"),
                ("acteon-tenant", "smartbuilding-hq"),
                ("acteon-namespace", "iot"),
                ("acteon-action-type", "sensor_reading"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn broker_trouble_is_transient_and_a_bad_record_is_not() {
        let produce = RdError::MessageProduction;
        assert!(classify(&produce(RDKafkaErrorCode::QueueFull)).transient);
        assert!(classify(&produce(RDKafkaErrorCode::MessageTimedOut)).transient);
        assert!(classify(&produce(RDKafkaErrorCode::AllBrokersDown)).transient);
        assert!(!classify(&produce(RDKafkaErrorCode::MessageSizeTooLarge)).transient);
        assert!(!classify(&produce(RDKafkaErrorCode::TopicAuthorizationFailed)).transient);
    }
}
