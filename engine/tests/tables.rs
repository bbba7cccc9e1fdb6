//! Tables from files: rows read by key as of each action's event time change decisions, fill
//! `modify` patches and step payloads, and give the same audit with any number of workers.

use acteon_dsl::plan::{Outcome, Plan};
use acteon_engine::{run, AuditOutput, Input, RunConfig, RunReport};
use serde_json::json;
use std::path::Path;

mod common;

use common::memory_run;

const SCRIPT: &str = r#"
table devices key device_id from "devices.jsonl"

provider alert-fanout log
provider metrics-queue log

audit { store_payload = true }

chain notify-owner {
  step page call alert-fanout page { "device": "{{origin.payload.device_id}}", "owner": devices[payload.device_id].owner }
}

rule page-owner priority 0
  when action_type == "page"
  then chain notify-owner

rule critical-temperature priority 1
  when payload.sensor_type == "temperature"
    and payload.value > devices[payload.device_id].max_temp ?? 85
  then reroute alert-fanout

rule maintenance priority 2
  when devices[payload.device_id].state == "maintenance"
  then suppress

rule enrich priority 3
  then modify { "owner": devices[payload.device_id].owner ?? "unassigned", "zone": devices[payload.device_id].zone }
"#;

const ROWS: &str = r#"{"device_id": "d1", "max_temp": 90, "owner": "facilities", "zone": "east"}
{"device_id": "d2", "max_temp": 70, "owner": "it"}

{"device_id": "d3", "state": "maintenance"}
"#;

/// The script compiled in `dir`, next to its table file.
fn plan_in(dir: &Path, script: &str, rows: &str) -> Plan {
    std::fs::write(dir.join("devices.jsonl"), rows).unwrap();
    let compiled = acteon_dsl::compile_str(dir.join("tables.acteon"), script);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.unwrap()
}

fn reading(id: &str, second: u64, device: serde_json::Value, value: i64) -> String {
    json!({
        "id": id, "namespace": "iot", "tenant": "hq", "action_type": "sensor_reading",
        "provider": "metrics-queue",
        "created_at": format!("2026-11-28T09:00:{second:02}.000Z"),
        "payload": { "sensor_type": "temperature", "value": value, "device_id": device },
    })
    .to_string()
}

fn outcome(report: &RunReport, id: &str) -> (Outcome, Option<String>) {
    let record = report
        .audit
        .iter()
        .find(|r| &*r.action_id == id)
        .unwrap_or_else(|| panic!("no record of {id}"));
    (
        record.outcome,
        record.target.as_ref().map(|t| t.to_string()),
    )
}

fn readings() -> Vec<String> {
    vec![
        // Row max_temp 90: 88 is not above it, 95 is.
        reading("d1-88", 1, json!("d1"), 88),
        reading("d1-95", 2, json!("d1"), 95),
        // Row max_temp 70.
        reading("d2-75", 3, json!("d2"), 75),
        // No row: the default 85.
        reading("d9-80", 4, json!("d9"), 80),
        reading("d9-86", 5, json!("d9"), 86),
        // A key that is not a string finds no row.
        reading("n-86", 6, json!(7), 86),
        // The row says maintenance.
        reading("d3-20", 7, json!("d3"), 20),
        reading("d2-60", 8, json!("d2"), 60),
        json!({
            "id": "page-d1", "namespace": "iot", "tenant": "hq", "action_type": "page",
            "created_at": "2026-11-28T09:00:09.000Z", "payload": { "device_id": "d1" },
        })
        .to_string(),
    ]
}

#[test]
fn a_file_table_changes_decisions_and_fills_patches() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_in(dir.path(), SCRIPT, ROWS);
    let report = memory_run(&plan, readings(), 1);
    let alert = Some("alert-fanout".to_owned());
    let metrics = Some("metrics-queue".to_owned());
    assert_eq!(
        outcome(&report, "d1-88"),
        (Outcome::Executed, metrics.clone())
    );
    assert_eq!(
        outcome(&report, "d1-95"),
        (Outcome::Rerouted, alert.clone())
    );
    assert_eq!(
        outcome(&report, "d2-75"),
        (Outcome::Rerouted, alert.clone())
    );
    assert_eq!(
        outcome(&report, "d9-80"),
        (Outcome::Executed, metrics.clone())
    );
    assert_eq!(
        outcome(&report, "d9-86"),
        (Outcome::Rerouted, alert.clone())
    );
    assert_eq!(outcome(&report, "n-86"), (Outcome::Rerouted, alert));
    assert_eq!(outcome(&report, "d3-20").0, Outcome::Suppressed);

    // The enrichment reaches the provider call: the row's owner and zone, or the default.
    let call = |id: &str| {
        let call = report
            .calls
            .iter()
            .find(|c| &*c.action_id == id)
            .unwrap_or_else(|| panic!("no call of {id}"));
        serde_json::from_str::<serde_json::Value>(call.payload.text()).unwrap()
    };
    assert_eq!(call("d1-88")["owner"], "facilities");
    assert_eq!(call("d1-88")["zone"], "east");
    assert_eq!(call("d2-60")["owner"], "it");
    // d2's row has no zone and the patch gives no default: the member is left out.
    assert!(call("d2-60").get("zone").is_none());
    assert_eq!(call("d9-80")["owner"], "unassigned");
    // A chain step's payload takes the origin action's row.
    let page = call("page-d1");
    assert_eq!(
        (&page["device"], &page["owner"]),
        (&json!("d1"), &json!("facilities"))
    );
    // And the audit.
    let audited = report
        .audit
        .iter()
        .find(|r| &*r.action_id == "d1-88")
        .and_then(|r| r.payload.as_ref())
        .map(|p| serde_json::from_str::<serde_json::Value>(p.text()).unwrap())
        .expect("the audit stores payloads");
    assert_eq!(audited["owner"], "facilities");
    assert_eq!(audited["zone"], "east");
}

