//! The Kafka feed: a script's `source kafka { ... }` (or `--source kafka://...`) read by the
//! engine's source operator.
//!
//! Each worker has its own consumer with a manual assignment: the topics' partitions, in order,
//! are dealt out over the workers. A partition is a lane (numbered `topic index ×
//! LANES_PER_TOPIC + partition`, so one topic's lanes are its partitions). Positions the
//! engine reports complete are committed to the group, asynchronously and at most every
//! [`COMMIT_EVERY`], after the dead-letter writes are flushed; the last ones synchronously when
//! the run ends. Rejected records go to the dead-letter topic with the reason in a header.
//! A run restored from a checkpoint reads each partition from the checkpoint's position.

use crate::producer::{ensure_topic, TopicWriter};
use crate::KafkaError;
use crate::LOOKUP_TIMEOUT;
use acteon_dsl::plan::{KafkaSource, RecordFormat, StartOffset};
use acteon_engine::action::Position;
use acteon_engine::feed::{Feed, FeedReader, Polled};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lanes reserved per topic.
pub const LANES_PER_TOPIC: i32 = 100_000;

/// Completed positions are committed at most this often (the last ones at the end).
pub const COMMIT_EVERY: Duration = Duration::from_millis(250);

/// The header of a dead-lettered record that holds the reason.
pub const ERROR_HEADER: &str = "acteon-error";

/// The feed, shared by every worker.
pub struct KafkaFeed {
    source: KafkaSource,
    exit_when_idle: Option<Duration>,
    dead_letter_topic: String,
    dead_letters: Arc<DeadLetters>,
}

/// The dead-letter producer and how many records were sent to it.
struct DeadLetters {
    writer: TopicWriter,
    sent: AtomicU64,
}

impl fmt::Debug for KafkaFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaFeed")
            .field("source", &self.source)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .finish()
    }
}

impl KafkaFeed {
    /// `exit_when_idle`: end once every partition is drained and no record came for that long.
    /// Dead letters go to `<first topic>.dead-letter`.
    pub fn new(source: KafkaSource, exit_when_idle: Option<Duration>) -> Result<Self, KafkaError> {
        let RecordFormat::Json = source.format;
        let first = source
            .topics
            .first()
            .ok_or_else(|| KafkaError::Config("the source names no topic".into()))?;
        let dead_letter_topic = dead_letter_topic(first);
        let brokers = source.brokers.join(",");
        ensure_topic(&brokers, &source.properties, &dead_letter_topic, 1)?;
        let writer = TopicWriter::new(&brokers, &source.properties)?;
        Ok(KafkaFeed {
            exit_when_idle,
            dead_letter_topic,
            dead_letters: Arc::new(DeadLetters {
                writer,
                sent: AtomicU64::new(0),
            }),
            source,
        })
    }

    fn consumer(&self) -> Result<BaseConsumer<Quiet>, KafkaError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.source.brokers.join(","))
            .set("group.id", &self.source.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set(
                "auto.offset.reset",
                match self.source.start {
                    StartOffset::Latest => "latest",
                    StartOffset::Earliest | StartOffset::Committed => "earliest",
                },
            );
        for (key, value) in &self.source.properties {
            config.set(key, value);
        }
        config
            .create_with_context(Quiet)
            .map_err(|e| KafkaError::Client(e.to_string()))
    }

    /// Every (topic index, partition) of the source's topics, in order.
    fn partitions(&self, consumer: &BaseConsumer<Quiet>) -> Result<Vec<(usize, i32)>, KafkaError> {
        let mut all = Vec::new();
        for (index, topic) in self.source.topics.iter().enumerate() {
            all.extend(partitions(consumer, topic)?.into_iter().map(|p| (index, p)));
        }
        all.sort();
        Ok(all)
    }
}

