//! Outages against the AWS emulator (127.0.0.1:4566), each injected by a TCP proxy between
//! Acteon and the one service that goes down. An audit destination down: its records wait in
//! their sink buffer, a full buffer holds the input back (HTTP: 503 with Retry-After), and
//! after the outage every record is in its destination exactly once. A provider down: every
//! call that fails ends at its breaker's fallback. Every wait is bounded.

mod support;

use acteon_aws::AwsProviders;
use acteon_delivery::Policy;
use acteon_dsl::plan::AwsConnection;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::proxy::Proxy;
use support::{http, repo, require_emulator, unique, EMULATOR_PORT};

fn connection(port: u16) -> AwsConnection {
    AwsConnection {
        region: Some("us-east-1".into()),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        ..AwsConnection::default()
    }
}

/// A fresh audit table, as the seed's setup script makes it.
fn create_audit_table(aws: &AwsProviders, table: &str) {
    use aws_sdk_dynamodb::types::*;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws.sdk_config(&connection(EMULATOR_PORT)));
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    aws.runtime()
        .block_on(
            dynamodb
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attribute("pk"))
                .attribute_definitions(attribute("sk"))
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .send(),
        )
        .unwrap();
}

/// Every record of tenant `hq` in `table`: action id → records.
fn table_records(aws: &AwsProviders, table: &str) -> BTreeMap<String, usize> {
    let audit = aws.audit_table(table, &connection(EMULATOR_PORT));
    let records = aws
        .runtime()
        .block_on(audit.query_pages("iot", "hq", (None, None), 1_000, 100))
        .unwrap();
    let mut counts = BTreeMap::new();
    for record in records {
        *counts
            .entry(record["action_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

/// A script whose one provider is a log and whose audit is DynamoDB `table` at `endpoint`.
fn script(dir: &Path, table: &str, endpoint: &str) -> std::path::PathBuf {
    let script = dir.join("outage.acteon");
    std::fs::write(
        &script,
        format!(
            r#"provider sink log

audit {{
  sink = dynamodb
  table = "{table}"
  region = "us-east-1"
  endpoint_url = "{endpoint}"
}}
"#
        ),
    )
    .unwrap();
    script
}

/// `acteon serve` on `script`, killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(script: &Path, extra: &[&str]) -> Served {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_acteon"))
            .arg("serve")
            .arg(script)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .current_dir(repo())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let served = Served {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while http("GET", &format!("{}/health", served.url), None).0 != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "acteon serve did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    }

    /// Dispatches one reading to the provider `sink`: its status and the `Retry-After`
    /// header (empty when none).
    fn dispatch(&self, id: &str) -> (u16, String) {
        self.send(&json!({
            "id": id, "namespace": "iot", "tenant": "hq", "action_type": "reading",
            "provider": "sink", "payload": { "n": id }
        }))
    }

    /// Dispatches `action`: its status and the `Retry-After` header (empty when none).
    fn send(&self, action: &Value) -> (u16, String) {
        let output = Command::new("curl")
            .args(["-sS", "--max-time", "30", "-o", "/dev/null", "-w"])
            .arg("%{http_code} %header{retry-after}")
            .args(["-H", "Content-Type: application/json", "-d"])
            .arg(action.to_string())
            .arg(format!("{}/v1/dispatch", self.url))
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let (status, retry) = text.split_once(' ').unwrap_or((&text, ""));
        (status.trim().parse().unwrap_or(0), retry.trim().to_owned())
    }

    /// The first sink buffer of the provider health answer.
    fn buffer(&self) -> Value {
        let (status, health) = http("GET", &format!("{}/v1/providers/health", self.url), None);
        assert_eq!(status, 200, "{health}");
        health["sink_buffers"][0].clone()
    }

    fn metrics(&self) -> String {
        let output = Command::new("curl")
            .args(["-sS", "--max-time", "30"])
            .arg(format!("{}/metrics", self.url))
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the metric line that starts with `series` (name and labels).
fn metric(metrics: &str, series: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

const BOUND: usize = 30;

#[test]
fn a_dynamodb_audit_outage_loses_no_record_and_a_full_buffer_answers_503_until_it_drains() {
    require_emulator();
    let aws = AwsProviders::new(Policy::default()).unwrap();
    let table = unique("outage-audit");
    create_audit_table(&aws, &table);
    let proxy = Proxy::start(EMULATOR_PORT);
    let dir = tempfile::tempdir().unwrap();
    let script = script(dir.path(), &table, &proxy.url());
    let served = Served::start(&script, &["--sink-buffer", &BOUND.to_string()]);
    let sink = format!("dynamodb-{table}");
    let mut answered = Vec::new();
    let mut send = |id: String| {
        let (status, retry_after) = served.dispatch(&id);
        if status == 200 {
            answered.push(id);
        }
        (status, retry_after)
    };

    for n in 0..10 {
        assert_eq!(send(format!("up-{n}")).0, 200);
    }

    // Cut: answers keep coming until the buffer is full, then 503 with Retry-After.
    proxy.cut();
    let mut refused = None;
    for n in 0..BOUND * 10 {
        match send(format!("down-{n}")) {
            (200, _) => {}
            (503, retry_after) => {
                refused = Some((n, retry_after));
                break;
            }
            other => panic!("dispatch down-{n} answered {other:?}"),
        }
    }
    let (accepted_while_down, retry_after) = refused.expect("a full buffer answers 503");
    assert_eq!(retry_after, "1", "a 503 says when to try again");
    assert!(
        accepted_while_down >= BOUND / 2,
        "answers keep coming while the buffer has room: {accepted_while_down} before the 503"
    );
    std::thread::sleep(Duration::from_millis(50));
    let buffer = served.buffer();
    assert_eq!(buffer["sink"], sink.as_str(), "{buffer}");
    assert_eq!(buffer["full"], true, "{buffer}");
    assert!(
        buffer["records"].as_u64().unwrap() >= BOUND as u64,
        "{buffer}"
    );
    assert!(buffer["oldest_age_ms"].as_u64().unwrap() > 0, "{buffer}");
    assert!(buffer["failures"].as_u64().unwrap() >= 1, "{buffer}");
    let metrics = served.metrics();
    let labels = format!("{{sink=\"{sink}\"}}");
    assert_eq!(
        metric(&metrics, &format!("acteon_sink_buffer_full{labels}")),
        Some(1),
        "{metrics}"
    );
    assert!(
        metric(&metrics, &format!("acteon_sink_buffer_records{labels}")) >= Some(BOUND as u64),
        "{metrics}"
    );
    assert!(
        metric(
            &metrics,
            &format!("acteon_sink_buffer_oldest_age_ms{labels}")
        ) > Some(0)
    );

    // Restored: the buffer drains, the 503s stop, and the load goes on.
    proxy.restore();
    let restored = Instant::now();
    let mut n = 0;
    loop {
        n += 1;
        match send(format!("back-{n}")) {
            (200, _) => break,
            (503, _) => {}
            other => panic!("dispatch back-{n} answered {other:?}"),
        }
        assert!(
            restored.elapsed() < Duration::from_secs(60),
            "still 503 a minute after the table came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for n in 0..10 {
        assert_eq!(send(format!("after-{n}")).0, 200);
    }
    while served.buffer()["records"] != 0 {
        assert!(
            restored.elapsed() < Duration::from_secs(120),
            "the buffer did not drain: {}",
            served.buffer()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(served.buffer()["full"], false);

    // Every answered action's record is in the table, once; nothing else is.
    let counts = table_records(&aws, &table);
    let twice: Vec<_> = counts.iter().filter(|(_, &n)| n != 1).collect();
    assert!(twice.is_empty(), "records not written once: {twice:?}");
    let mut written: Vec<&String> = counts.keys().collect();
    let mut expected: Vec<&String> = answered.iter().collect();
    written.sort();
    expected.sort();
    assert_eq!(written, expected);
}

/// A critical alert to the SNS provider `alert-fanout`.
fn alert(id: &str) -> Value {
    json!({
        "id": id, "namespace": "iot", "tenant": "hq", "action_type": "alert",
        "provider": "alert-fanout", "created_at": "2026-11-28T09:00:00.000Z",
        "payload": { "severity": "critical", "alert": id }
    })
}

#[test]
fn with_sns_cut_every_critical_alert_from_a_file_and_over_http_reaches_the_fallback() {
    require_emulator();
    let aws = AwsProviders::new(Policy::default()).unwrap();
    let name = unique("outage-alerts");
    let sns = aws_sdk_sns::Client::new(&aws.sdk_config(&connection(EMULATOR_PORT)));
    let topic = aws
        .runtime()
        .block_on(sns.create_topic().name(&name).send())
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(EMULATOR_PORT);
    proxy.cut();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("alerts.acteon");
    std::fs::write(
        &script,
        format!(
            r#"provider alert-fanout aws-sns {{
  region = "us-east-1"
  endpoint_url = "{endpoint}"
  topic_arn = "{topic}"
}}
provider local-fallback log
provider alert-archive aws-sns {{
  region = "us-east-1"
  endpoint_url = "{endpoint}"
  topic_arn = "{topic}"
}}

breaker alert-fanout {{
  failure_threshold = 2
  recovery_timeout = 60s
  fallback = local-fallback
}}
"#,
            endpoint = proxy.url()
        ),
    )
    .unwrap();
    let check = |record: &Value| {
        assert_eq!(record["outcome"], "rerouted", "{record}");
        assert_eq!(record["target"], "local-fallback", "{record}");
        assert_eq!(record["details"]["original_target"], "alert-fanout");
    };

    // A burst from a file: every call starts before any failure opens the breaker.
    let input = dir.path().join("alerts.jsonl");
    let mut lines: Vec<String> = (0..20)
        .map(|n| alert(&format!("file-{n}")).to_string())
        .collect();
    // And three to a provider with no fallback: those go to the dead-letter file.
    for n in 0..3 {
        let mut archived = alert(&format!("archive-{n}"));
        archived["provider"] = json!("alert-archive");
        lines.push(archived.to_string());
    }
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let audit = dir.path().join("audit.jsonl");
    let dead_letter = dir.path().join("dead-letter.jsonl");
    support::finish(
        support::acteon(&[
            "run",
            script.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
            "--dead-letter",
            dead_letter.to_str().unwrap(),
        ]),
        Duration::from_secs(300),
    );
    let (records, archived): (Vec<Value>, Vec<Value>) = support::audit(&audit)
        .into_iter()
        .partition(|r| r["provider"] == "alert-fanout");
    assert_eq!(records.len(), 20, "{records:?}");
    records.iter().for_each(check);
    assert_eq!(archived.len(), 3, "{archived:?}");
    assert!(
        archived.iter().all(|r| r["outcome"] == "failed"),
        "{archived:?}"
    );
    let mut dead: Vec<String> = support::audit(&dead_letter)
        .iter()
        .map(|entry| {
            assert_eq!(entry["provider"], "alert-archive", "{entry}");
            assert!(
                entry["reason"].is_string() && entry["payload"].is_object(),
                "{entry}"
            );
            entry["action_id"].as_str().unwrap().to_owned()
        })
        .collect();
    dead.sort();
    assert_eq!(dead, ["archive-0", "archive-1", "archive-2"]);
    assert!(
        records
            .iter()
            .any(|r| r["details"]["fallback_reason"] == "call_failed"),
        "the calls that failed went to the fallback too"
    );

    // One at a time over HTTP.
    let served = Served::start(&script, &[]);
    for n in 0..5 {
        let id = format!("http-{n}");
        assert_eq!(served.send(&alert(&id)).0, 200);
        let started = Instant::now();
        let record = loop {
            let (_, answer) = http("GET", &format!("{}/v1/audit/{id}", served.url), None);
            if let Some(record) = answer["records"].as_array().and_then(|r| r.first()) {
                break record.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no record for {id}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        check(&record);
    }
}
