//! Kafka for acteon: the feed the engine's source operator reads (partitions spread over the
//! workers, offsets committed behind the dataflow's frontier, rejected records to a dead-letter
//! topic), the producer that `acteon produce` and the dead-letter output share, and the sensor
//! simulator.
//!
//! Module map:
//! - [`feed`]: [`KafkaFeed`], the engine's `Feed` over rdkafka consumers; lanes, commits,
//!   dead letters.
//! - [`producer`]: [`TopicWriter`], one record per batch, counting deliveries; topic creation.
//! - [`simulator`]: the reproducible sensor workload (also the benchmarks' workload).
//! - this file: errors and `kafka://HOST:PORT/TOPIC?group=G` addresses.

pub mod feed;
pub mod producer;
pub mod simulator;

pub use feed::{dead_letter_topic, KafkaFeed, ERROR_HEADER};
pub use producer::{ensure_topic, TopicWriter};

use acteon_dsl::plan::{KafkaSource, RecordFormat, StartOffset};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long metadata, topic creation and committed-offset look-ups may take: past it, a broker
/// that does not answer is an error rather than a silent wait.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("kafka client: {0}")]
    Client(String),
    #[error("kafka produce: {0}")]
    Produce(String),
    #[error("kafka source: {0}")]
    Config(String),
}

/// Parses `kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC][?group=G&start=earliest|latest|committed]`.
/// Without a group the script's is kept (`base`), else `acteon`; without a start, the run
/// resumes from the group's committed offsets. Other query keys are librdkafka properties.
pub fn source_from_url(url: &str, base: Option<&KafkaSource>) -> Result<KafkaSource, KafkaError> {
    let bad = |why: &str| KafkaError::Config(format!("{url}: {why}"));
    let rest = url
        .strip_prefix("kafka://")
        .ok_or_else(|| bad("expected kafka://HOST:PORT/TOPIC"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (hosts, topics) = path
        .split_once('/')
        .ok_or_else(|| bad("no topic after the host"))?;
    let list = |text: &str| -> Vec<String> {
        text.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (brokers, topics) = (list(hosts), list(topics));
    if brokers.is_empty() || topics.is_empty() {
        return Err(bad("a host and a topic are needed"));
    }
    let mut source = KafkaSource {
        brokers,
        topics,
        group: base.map_or_else(|| "acteon".to_owned(), |b| b.group.clone()),
        start: StartOffset::Committed,
        format: RecordFormat::Json,
        properties: base.map(|b| b.properties.clone()).unwrap_or_default(),
    };
    let mut properties = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| bad("query needs key=value"))?;
        match key {
            "group" => source.group = value.to_owned(),
            "start" => {
                source.start = match value {
                    "earliest" => StartOffset::Earliest,
                    "latest" => StartOffset::Latest,
                    "committed" => StartOffset::Committed,
                    _ => return Err(bad("start is earliest, latest or committed")),
                }
            }
            _ => {
                properties.insert(key.to_owned(), value.to_owned());
            }
        }
    }
    source.properties.extend(properties);
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_urls() {
        let source = source_from_url("kafka://127.0.0.1:9092/telemetry?group=g1", None).unwrap();
        assert_eq!(source.brokers, ["127.0.0.1:9092"]);
        assert_eq!(source.topics, ["telemetry"]);
        assert_eq!(source.group, "g1");
        assert_eq!(source.start, StartOffset::Committed);
        let source = source_from_url(
            "kafka://a:1,b:2/t1,t2?start=earliest&fetch.min.bytes=1",
            None,
        )
        .unwrap();
        assert_eq!(source.topics, ["t1", "t2"]);
        assert_eq!(source.group, "acteon");
        assert_eq!(source.start, StartOffset::Earliest);
        assert_eq!(source.properties["fetch.min.bytes"], "1");
        for bad in [
            "http://a/t",
            "kafka://a",
            "kafka://a/t?start=now",
            "kafka:///t",
        ] {
            assert!(source_from_url(bad, None).is_err(), "{bad}");
        }
    }
}
