//! The audit written to a topic (`--audit kafka://HOST:PORT/TOPIC`): each record is its JSON
//! line as the value, keyed by the action id (a chain's records by the action that started
//! it), on a one-partition topic so that consumers read the records in the order written.
//!
//! [`KafkaAudit`] is a sink buffer's destination (`acteon_engine::audit::buffer`): the buffer
//! hands it batches in order, and a batch counts as stored only once the broker has
//! acknowledged its records. Records are numbered, so the part of a batch that the broker
//! took before an outage is known and is not sent again; the rest stays buffered and is tried
//! again until the broker is back. A record whose acknowledgement was lost with the
//! connection may be written twice (at least once, never lost).

use crate::producer::{TopicWriter, MESSAGE_TIMEOUT};
use crate::{ensure_topic, KafkaError, TopicAddress};
use acteon_engine::audit::buffer::{Destination, Unstored};
use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Longer than a record's delivery timeout: when a wait ends, every record is either
/// acknowledged or failed, never still pending.
const FLUSH_TIMEOUT: Duration = MESSAGE_TIMEOUT.saturating_add(Duration::from_secs(10));

pub struct KafkaAudit {
    writer: TopicWriter,
    address: TopicAddress,
    /// The next record's number (numbers never repeat, so a late report of an earlier batch
    /// cannot pass for one of this batch).
    next: AtomicUsize,
}

impl std::fmt::Debug for KafkaAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaAudit")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// What a record is keyed by, read from its line.
#[derive(serde::Deserialize)]
struct Key<'a> {
    #[serde(borrow)]
    action_id: Cow<'a, str>,
}

impl KafkaAudit {
    /// Creates the topic (one partition) when it is missing; an unreachable broker is an error
    /// before the run starts.
    pub fn start(address: TopicAddress) -> Result<KafkaAudit, KafkaError> {
        let brokers = address.brokers.join(",");
        ensure_topic(&brokers, &address.properties, &address.topic, 1)?;
        let writer = TopicWriter::new(&brokers, &address.properties)?;
        Ok(KafkaAudit {
            writer,
            address,
            next: AtomicUsize::new(1),
        })
    }
}

impl Destination for KafkaAudit {
    fn name(&self) -> String {
        format!("kafka-{}", self.address.topic)
    }

    fn store(&self, lines: &[Vec<u8>]) -> Result<(), Unstored> {
        let first = self.next.fetch_add(lines.len(), Ordering::Relaxed);
        let mut sent = 0;
        let mut error = None;
        for (i, line) in lines.iter().enumerate() {
            let key = serde_json::from_slice::<Key>(line).ok();
            let key = key.as_ref().map(|k| &*k.action_id);
            match self
                .writer
                .send_numbered(&self.address.topic, key, line, first + i)
            {
                Ok(()) => sent += 1,
                Err(failed) => {
                    error = Some(failed.to_string());
                    break;
                }
            }
        }
        if let Err(failed) = self.writer.wait(FLUSH_TIMEOUT) {
            error.get_or_insert(failed.to_string());
        }
        let fates = self.writer.take_numbered(first..first + sent);
        let stored = (first..first + sent)
            .take_while(|n| fates.get(n) == Some(&true))
            .count();
        if stored == lines.len() {
            return Ok(());
        }
        Err(Unstored {
            stored,
            error: error.unwrap_or_else(|| {
                format!(
                    "the broker did not acknowledge {} of {} records for topic {}",
                    lines.len() - stored,
                    lines.len(),
                    self.address.topic
                )
            }),
        })
    }
}
