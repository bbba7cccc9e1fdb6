//! `acteon run` from Kafka, on the real broker (tansu on 127.0.0.1:9092, started by
//! `scripts/test.sh`): the seed's outcomes, dead letters, and a crash and restart. Every test
//! uses its own topic and group; every wait is bounded.

use acteon_kafka::simulator::{Building, Mix, Simulator, START_MS};
use acteon_kafka::{dead_letter_topic, ERROR_HEADER};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

mod support;

use support::{acteon, audit, finish, kill_when, produce, produce_simulated, read_topic};
use support::{require_broker, run_args, seed, unique, BROKER};

/// (action, outcome, target, rule) of every record.
fn facts(records: &[Value]) -> BTreeSet<(String, String, String, String)> {
    records
        .iter()
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap_or("").to_owned();
            (
                text("action_id"),
                text("outcome"),
                text("target"),
                text("rule"),
            )
        })
        .collect()
}

#[test]
fn the_seed_pipeline_from_kafka_gives_the_expected_outcomes() {
    require_broker();
    let topic = unique("seed-telemetry");
    let telemetry = std::fs::read_to_string(seed("telemetry.jsonl")).unwrap();
    produce(&topic, 3, telemetry.lines().map(|l| (None, l.to_owned())));

    let dir = tempfile::tempdir().unwrap();
    let (from_kafka, from_file) = (
        dir.path().join("kafka.jsonl"),
        dir.path().join("file.jsonl"),
    );
    let url = format!("kafka://{BROKER}/{topic}?group={}", unique("seed-group"));
    let script = seed("pipeline.acteon");
    let script = script.to_str().unwrap();
    let dry_run = dir.path().join("dry-run");
    let args = run_args(
        script,
        &url,
        from_kafka.to_str().unwrap(),
        dry_run.to_str().unwrap(),
    );
    finish(acteon(&args), Duration::from_secs(60));
    let file_dry_run = dir.path().join("file-dry-run");
    let input = seed("telemetry.jsonl");
    let file_args = [
        "run",
        script,
        "--input",
        input.to_str().unwrap(),
        "--audit",
        from_file.to_str().unwrap(),
        "--dry-run",
        file_dry_run.to_str().unwrap(),
    ];
    finish(acteon(&file_args), Duration::from_secs(60));

    let records = audit(&from_kafka);
    let has = |id: &str, outcome: &str, target: &str| {
        records.iter().any(|r| {
            (r["action_id"] == id
                || r["details"]["members"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|m| m == id)))
                && r["outcome"] == outcome
                && (target.is_empty() || r["target"] == target)
        })
    };
    // A few rows of the seed's Expected Outcomes, then all of them: the same as from the file.
    assert!(has("temp-crit-001", "rerouted", "alert-fanout"));
    assert!(has("dup-temp-002", "deduplicated", ""));
    assert!(has("humid-001", "group_flushed", "metrics-queue"));
    assert!(has("energy-002", "chain_started", ""));
    assert!(has("firmware-001", "denied", ""));
    assert_eq!(facts(&records), facts(&audit(&from_file)));
    let calls = std::fs::read_to_string(dry_run.join("alert-fanout.jsonl")).unwrap();
    assert_eq!(calls.lines().count(), 4, "4 calls to alert-fanout");
}

#[test]
fn malformed_records_go_to_the_dead_letter_topic_and_are_audited_rejected() {
    require_broker();
    let topic = unique("malformed");
    let mix = Mix {
        malformed: 20,
        ..Mix::SEED
    };
    let mut simulator = Simulator::new(mix, Building::default(), START_MS, 100, 11);
    let lines: Vec<(String, String)> = (0..300).map(|_| simulator.next_action()).collect();
    let bad: Vec<&String> = lines
        .iter()
        .map(|(_, line)| line)
        .filter(|line| {
            serde_json::from_str::<Value>(line).map_or(true, |v| v["action_type"].is_null())
        })
        .collect();
    assert!(bad.len() > 20, "the mix has malformed records");
    produce(
        &topic,
        3,
        lines
            .iter()
            .map(|(device, line)| (Some(device.clone()), line.clone())),
    );

    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let url = format!(
        "kafka://{BROKER}/{topic}?group={}",
        unique("malformed-group")
    );
    let script = seed("pipeline.acteon");
    let dry_run = dir.path().join("dry-run");
    let args = run_args(
        script.to_str().unwrap(),
        &url,
        audit_path.to_str().unwrap(),
        dry_run.to_str().unwrap(),
    );
    finish(acteon(&args), Duration::from_secs(60));

    let records = audit(&audit_path);
    let rejected = records
        .iter()
        .filter(|r| r["outcome"] == "rejected")
        .count();
    assert_eq!(
        rejected,
        bad.len(),
        "every malformed record is audited rejected"
    );
    let good_ids: BTreeSet<String> = lines
        .iter()
        .filter(|(_, line)| !bad.contains(&line))
        .map(|(_, line)| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let audited: BTreeSet<String> = records
        .iter()
        .filter_map(|r| r["action_id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        good_ids.is_subset(&audited),
        "every good record is processed"
    );

    let dead = read_topic(&dead_letter_topic(&topic), bad.len());
    assert_eq!(
        dead.len(),
        bad.len(),
        "every malformed record is dead-lettered"
    );
    for record in &dead {
        let value = String::from_utf8_lossy(&record.value).into_owned();
        assert!(
            bad.contains(&&value),
            "not a malformed record: {value:?} {:?}",
            record.headers
        );
        assert!(
            !record.headers[ERROR_HEADER].is_empty(),
            "the reason is in a header"
        );
    }
}

#[test]
fn a_killed_run_restarts_and_no_action_is_lost() {
    require_broker();
    const ACTIONS: u64 = 100_000;
    let topic = unique("crash");
    produce_simulated(&topic, 3, ACTIONS, 5);

    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (
        dir.path().join("first.jsonl"),
        dir.path().join("second.jsonl"),
    );
    let url = format!("kafka://{BROKER}/{topic}?group={}", unique("crash-group"));
    let script = seed("pipeline.acteon");
    let script = script.to_str().unwrap();
    let dry_run = dir.path().join("dry-run");
    let dry_run = dry_run.to_str().unwrap();

    // Killed part-way: once a third of the actions are audited.
    let child = acteon(&run_args(script, &url, first.to_str().unwrap(), dry_run));
    kill_when(child, Duration::from_secs(300), || {
        audit(&first).len() >= (ACTIONS / 3) as usize
    });

    finish(
        acteon(&run_args(script, &url, second.to_str().unwrap(), dry_run)),
        Duration::from_secs(300),
    );

    let ids = |records: &[Value]| -> BTreeSet<String> {
        records
            .iter()
            .filter_map(|r| r["action_id"].as_str().map(str::to_owned))
            .collect()
    };
    let (before, after) = (ids(&audit(&first)), ids(&audit(&second)));
    let missing: Vec<u64> = (0..ACTIONS)
        .filter(|i| {
            let id = format!("action-{i}");
            !before.contains(&id) && !after.contains(&id)
        })
        .collect();
    let twice = before.intersection(&after).count();
    eprintln!(
        "crash test: {} actions audited before the kill, {} after the restart, {twice} processed twice",
        before.len(),
        after.len()
    );
    assert!(
        missing.is_empty(),
        "{} actions lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}
