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
//! - [`provider`]: the `kafka` provider type: each call a record on a topic.
//! - [`audit`]: the audit written to a topic (`--audit kafka://HOST:PORT/TOPIC`), as a sink
//!   buffer's destination.
//! - [`table`]: [`KafkaTables`], tables read from topics (`table NAME key FIELD from kafka`).
//! - this file: errors and `kafka://HOST:PORT/TOPIC?group=G` addresses.

pub mod audit;
pub mod feed;
pub mod producer;
pub mod provider;
pub mod simulator;
pub mod table;

pub use audit::KafkaAudit;
pub use feed::{dead_letter_topic, KafkaFeed, ERROR_HEADER};
pub use producer::{ensure_topic, TopicWriter};
pub use table::KafkaTables;

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

/// A `kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC][?KEY=VALUE&...]` address, taken apart.
struct Address {
    brokers: Vec<String>,
    topics: Vec<String>,
    query: Vec<(String, String)>,
}

fn address(url: &str) -> Result<Address, KafkaError> {
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
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| bad("query needs key=value"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Address {
        brokers,
        topics,
        query,
    })
}

/// Parses `kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC][?group=G&start=earliest|latest|committed]`.
/// Without a group the script's is kept (`base`), else `acteon`; without a start, the run
/// resumes from the group's committed offsets. Other query keys are librdkafka properties.
pub fn source_from_url(url: &str, base: Option<&KafkaSource>) -> Result<KafkaSource, KafkaError> {
    let bad = |why: &str| KafkaError::Config(format!("{url}: {why}"));
    let Address {
        brokers,
        topics,
        query,
    } = address(url)?;
    let mut source = KafkaSource {
        brokers,
        topics,
        group: base.map_or_else(|| "acteon".to_owned(), |b| b.group.clone()),
        start: StartOffset::Committed,
        format: RecordFormat::Json,
        properties: base.map(|b| b.properties.clone()).unwrap_or_default(),
    };
    let mut properties = BTreeMap::new();
    for (key, value) in query {
        match key.as_str() {
            "group" => source.group = value,
            "start" => {
                source.start = match value.as_str() {
                    "earliest" => StartOffset::Earliest,
                    "latest" => StartOffset::Latest,
                    "committed" => StartOffset::Committed,
                    _ => return Err(bad("start is earliest, latest or committed")),
                }
            }
            _ => {
                properties.insert(key, value);
            }
        }
    }
    source.properties.extend(properties);
    Ok(source)
}

/// Where `--audit kafka://HOST:PORT/TOPIC[?PROPERTY=VALUE...]` sends the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicAddress {
    pub brokers: Vec<String>,
    pub topic: String,
    /// librdkafka properties.
    pub properties: BTreeMap<String, String>,
}

impl TopicAddress {
    /// Whether `text` names a topic rather than a file.
    pub fn is_url(text: &str) -> bool {
        text.starts_with("kafka://")
    }

    /// One topic; every query key is a librdkafka property.
    pub fn parse(url: &str) -> Result<TopicAddress, KafkaError> {
        let Address {
            brokers,
            mut topics,
            query,
        } = address(url)?;
        if topics.len() != 1 {
            return Err(KafkaError::Config(format!(
                "{url}: the audit goes to one topic"
            )));
        }
        Ok(TopicAddress {
            brokers,
            topic: topics.remove(0),
            properties: query.into_iter().collect(),
        })
    }
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

    #[test]
    fn parses_audit_topic_urls() {
        let address =
            TopicAddress::parse("kafka://127.0.0.1:9092,b:2/audit?compression.type=lz4").unwrap();
        assert_eq!(address.brokers, ["127.0.0.1:9092", "b:2"]);
        assert_eq!(address.topic, "audit");
        assert_eq!(address.properties["compression.type"], "lz4");
        assert!(TopicAddress::is_url("kafka://a:1/t"));
        assert!(!TopicAddress::is_url("target/audit.jsonl"));
        for bad in [
            "kafka://a:1/t1,t2",
            "kafka://a:1",
            "kafka://a:1/t?x",
            "file.jsonl",
        ] {
            assert!(TopicAddress::parse(bad).is_err(), "{bad}");
        }
    }
}
