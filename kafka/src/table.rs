//! Tables read from topics (`table NAME key FIELD from kafka { ... }`): one consumer per table,
//! on the run's first worker, assigned every partition of the topic from the earliest offset
//! (or a restored checkpoint's), committing nothing: a table is read whole at every start. A
//! partition is a lane.

use crate::feed::{partitions, Quiet};
use crate::KafkaError;
use acteon_dsl::plan::KafkaTable;
use acteon_engine::feed::Polled;
use acteon_engine::tables::{TableFeed, TableReader, TableRecord};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::Duration;

/// Opens the readers of a run's tables from topics.
#[derive(Debug, Default, Clone, Copy)]
pub struct KafkaTables;

impl TableFeed for KafkaTables {
    fn open(
        &self,
        table: &KafkaTable,
        resume: &BTreeMap<i32, i64>,
    ) -> Result<Box<dyn TableReader>, String> {
        open(table, resume)
            .map(|reader| Box::new(reader) as Box<dyn TableReader>)
            .map_err(|e| e.to_string())
    }
}

fn open(table: &KafkaTable, resume: &BTreeMap<i32, i64>) -> Result<KafkaTableReader, KafkaError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", table.brokers.join(","))
        // Needed by the client; nothing is committed to it.
        .set("group.id", format!("acteon-table-{}", table.topic))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
    for (key, value) in &table.properties {
        config.set(key, value);
    }
    let consumer: BaseConsumer<Quiet> = config
        .create_with_context(Quiet)
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let lanes = partitions(&consumer, &table.topic)?;
    let mut assignment = TopicPartitionList::new();
    for &partition in &lanes {
        let start = resume
            .get(&partition)
            .map_or(Offset::Beginning, |&next| Offset::Offset(next));
        assignment
            .add_partition_offset(&table.topic, partition, start)
            .map_err(|e| KafkaError::Client(e.to_string()))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    tracing::info!(topic = %table.topic, partitions = ?lanes, "table topic assigned");
    Ok(KafkaTableReader { consumer, lanes })
}

struct KafkaTableReader {
    consumer: BaseConsumer<Quiet>,
    lanes: Vec<i32>,
}

impl TableReader for KafkaTableReader {
    fn lanes(&self) -> Vec<i32> {
        self.lanes.clone()
    }

    fn poll(&mut self, record: &mut TableRecord) -> Polled {
        match self.consumer.poll(Duration::ZERO) {
            Some(Ok(message)) => {
                record.key = message.key().map(<[u8]>::to_vec);
                record.value.clear();
                record
                    .value
                    .extend_from_slice(message.payload().unwrap_or_default());
                Polled::Record {
                    lane: message.partition(),
                    offset: message.offset(),
                    timestamp_ms: message.timestamp().to_millis(),
                }
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                Polled::CaughtUp { lane: partition }
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "table topic consumer error");
                Polled::Pending
            }
            None => Polled::Pending,
        }
    }
}