#[test]
fn one_and_four_workers_and_a_replay_give_the_same_audit() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_in(dir.path(), SCRIPT, ROWS);
    let lines: Vec<String> = (0..200)
        .map(|i| {
            let device = ["d1", "d2", "d3", "d9"][i % 4];
            reading(
                &format!("a{i}"),
                (i % 60) as u64,
                json!(device),
                60 + (i % 40) as i64,
            )
        })
        .collect();
    let audit = |report: RunReport| -> Vec<String> {
        let mut lines: Vec<String> = report
            .audit
            .iter()
            .map(|r| format!("{} {:?} {:?} {:?}", r.id, r.outcome, r.target, r.payload))
            .collect();
        lines.sort();
        lines
    };
    let one = audit(memory_run(&plan, lines.clone(), 1));
    assert_eq!(one.len(), 200);
    assert_eq!(one, audit(memory_run(&plan, lines.clone(), 4)));
    assert_eq!(one, audit(memory_run(&plan, lines, 1)));
}

#[test]
fn a_table_file_that_cannot_be_read_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_in(dir.path(), SCRIPT, ROWS);
    std::fs::write(dir.path().join("devices.jsonl"), "{\"device_id\": 3}\n").unwrap();
    let error = run(
        &plan,
        RunConfig {
            input: Input::Lines(readings()),
            ..RunConfig::default()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("table `devices`"), "{error}");
}

/// `count` readings of d1 (value 80) and d2 (value 75), 20 ms apart from 09:00:00.
fn ticks(count: u64) -> Vec<String> {
    (0..count)
        .map(|i| {
            let at = 1_795_856_400_000 + i as i64 * 20;
            let device = if i % 2 == 0 { "d1" } else { "d2" };
            json!({
                "id": format!("t{i}"), "namespace": "iot", "tenant": "hq",
                "action_type": "sensor_reading", "provider": "metrics-queue",
                "created_at": acteon_engine::time::format_rfc3339_ms(at),
                "payload": { "sensor_type": "temperature", "value": 80 - (i % 2) as i64 * 5, "device_id": device },
            })
            .to_string()
        })
        .collect()
}

#[test]
fn a_restart_from_a_checkpoint_keeps_the_table_it_had() {
    use acteon_engine::checkpoint::DirectoryStore;
    use acteon_engine::CheckpointConfig;
    use std::sync::Arc;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_in(dir.path(), SCRIPT, ROWS);
    let state = tempfile::tempdir().unwrap();
    let checkpointed = |lines: Vec<String>| {
        run(
            &plan,
            RunConfig {
                input: Input::Lines(lines),
                audit: AuditOutput::Memory,
                checkpoints: Some(CheckpointConfig {
                    store: Arc::new(DirectoryStore::open(state.path()).unwrap()),
                    interval: Duration::ZERO,
                }),
                ..RunConfig::default()
            },
        )
        .unwrap()
    };
    let lines = ticks(4000);
    let first = checkpointed(lines[..2000].to_vec());
    assert_eq!(first.audit.len(), 2000);
    // The file changes before the restart: d1's limit is 70 now, d2's 90. The restored run
    // reads the rows its checkpoint holds, not the file.
    std::fs::write(
        dir.path().join("devices.jsonl"),
        "{\"device_id\": \"d1\", \"max_temp\": 70}\n{\"device_id\": \"d2\", \"max_temp\": 90}\n",
    )
    .unwrap();
    let resumed = checkpointed(lines);
    assert!(!resumed.audit.is_empty() && resumed.audit.len() < 4000);
    for record in &resumed.audit {
        // d1 (80 under 90) is delivered; d2 (75 over 70) is rerouted, as before the change.
        let expected = match record.action_id[1..].parse::<u64>().unwrap() % 2 {
            0 => Outcome::Executed,
            _ => Outcome::Rerouted,
        };
        assert_eq!(record.outcome, expected, "{}", record.action_id);
    }
}
