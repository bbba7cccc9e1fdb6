//! Kafka as a destination, on the real broker (tansu on 127.0.0.1:9092, started by
//! `scripts/test.sh`): a rule reroutes to a `kafka` provider, and the audit goes to a topic
//! beside a file. Every test uses its own topics and group; every wait is bounded.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

mod support;

use support::{acteon, audit, finish, produce, read_topic, require_broker, unique, BROKER};

/// Readings of three devices; those over 90 are rerouted to the topic.
fn actions() -> Vec<Value> {
    [
        ("r1", "temp-1", 95),
        ("r2", "temp-2", 40),
        ("r3", "temp-3", 99),
        ("r4", "temp-1", 20),
        ("r5", "temp-2", 91),
        ("r6", "temp-3", 60),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (id, device, value))| {
        json!({
            "id": id,
            "namespace": "iot",
            "tenant": "smartbuilding-hq",
            "action_type": "sensor_reading",
            "provider": "telemetry",
            "payload": { "device_id": device, "value": value },
            "created_at": format!("2026-11-28T09:00:0{i}Z"),
        })
    })
    .collect()
}

#[test]
fn a_rule_reroutes_to_a_topic_and_the_audit_topic_matches_the_audit_file() {
    require_broker();
    let input = unique("sink-input");
    let alerts = unique("sink-alerts");
    let audit_topic = unique("sink-audit");
    let actions = actions();
    produce(
        &input,
        1,
        actions.iter().map(|action| (None, action.to_string())),
    );

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("sink.acteon");
    std::fs::write(
        &script,
        format!(
            r#"provider telemetry log
provider alerts-topic kafka {{
  brokers = ["{BROKER}"]
  topic = "{alerts}"
  key = payload.device_id
}}

rule critical-reading priority 1
  when payload.value > 90
  then reroute alerts-topic
"#
        ),
    )
    .unwrap();
    let audit_file = dir.path().join("audit.jsonl");
    let source = format!(
        "kafka://{BROKER}/{input}?group={}&start=earliest",
        unique("sink-group")
    );
    let audit_url = format!("kafka://{BROKER}/{audit_topic}");
    let run = acteon(&[
        "run",
        script.to_str().unwrap(),
        "--source",
        &source,
        "--exit-when-idle",
        "3s",
        "--audit",
        audit_file.to_str().unwrap(),
        "--audit",
        &audit_url,
    ]);
    finish(run, Duration::from_secs(90));

    // The rerouted readings, one record each: key from the path, payload as the value, the
    // action's identity in headers.
    let records = audit(&audit_file);
    let rerouted: Vec<&Value> = records
        .iter()
        .filter(|r| r["outcome"] == "rerouted")
        .collect();
    assert_eq!(rerouted.len(), 3, "{records:?}");
    assert!(rerouted.iter().all(|r| r["target"] == "alerts-topic"));
    let mut delivered = read_topic(&alerts, 3);
    delivered.sort_by(|a, b| a.headers["acteon-action-id"].cmp(&b.headers["acteon-action-id"]));
    let seen: Vec<(String, String, Value)> = delivered
        .iter()
        .map(|record| {
            (
                record.headers["acteon-action-id"].clone(),
                record.key.clone().unwrap(),
                serde_json::from_slice(&record.value).unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, Value)> = ["r1", "r3", "r5"]
        .iter()
        .map(|id| {
            let action = actions.iter().find(|a| a["id"] == *id).unwrap();
            let device = action["payload"]["device_id"].as_str().unwrap().to_owned();
            (id.to_string(), device, action["payload"].clone())
        })
        .collect();
    assert_eq!(seen, expected);
    for record in &delivered {
        assert_eq!(record.headers["acteon-tenant"], "smartbuilding-hq");
        assert_eq!(record.headers["acteon-namespace"], "iot");
        assert_eq!(record.headers["acteon-action-type"], "sensor_reading");
    }
    let delivery = &rerouted[0]["details"];
    assert!(delivery.to_string().contains(&alerts), "{delivery}");

    // The audit topic holds the same records as the file, each keyed by its action id.
    assert_eq!(records.len(), actions.len());
    let on_topic = read_topic(&audit_topic, records.len());
    for record in &on_topic {
        let value: Value = serde_json::from_slice(&record.value).unwrap();
        assert_eq!(record.key.as_deref(), value["action_id"].as_str());
    }
    let as_set =
        |values: Vec<Value>| -> BTreeSet<String> { values.iter().map(Value::to_string).collect() };
    let from_topic: Vec<Value> = on_topic
        .iter()
        .map(|r| serde_json::from_slice(&r.value).unwrap())
        .collect();
    assert_eq!(from_topic.len(), records.len(), "no record twice");
    assert_eq!(as_set(from_topic), as_set(records));
}

#[test]
fn an_audit_topic_on_a_broker_that_does_not_answer_fails_the_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.jsonl");
    std::fs::write(&input, format!("{}\n", actions()[0])).unwrap();
    let script = dir.path().join("log.acteon");
    std::fs::write(&script, "provider telemetry log\n").unwrap();
    // Port 1 on this machine: nothing listens, so the connection is refused at once.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_acteon"))
        .args([
            "run",
            script.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--audit",
            "kafka://127.0.0.1:1/audit",
        ])
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
}

/// The script itself can send the audit to a topic (`audit { sink = kafka ... }`): with no
/// `--audit`, every decision is on the topic, keyed by its action id.
#[test]
fn the_scripts_audit_block_sends_the_audit_to_a_topic() {
    require_broker();
    let audit_topic = unique("script-audit");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("audited.acteon");
    std::fs::write(
        &script,
        format!(
            "provider telemetry log\n\naudit {{\n  sink = kafka\n  brokers = [\"{BROKER}\"]\n  topic = \"{audit_topic}\"\n}}\n"
        ),
    )
    .unwrap();
    let input = dir.path().join("actions.jsonl");
    let lines: Vec<String> = actions().iter().map(Value::to_string).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let run = acteon(&[
        "run",
        script.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--dry-run",
        dir.path().join("calls").to_str().unwrap(),
    ]);
    finish(run, Duration::from_secs(90));

    let on_topic = read_topic(&audit_topic, actions().len());
    let mut ids: Vec<String> = on_topic
        .iter()
        .map(|record| {
            let value: Value = serde_json::from_slice(&record.value).unwrap();
            assert_eq!(record.key.as_deref(), value["action_id"].as_str());
            assert_eq!(value["outcome"], "executed");
            record.key.clone().unwrap()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["r1", "r2", "r3", "r4", "r5", "r6"]);
}
