//! Kafka end to end: a topic filled by the sensor simulator, read once by a plain consumer (no
//! processing) and once by the seed pipeline (dry-run providers, audit to a file), so that the
//! two rates come from one run on one broker. Needs the broker on [`BROKER`]
//! (`scripts/services.sh up kafka`).

use acteon_dsl::plan::{KafkaSource, RecordFormat, StartOffset};
use acteon_engine::{run, AuditOutput, Delivery, Input, RunConfig};
use acteon_kafka::simulator::{Building, Mix, Simulator, START_MS};
use acteon_kafka::{KafkaFeed, TopicWriter};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BROKER: &str = "127.0.0.1:9092";

/// Whether the broker accepts connections.
pub fn broker_is_up() -> bool {
    let address = BROKER.parse().expect("an address");
    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok()
}

/// What one comparison measured.
#[derive(Debug, Clone, Copy)]
pub struct KafkaFigures {
    pub actions: u64,
    pub partitions: i32,
    /// Records per second read by the plain consumer.
    pub plain_per_s: f64,
    /// Actions per second through the pipeline to the audit (the final idle wait excluded).
    pub pipeline_per_s: f64,
    pub audit_records: u64,
}

impl KafkaFigures {
    pub fn ratio(&self) -> f64 {
        self.pipeline_per_s / self.plain_per_s.max(1e-9)
    }
}

/// Fills a new topic of `partitions` with `actions` simulated actions (keyed by device), then
/// reads it with a plain consumer and with the seed pipeline on `workers` workers.
pub fn compare(actions: u64, partitions: i32, workers: usize) -> KafkaFigures {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock")
        .as_nanos();
    let topic = format!("bench-{nanos}");
    acteon_kafka::ensure_topic(BROKER, &BTreeMap::new(), &topic, partitions).expect("a topic");
    let writer = TopicWriter::new(BROKER, &BTreeMap::new()).expect("a producer");
    let mut simulator = Simulator::new(Mix::SEED, Building::default(), START_MS, 10, 1);
    for _ in 0..actions {
        let (device, line) = simulator.next_action();
        writer
            .send(&topic, (Some(&device), None), line.as_bytes(), None)
            .expect("produced");
    }
    writer.flush(Duration::from_secs(120)).expect("flushed");

    let plain = plain_consumer(&topic, actions);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = KafkaSource {
        brokers: vec![BROKER.into()],
        topics: vec![topic.clone()],
        group: format!("{topic}-acteon"),
        start: StartOffset::Earliest,
        format: RecordFormat::Json,
        properties: BTreeMap::new(),
    };
    // The idle wait that ends the run is part of its elapsed time; it is subtracted below.
    let idle = Duration::from_secs(1);
    let feed = KafkaFeed::new(source, Some(idle)).expect("the feed");
    let report = run(
        &crate::plans::seed(),
        RunConfig {
            input: Input::Feed(Arc::new(feed)),
            workers,
            audit: AuditOutput::File(dir.path().join("audit.jsonl")),
            delivery: Delivery::DryRunDir(dir.path().join("dry-run")),
            ..RunConfig::default()
        },
    )
    .expect("the run");
    assert_eq!(report.inputs, actions, "acteon read every record");
    let pipeline = report.elapsed.saturating_sub(idle);
    let rate = |d: Duration| actions as f64 / d.as_secs_f64().max(1e-9);
    KafkaFigures {
        actions,
        partitions,
        plain_per_s: rate(plain),
        pipeline_per_s: rate(pipeline),
        audit_records: report.records,
    }
}

/// Reads every record of `topic` once with a plain consumer; returns the time it took.
fn plain_consumer(topic: &str, count: u64) -> Duration {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", BROKER)
        .set("group.id", format!("{topic}-plain"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .expect("an offset");
    }
    consumer.assign(&assignment).expect("assigned");
    let started = Instant::now();
    let mut read = 0;
    let mut bytes = 0usize;
    while read < count && started.elapsed() < Duration::from_secs(600) {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            bytes += message.payload_len();
            read += 1;
        }
    }
    assert_eq!(read, count, "the plain consumer read every record");
    std::hint::black_box(bytes);
    started.elapsed()
}
