//! `acteon serve` reads the script's Kafka source beside the HTTP API: one dataflow, one
//! audit; `--no-source` serves HTTP only; a reload while the topic is being read neither
//! skips a record nor decides one twice. Needs the broker (`scripts/services.sh up kafka`).

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// `acteon serve` on a free port, killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(script: &Path, audit: &Path, extra: &[&str]) -> Served {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_acteon"))
            .arg("serve")
            .arg(script)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--watch-interval", "0s", "--workers", "2"])
            .arg("--audit")
            .arg(audit)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the acteon binary runs");
        let served = Served {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http("GET", &format!("{}/health", served.url), None).0 != 200 {
            assert!(Instant::now() < deadline, "acteon serve did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    }

    fn dispatch(&self, action: &Value) -> Value {
        let (status, answer) = http("POST", &format!("{}/v1/dispatch", self.url), Some(action));
        assert_eq!(status, 200, "{answer}");
        answer
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A script reading `topic` in `group`: `bad` actions are denied, the rest executed by a log
/// provider (one audit record each). `note` makes one version of the script differ from another.
fn script(topic: &str, group: &str, note: &str) -> String {
    format!(
        r#"# {note}
source kafka {{
  brokers = ["{BROKER}"]
  topics = ["{topic}"]
  group = "{group}"
  start = earliest
  format = json
}}
provider quick log
rule deny-bad priority 1 when action_type == "bad" then deny
"#
    )
}

fn action(id: &str, action_type: &str) -> Value {
    json!({"id": id, "namespace": "ops", "tenant": "t", "action_type": action_type,
           "provider": "quick"})
}

/// Records per action id in the audit file.
fn decided(audit: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for record in support::audit(audit) {
        *counts
            .entry(record["action_id"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    counts
}

/// Waits (bounded) until `wanted` action ids are in the audit.
fn wait_for(audit: &Path, wanted: usize, limit: Duration) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + limit;
    loop {
        let counts = decided(audit);
        if counts.len() >= wanted || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_topic_and_the_requests_are_decided_in_one_audit_and_a_reload_hands_the_topic_over() {
    require_broker();
    let topic = unique("served-source");
    let group = unique("served-group");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.acteon");
    std::fs::write(&path, script(&topic, &group, "first")).unwrap();
    let line = |n: usize| {
        let kind = if n.is_multiple_of(5) {
            "bad"
        } else {
            "reading"
        };
        action(&format!("kafka-{n}"), kind).to_string()
    };
    produce(
        &topic,
        3,
        (0..200).map(|n| (Some(format!("k{n}")), line(n))),
    );
    let audit = dir.path().join("audit.jsonl");
    let served = Served::start(&path, &audit, &[]);

    for n in 0..20usize {
        let kind = if n.is_multiple_of(2) {
            "bad"
        } else {
            "reading"
        };
        let answer = served.dispatch(&action(&format!("http-{n}"), kind));
        let outcome = if n.is_multiple_of(2) {
            "denied"
        } else {
            "executed"
        };
        assert_eq!(answer["outcome"], outcome, "{answer}");
    }
    let counts = wait_for(&audit, 220, Duration::from_secs(60));
    assert_eq!(
        counts.len(),
        220,
        "every record of the topic and every request: {counts:?}"
    );

    // More records arrive while the script is reloaded twice.
    let producing = {
        let topic = topic.clone();
        std::thread::spawn(move || {
            for batch in 0..10 {
                let from = 200 + batch * 30;
                produce(
                    &topic,
                    3,
                    (from..from + 30).map(|n| (Some(format!("k{n}")), line(n))),
                );
                std::thread::sleep(Duration::from_millis(150));
            }
        })
    };
    for note in ["second", "third"] {
        std::thread::sleep(Duration::from_millis(400));
        std::fs::write(&path, script(&topic, &group, note)).unwrap();
        let (status, answer) = http("POST", &format!("{}/v1/rules/reload", served.url), None);
        assert_eq!(status, 200, "{answer}");
    }
    producing.join().unwrap();
    let counts = wait_for(&audit, 520, Duration::from_secs(60));
    let from_topic: Vec<(&String, &usize)> = counts
        .iter()
        .filter(|(id, _)| id.starts_with("kafka-"))
        .collect();
    assert_eq!(
        from_topic.len(),
        500,
        "no record skipped across the reloads"
    );
    let twice: Vec<_> = from_topic.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "records decided twice: {twice:?}");
    let bad = support::audit(&audit)
        .into_iter()
        .filter(|r| r["action_id"] == "kafka-5")
        .map(|r| r["outcome"].clone())
        .collect::<Vec<_>>();
    assert_eq!(bad, vec![json!("denied")]);
}

#[test]
fn no_source_serves_http_only() {
    require_broker();
    let topic = unique("served-no-source");
    let group = unique("served-no-source-group");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.acteon");
    std::fs::write(&path, script(&topic, &group, "http only")).unwrap();
    produce(
        &topic,
        1,
        (0..20).map(|n| (None, action(&format!("kafka-{n}"), "reading").to_string())),
    );
    let audit = dir.path().join("audit.jsonl");
    let served = Served::start(&path, &audit, &["--no-source"]);
    served.dispatch(&action("http-0", "reading"));
    // Given the time a served source takes to read 20 records (well under a second), twice.
    std::thread::sleep(Duration::from_secs(2));
    let (status, page) = http("GET", &format!("{}/v1/audit?limit=100", served.url), None);
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["action_id"].as_str())
        .collect();
    assert_eq!(ids, vec!["http-0"], "nothing from the topic");
}
