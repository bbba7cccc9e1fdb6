//! Kafka end to end, in one run: the seed pipeline (dry-run providers, audit to a file) reading
//! a topic, beside a plain consumer reading the same topic; prints both rates and their ratio.
//!
//! Needs the broker: `scripts/services.sh up kafka`. `ACTEON_BENCH_ACTIONS` sets the size
//! (default 200,000); `ACTEON_BENCH_WORKERS` the timely workers (default 1).

use acteon_dsl::plan::{KafkaSource, RecordFormat, StartOffset};
use acteon_engine::{run, AuditOutput, Delivery, Input, RunConfig};
use acteon_kafka::simulator::{Building, Mix, Simulator, START_MS};
use acteon_kafka::{KafkaFeed, TopicWriter};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BROKER: &str = "127.0.0.1:9092";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

fn main() {
    let actions = env("ACTEON_BENCH_ACTIONS", 200_000);
    let workers = env("ACTEON_BENCH_WORKERS", 1) as usize;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock")
        .as_nanos();
    let topic = format!("bench-{nanos}");

    acteon_kafka::ensure_topic(BROKER, &BTreeMap::new(), &topic, 3).expect("a topic");
    let writer = TopicWriter::new(BROKER, &BTreeMap::new()).expect("a producer");
    let mut simulator = Simulator::new(Mix::SEED, Building::default(), START_MS, 10, 1);
    let started = Instant::now();
    for _ in 0..actions {
        let (device, line) = simulator.next_action();
        writer
            .send(&topic, (Some(&device), None), line.as_bytes(), None)
            .expect("produced");
    }
    writer.flush(Duration::from_secs(120)).expect("flushed");
    println!(
        "produced {actions} actions to {topic} in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let plain = plain_consumer(&topic, actions);

    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/aws-event-pipeline/pipeline.acteon");
    let compiled = acteon_dsl::compile_file(&script);
    let plan = compiled.plan.expect("the seed pipeline compiles");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = KafkaSource {
        brokers: vec![BROKER.into()],
        topics: vec![topic.clone()],
        group: format!("{topic}-acteon"),
        start: StartOffset::Earliest,
        format: RecordFormat::Json,
        properties: BTreeMap::new(),
    };
    // The idle wait is part of the measured time; it is subtracted below.
    let idle = Duration::from_secs(1);
    let feed = KafkaFeed::new(source, Some(idle)).expect("the feed");
    let report = run(
        &plan,
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
    println!(
        "plain consumer:              {:>10.0} records/s ({:.2} s)",
        rate(plain),
        plain.as_secs_f64()
    );
    println!(
        "acteon run ({workers} worker(s)), audit: {:>10.0} actions/s ({:.2} s, {} audit records)",
        rate(pipeline),
        pipeline.as_secs_f64(),
        report.records
    );
    println!(
        "ratio acteon / plain consumer: {:.3}",
        rate(pipeline) / rate(plain)
    );
}