/// The partitions of `topic`, waiting up to [`LOOKUP_TIMEOUT`] for a topic being created.
pub(crate) fn partitions(
    consumer: &BaseConsumer<Quiet>,
    topic: &str,
) -> Result<Vec<i32>, KafkaError> {
    let started = Instant::now();
    loop {
        let metadata = consumer
            .fetch_metadata(Some(topic), LOOKUP_TIMEOUT)
            .map_err(|e| KafkaError::Client(format!("metadata of {topic}: {e}")))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if !partitions.is_empty() {
            return Ok(partitions);
        }
        if started.elapsed() > LOOKUP_TIMEOUT {
            return Err(KafkaError::Config(format!(
                "topic {topic} has no partitions (does it exist?)"
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The dead-letter topic of a source topic.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dead-letter")
}

impl Feed for KafkaFeed {
    fn open(
        &self,
        index: usize,
        peers: usize,
        resume: &BTreeMap<i32, i64>,
    ) -> Result<Box<dyn FeedReader>, String> {
        let consumer = self.consumer().map_err(|e| e.to_string())?;
        let mine: Vec<(usize, i32)> = self
            .partitions(&consumer)
            .map_err(|e| e.to_string())?
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % peers == index)
            .map(|(_, p)| p)
            .collect();
        let mut assignment = TopicPartitionList::new();
        let start = match self.source.start {
            StartOffset::Earliest => Offset::Beginning,
            StartOffset::Latest => Offset::End,
            // The group's committed offset, else `auto.offset.reset` (earliest).
            StartOffset::Committed => Offset::Stored,
        };
        for &(topic, partition) in &mine {
            // A restored checkpoint's position wins over the group's committed offset.
            let start = resume
                .get(&lane(topic, partition))
                .map_or(start, |&next| Offset::Offset(next));
            assignment
                .add_partition_offset(&self.source.topics[topic], partition, start)
                .map_err(|e| e.to_string())?;
        }
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        tracing::info!(worker = index, partitions = ?mine, "kafka partitions assigned");
        Ok(Box::new(KafkaReader {
            consumer,
            topics: self.source.topics.clone(),
            lanes: mine.iter().map(|&(t, p)| lane(t, p)).collect(),
            caught_up: BTreeSet::new(),
            completed: BTreeMap::new(),
            last_commit: Instant::now(),
            last_record: Instant::now(),
            exit_when_idle: self.exit_when_idle,
            dead_letters: Arc::clone(&self.dead_letters),
            flushed: 0,
        }))
    }

    fn dead_letter(&self, position: Position, reason: &str, record: &[u8]) {
        let place = match position {
            Position::Kafka { partition, offset } => {
                let (topic, partition) = topic_partition(&self.source.topics, partition);
                format!("{topic}/{partition}/{offset}")
            }
            other => format!("{other:?}"),
        };
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: ERROR_HEADER,
                value: Some(reason),
            })
            .insert(Header {
                key: "acteon-position",
                value: Some(&place),
            });
        match self.dead_letters.writer.send(
            &self.dead_letter_topic,
            (None, None),
            record,
            Some(headers),
        ) {
            Ok(()) => {
                self.dead_letters.sent.fetch_add(1, Ordering::Relaxed);
            }
            // The reader sees the failure when it flushes, and then does not commit.
            Err(error) => tracing::error!(%error, %place, "dead-lettering failed"),
        }
    }
}

/// The consumers' context: the end of a partition is news for the reader, not an error to log.
pub(crate) struct Quiet;

impl ClientContext for Quiet {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        use rdkafka::error::{KafkaError::*, RDKafkaErrorCode};
        if !matches!(
            error,
            PartitionEOF(_) | Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::error!(%error, reason, "kafka client error");
        }
    }
}

impl ConsumerContext for Quiet {}

fn lane(topic: usize, partition: i32) -> i32 {
    topic as i32 * LANES_PER_TOPIC + partition
}

fn topic_partition(topics: &[String], lane: i32) -> (&str, i32) {
    let topic = (lane / LANES_PER_TOPIC) as usize;
    (
        topics.get(topic).map(String::as_str).unwrap_or("?"),
        lane % LANES_PER_TOPIC,
    )
}

/// One worker's consumer. Holds the completed positions not yet committed, until the next
/// commit (every [`COMMIT_EVERY`], and at close).
struct KafkaReader {
    consumer: BaseConsumer<Quiet>,
    topics: Vec<String>,
    lanes: BTreeSet<i32>,
    caught_up: BTreeSet<i32>,
    /// Per lane, the last offset whose records are complete and not yet committed.
    completed: BTreeMap<i32, i64>,
    last_commit: Instant,
    last_record: Instant,
    exit_when_idle: Option<Duration>,
    dead_letters: Arc<DeadLetters>,
    /// Dead letters sent (by any worker) that a flush has made durable.
    flushed: u64,
}

impl KafkaReader {
    fn commit(&mut self, mode: CommitMode) {
        if self.completed.is_empty() {
            return;
        }
        // A rejected record's position is committed only once its dead letter is durable.
        let sent = self.dead_letters.sent.load(Ordering::Relaxed);
        if sent > self.flushed {
            if let Err(error) = self.dead_letters.writer.flush(Duration::from_secs(10)) {
                tracing::error!(%error, "dead letters not flushed; offsets not committed");
                return;
            }
            self.flushed = sent;
        }
        let mut offsets = TopicPartitionList::new();
        for (&lane, &offset) in &self.completed {
            let (topic, partition) = topic_partition(&self.topics, lane);
            if let Err(error) =
                offsets.add_partition_offset(topic, partition, Offset::Offset(offset + 1))
            {
                tracing::error!(%error, "bad offset");
            }
        }
        match self.consumer.commit(&offsets, mode) {
            Ok(()) => {
                tracing::debug!(?self.completed, "offsets committed");
                self.completed.clear();
            }
            Err(error) => tracing::warn!(%error, "offset commit failed; retried later"),
        }
        self.last_commit = Instant::now();
    }
}

impl FeedReader for KafkaReader {
    fn lanes(&self) -> Vec<i32> {
        self.lanes.iter().copied().collect()
    }

    fn poll(&mut self, record: &mut Vec<u8>) -> Polled {
        match self.consumer.poll(Duration::ZERO) {
            Some(Ok(message)) => {
                let lane = self
                    .topics
                    .iter()
                    .position(|t| t == message.topic())
                    .map_or(message.partition(), |t| lane(t, message.partition()));
                self.caught_up.remove(&lane);
                self.last_record = Instant::now();
                record.clear();
                record.extend_from_slice(message.payload().unwrap_or_default());
                Polled::Record {
                    lane,
                    offset: message.offset(),
                    timestamp_ms: message.timestamp().to_millis(),
                }
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                // The end-of-partition event names no topic: with several topics every lane of
                // that partition number counts as caught up until its next record.
                let lane = (0..self.topics.len())
                    .map(|t| lane(t, partition))
                    .find(|l| self.lanes.contains(l) && !self.caught_up.contains(l))
                    .unwrap_or(partition);
                self.caught_up.insert(lane);
                Polled::CaughtUp { lane }
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "kafka consumer error");
                Polled::Pending
            }
            None => {
                let drained = self.lanes.iter().all(|l| self.caught_up.contains(l));
                match self.exit_when_idle {
                    Some(quiet) if drained && self.last_record.elapsed() >= quiet => Polled::Ended,
                    _ => Polled::Pending,
                }
            }
        }
    }

    fn completed(&mut self, done: &[(i32, i64)]) {
        for &(lane, offset) in done {
            let last = self.completed.entry(lane).or_insert(offset);
            *last = (*last).max(offset);
        }
        if self.last_commit.elapsed() >= COMMIT_EVERY {
            self.commit(CommitMode::Async);
        }
    }

    fn close(&mut self) {
        self.commit(CommitMode::Sync);
    }
}
