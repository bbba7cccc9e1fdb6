//! Writing records to a topic: the dead-letter output and `acteon produce` share one producer
//! setup, which counts deliveries and failures so callers can tell when a write is durable;
//! and creating topics.

use crate::{KafkaError, LOOKUP_TIMEOUT};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{DeliveryResult, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Counts what the broker acknowledged and what failed; and, for records sent with a number
/// ([`TopicWriter::send_numbered`]), each one's fate.
#[derive(Default)]
pub struct Deliveries {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    /// Number → delivered, for numbered records whose report came.
    numbered: Mutex<BTreeMap<usize, bool>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    /// A record's number; 0: not numbered.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, number: usize) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            // A numbered record's sender reports its failure (and tries it again).
            Err((error, _)) if number > 0 => {
                tracing::debug!(%error, number, "a numbered record was not delivered");
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
            Err((error, _)) => {
                tracing::error!(%error, "a record was not delivered");
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
        if number > 0 {
            self.numbered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(number, result.is_ok());
        }
    }
}

/// A producer writing one record per batch: tansu 0.6's fetch from inside a batch skips the
/// rest of it (docs/design.md), so consumers that resume mid-topic need single-record batches.
pub struct TopicWriter {
    producer: ThreadedProducer<Deliveries>,
}

/// How long a full local queue is waited on before a send gives up.
const QUEUE_WAIT: Duration = Duration::from_secs(30);

/// A client of `brokers` with the script's librdkafka `properties` (TLS, SASL, tuning).
pub(crate) fn client_config(brokers: &str, properties: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    for (key, value) in properties {
        config.set(key, value);
    }
    config
}

/// Every producer's settings: one record per batch (see [`TopicWriter`]), then `properties`,
/// which override these defaults.
pub(crate) fn producer_config(
    brokers: &str,
    properties: &BTreeMap<String, String>,
) -> ClientConfig {
    let timeout = MESSAGE_TIMEOUT.as_millis().to_string();
    let defaults = [
        ("linger.ms", "0"),
        ("batch.num.messages", "1"),
        ("queue.buffering.max.messages", "100000"),
        ("message.timeout.ms", timeout.as_str()),
    ];
    let mut settings: BTreeMap<String, String> = defaults
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    settings.extend(properties.clone());
    client_config(brokers, &settings)
}

/// How long librdkafka retries a record before it reports it failed.
pub(crate) const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

impl TopicWriter {
    /// `properties` are librdkafka settings that override the defaults.
    pub fn new(
        brokers: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<TopicWriter, KafkaError> {
        let producer = producer_config(brokers, properties)
            .create_with_context(Deliveries::default())
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        Ok(TopicWriter { producer })
    }

    /// Queues one record (to `partition`, else by key); waits (bounded) while the local queue
    /// is full.
    pub fn send(
        &self,
        topic: &str,
        to: (Option<&str>, Option<i32>),
        payload: &[u8],
        headers: Option<OwnedHeaders>,
    ) -> Result<(), KafkaError> {
        self.send_as(topic, to, payload, headers, 0)
    }

    /// Queues one record by key, numbered `number` (above 0): its fate is then told by
    /// [`TopicWriter::take_numbered`].
    pub fn send_numbered(
        &self,
        topic: &str,
        key: Option<&str>,
        payload: &[u8],
        number: usize,
    ) -> Result<(), KafkaError> {
        self.send_as(topic, (key, None), payload, None, number)
    }

    /// The fate of the numbered records `numbers` whose report came (true: delivered); every
    /// report of a lower number is forgotten.
    pub fn take_numbered(&self, numbers: std::ops::Range<usize>) -> BTreeMap<usize, bool> {
        let mut numbered = self
            .producer
            .context()
            .numbered
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *numbered = numbered.split_off(&numbers.start);
        let later = numbered.split_off(&numbers.end);
        std::mem::replace(&mut *numbered, later)
    }

    fn send_as(
        &self,
        topic: &str,
        (key, partition): (Option<&str>, Option<i32>),
        payload: &[u8],
        headers: Option<OwnedHeaders>,
        number: usize,
    ) -> Result<(), KafkaError> {
        let started = Instant::now();
        let mut headers = headers;
        loop {
            let mut record = BaseRecord::with_opaque_to(topic, number).payload(payload);
            if let Some(key) = key {
                record = record.key(key);
            }
            if let Some(partition) = partition {
                record = record.partition(partition);
            }
            if let Some(headers) = headers.take() {
                record = record.headers(headers);
            }
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((
                    rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                    record,
                )) if started.elapsed() < QUEUE_WAIT => {
                    headers = record.headers;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((error, _)) => return Err(KafkaError::Produce(error.to_string())),
            }
        }
    }

    /// Waits until every queued record is acknowledged or failed (or `timeout` passes).
    pub fn wait(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer
            .flush(timeout)
            .map_err(|e| KafkaError::Produce(e.to_string()))
    }

    /// Waits as [`TopicWriter::wait`]; an error if a record ever failed.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.wait(timeout)?;
        match self.failed() {
            0 => Ok(()),
            n => Err(KafkaError::Produce(format!(
                "{n} records were not delivered"
            ))),
        }
    }

    pub fn delivered(&self) -> u64 {
        self.producer.context().delivered.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.producer.context().failed.load(Ordering::Relaxed)
    }
}

/// Creates `topic` with `partitions` partitions unless it exists (the broker here does not
/// create topics on first use).
pub fn ensure_topic(
    brokers: &str,
    properties: &BTreeMap<String, String>,
    topic: &str,
    partitions: i32,
) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = client_config(brokers, properties)
        .create()
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    // Both timeouts: without the request timeout an unreachable broker makes this wait for
    // ever, with librdkafka retrying the connection quietly.
    let options = AdminOptions::new()
        .request_timeout(Some(LOOKUP_TIMEOUT))
        .operation_timeout(Some(LOOKUP_TIMEOUT));
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = block_on(admin.create_topics([&new], &options)).map_err(|e| {
        KafkaError::Client(format!(
            "creating {topic} on {brokers} (is a broker listening there?): {e}"
        ))
    })?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(KafkaError::Client(format!("creating {name}: {code}")));
            }
        }
    }
    Ok(())
}

/// Runs one future to completion on this thread (rdkafka's admin calls are futures; nothing
/// else here is asynchronous, so no runtime is worth its weight).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}
