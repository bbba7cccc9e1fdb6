//! What the tests that run the binary against the broker share: the repository, the seed's
//! files, unique names, producing to a topic, running `acteon` with bounded waits, reading an
//! audit. Each test binary uses a part of it.
#![allow(dead_code)]

pub mod proxy;

use acteon_kafka::simulator::{Building, Mix, Simulator, START_MS};
use acteon_kafka::TopicWriter;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BROKER: &str = "127.0.0.1:9092";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn seed(file: &str) -> PathBuf {
    repo().join("pipelines/aws-event-pipeline").join(file)
}

/// Fails (never skips) when the broker is not there.
pub fn require_broker() {
    let address: SocketAddr = BROKER.parse().unwrap();
    if TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err() {
        panic!("no Kafka broker on {BROKER}: run `scripts/services.sh up kafka` (scripts/test.sh does)");
    }
}

/// A port nothing listens on now (for a server about to be started on it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub const EMULATOR_PORT: u16 = 4566;

/// Fails (never skips) when the AWS emulator is not there.
pub fn require_emulator() {
    let address: SocketAddr = ([127, 0, 0, 1], EMULATOR_PORT).into();
    if TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err() {
        panic!(
            "no AWS emulator on {address}: run `scripts/services.sh up aws` (scripts/test.sh does)"
        );
    }
}

/// A topic and group name no other test or run has used.
pub fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// Sends `records` (key, line) to `topic`, created with `partitions` when missing; a record
/// without a key goes to partition 0.
pub fn produce(
    topic: &str,
    partitions: i32,
    records: impl IntoIterator<Item = (Option<String>, String)>,
) {
    acteon_kafka::ensure_topic(BROKER, &BTreeMap::new(), topic, partitions).unwrap();
    let writer = TopicWriter::new(BROKER, &BTreeMap::new()).unwrap();
    for (key, line) in records {
        let partition = if key.is_none() { Some(0) } else { None };
        writer
            .send(topic, (key.as_deref(), partition), line.as_bytes(), None)
            .unwrap();
    }
    writer.flush(Duration::from_secs(180)).unwrap();
}

/// Sends `count` simulated seed-mix actions (keyed by device, ids `action-0`...) to `topic`.
pub fn produce_simulated(topic: &str, partitions: i32, count: u64, seed: u64) {
    let mut simulator = Simulator::new(Mix::SEED, Building::default(), START_MS, 10, seed);
    produce(
        topic,
        partitions,
        (0..count).map(|_| {
            let (device, line) = simulator.next_action();
            (Some(device), line)
        }),
    );
}

pub fn acteon(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_acteon"))
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::null())
        .spawn()
        .expect("the acteon binary runs")
}

/// Waits for the run to exit by itself (bounded); kills it and fails past `limit`.
pub fn finish(mut child: Child, limit: Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "acteon run failed: {status}");
            return;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("acteon run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (bounded by `limit`, polling) until `due` holds, then kills the run with SIGKILL;
/// fails if the run ends by itself first.
pub fn kill_when(mut child: Child, limit: Duration, mut due: impl FnMut() -> bool) {
    let started = Instant::now();
    while !due() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        assert!(started.elapsed() < limit, "the run is too slow");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// The audit's records (a line cut short by a kill is skipped).
pub fn audit(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

pub fn run_args<'a>(
    script: &'a str,
    url: &'a str,
    audit: &'a str,
    dry_run: &'a str,
) -> Vec<&'a str> {
    vec![
        "run",
        script,
        "--source",
        url,
        "--exit-when-idle",
        "3s",
        "--audit",
        audit,
        "--dry-run",
        dry_run,
    ]
}

/// One record read back from a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRecord {
    pub key: Option<String>,
    pub value: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// Reads `topic` from the beginning until `count` records came (bounded: 30 s).
pub fn read_topic(topic: &str, count: usize) -> Vec<TopicRecord> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", BROKER)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut records = Vec::new();
    let started = Instant::now();
    while records.len() < count && started.elapsed() < Duration::from_secs(30) {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                            (h.key.to_owned(), value.into_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            records.push(TopicRecord {
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
                value: message.payload().unwrap_or_default().to_vec(),
                headers,
            });
        }
    }
    records
}

/// An HTTP request through curl (`body`: JSON to send): the status and the JSON answer
/// (`Null` when it is not JSON). Bounded by curl's 30 s limit.
pub fn http(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "--max-time",
        "30",
        "-X",
        method,
        "-w",
        "\n%{http_code}",
    ]);
    if let Some(body) = body {
        curl.args(["-H", "Content-Type: application/json", "-d"])
            .arg(body.to_string());
    }
    let output = curl.arg(url).output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let (answer, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        status.trim().parse().unwrap_or(0),
        serde_json::from_str(answer).unwrap_or(Value::Null),
    )
}

/// Processes that serve until the test ends, however it ends.
pub struct KilledOnDrop(pub Vec<std::process::Child>);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        for process in &mut self.0 {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}
