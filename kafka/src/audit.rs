//! The audit written to a topic (`--audit kafka://HOST:PORT/TOPIC`): each record is its JSON
//! line as the value, keyed by the action id (a chain's records by the action that started
//! it), on a one-partition topic so that consumers read the records in the order written.
//!
//! Delivery: [`RecordSink::finish`] returns only once the broker has acknowledged every
//! record written before it (or librdkafka has given up on one, which is then the error).
//! The engine's audit writer calls `finish` after each batch of completed epochs and before
//! it releases them, so the dataflow's probe, and the Kafka source's offset commits behind
//! it, never pass an action whose audit record is not yet on the topic. Flushing per batch
//! rather than tracking each acknowledgement costs one round trip per batch of epochs, and
//! keeps the guarantee in this sink instead of in the dataflow.

use crate::producer::{TopicWriter, MESSAGE_TIMEOUT};
use crate::{ensure_topic, KafkaError, TopicAddress};
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::audit::sink::RecordSink;
use std::sync::Mutex;
use std::time::Duration;

/// Longer than a record's delivery timeout: when a flush ends, every record is either
/// acknowledged or failed, never still pending.
const FLUSH_TIMEOUT: Duration = MESSAGE_TIMEOUT.saturating_add(Duration::from_secs(10));

pub struct KafkaAuditSink {
    writer: TopicWriter,
    address: TopicAddress,
    /// The first error met since the last `finish`.
    error: Mutex<Option<String>>,
}

impl std::fmt::Debug for KafkaAuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaAuditSink")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl KafkaAuditSink {
    /// Creates the topic (one partition) when it is missing; an unreachable broker is an error
    /// before the run starts.
    pub fn start(address: TopicAddress) -> Result<KafkaAuditSink, KafkaError> {
        let brokers = address.brokers.join(",");
        ensure_topic(&brokers, &address.properties, &address.topic, 1)?;
        let writer = TopicWriter::new(&brokers, &address.properties)?;
        Ok(KafkaAuditSink {
            writer,
            address,
            error: Mutex::new(None),
        })
    }

    fn fail(&self, error: String) {
        tracing::error!(%error, topic = %self.address.topic, "audit write failed");
        self.error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(error);
    }
}

impl RecordSink for KafkaAuditSink {
    fn write(&self, record: &AuditRecord, line: &[u8]) {
        let sent = self.writer.send(
            &self.address.topic,
            (Some(&record.action_id), None),
            line,
            None,
        );
        if let Err(error) = sent {
            self.fail(error.to_string());
        }
    }

    fn finish(&self) -> Result<(), String> {
        // A failure stays counted in the writer, so every later flush reports it again; the
        // run keeps the first error it is given, which is enough.
        if let Err(error) = self.writer.flush(FLUSH_TIMEOUT) {
            self.fail(error.to_string());
        }
        match self.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(error) => Err(format!(
                "writing the audit to topic {} failed: {error}",
                self.address.topic
            )),
            None => Ok(()),
        }
    }
}
