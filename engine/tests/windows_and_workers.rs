//! Windowed rules, worker counts, replays and bad input.

mod common;

use acteon_dsl::plan::{Outcome, Plan, RuleAction};
use acteon_engine::{run, AuditOutput, Input, RunConfig};
use common::{eq, field, memory_run, rule};
use serde_json::json;

fn reading(id: &str, seconds: u64, extra: serde_json::Value) -> String {
    let mut action = json!({
        "id": id, "namespace": "iot", "tenant": "smartbuilding-hq", "action_type": "sensor_reading",
        "provider": "metrics-queue",
        "created_at": format!("2026-11-28T09:{:02}:{:02}.000Z", seconds / 60, seconds % 60),
        "payload": { "sensor_type": "temperature", "value": 20 },
    });
    if let (Some(action), Some(extra)) = (action.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            action.insert(k.clone(), v.clone());
        }
    }
    action.to_string()
}

fn plan_of(rules: Vec<acteon_dsl::plan::Rule>) -> Plan {
    Plan {
        rules,
        providers: vec![common::provider(
            "metrics-queue",
            acteon_dsl::plan::ProviderKind::Log,
        )],
        ..Plan::default()
    }
}

fn count(report: &acteon_engine::RunReport, outcome: Outcome) -> usize {
    report.audit.iter().filter(|r| r.outcome == outcome).count()
}

#[test]
fn forty_five_readings_in_a_minute_throttle_fifteen() {
    let plan = plan_of(vec![rule(
        "throttle-telemetry",
        1,
        None,
        RuleAction::Throttle {
            limit: 30,
            window_ms: 60_000,
            by: None,
        },
    )]);
    let lines: Vec<String> = (0..45)
        .map(|i| reading(&format!("r{i}"), i, json!({})))
        .collect();
    for workers in [1, 3] {
        let report = memory_run(&plan, lines.clone(), workers);
        assert_eq!(count(&report, Outcome::Throttled), 15);
        assert_eq!(count(&report, Outcome::Executed), 30);
        let first = report
            .audit
            .iter()
            .find(|r| &*r.action_id == "r30")
            .unwrap();
        assert_eq!(first.outcome, Outcome::Throttled);
        // The oldest admission (r0 at 0 s) leaves the window at 60 s; r30 is at 30 s.
        assert_eq!(first.details["retry_after_ms"], 30_000);
    }
}

#[test]
fn dedup_forgets_a_key_after_its_ttl() {
    let plan = plan_of(vec![rule(
        "dedup",
        1,
        None,
        RuleAction::Dedup {
            ttl_ms: 10_000,
            by: None,
        },
    )]);
    let key = json!({ "dedup_key": "k" });
    let lines = vec![
        reading("a", 0, key.clone()),
        reading("b", 5, key.clone()),
        reading("c", 10, key.clone()),
        reading("d", 15, key.clone()),
        reading("e", 25, key),
    ];
    let report = memory_run(&plan, lines, 1);
    let outcome = |id: &str| {
        report
            .audit
            .iter()
            .find(|r| &*r.action_id == id)
            .unwrap()
            .outcome
    };
    assert_eq!(outcome("a"), Outcome::Executed);
    assert_eq!(outcome("b"), Outcome::Deduplicated);
    // The TTL runs from the first sighting, not extended by the repeat.
    assert_eq!(outcome("c"), Outcome::Executed);
    assert_eq!(outcome("d"), Outcome::Deduplicated);
    assert_eq!(outcome("e"), Outcome::Executed);
}

/// The same action id sent twice (what dedup without a key exists for) makes two decisions
/// with two record ids, both kept by a store keyed by record id; a replay gives the same ids.
#[test]
fn record_ids_are_unique_per_decision_and_stable_across_replays() {
    let plan = plan_of(vec![rule(
        "dedup",
        1,
        None,
        RuleAction::Dedup {
            ttl_ms: 60_000,
            by: None,
        },
    )]);
    let lines = vec![reading("same", 0, json!({})), reading("same", 1, json!({}))];
    let ids = |workers| {
        let report = memory_run(&plan, lines.clone(), workers);
        report
            .audit
            .iter()
            .map(|r| (r.id.to_string(), r.outcome))
            .collect::<Vec<_>>()
    };
    let first = ids(1);
    assert_eq!(
        first,
        vec![
            ("same@L1#0".to_owned(), Outcome::Executed),
            ("same@L2#0".to_owned(), Outcome::Deduplicated),
        ]
    );
    assert_eq!(first, ids(1), "a replay");
    assert_eq!(first, ids(2), "two workers");
}

fn busy_plan() -> Plan {
    plan_of(vec![
        rule(
            "drop-tests",
            1,
            Some(eq("payload.environment", json!("test"))),
            RuleAction::Suppress,
        ),
        rule(
            "dedup",
            2,
            None,
            RuleAction::Dedup {
                ttl_ms: 30_000,
                by: None,
            },
        ),
        rule(
            "throttle-per-device",
            3,
            None,
            RuleAction::Throttle {
                limit: 5,
                window_ms: 10_000,
                by: Some(field("payload.device")),
            },
        ),
        rule(
            "group-humidity",
            4,
            Some(eq("payload.sensor_type", json!("humidity"))),
            RuleAction::Group {
                by: vec![field("payload.floor")],
                wait_ms: 20_000,
                max: Some(4),
                to: None,
            },
        ),
        rule(
            "schedule-energy",
            5,
            Some(eq("payload.sensor_type", json!("energy"))),
            RuleAction::Schedule { delay_ms: 15_000 },
        ),
        rule(
            "dedup-after-schedule",
            6,
            None,
            RuleAction::Dedup {
                ttl_ms: 5_000,
                by: Some(field("payload.device")),
            },
        ),
        rule("allow", 10, None, RuleAction::Allow),
    ])
}

/// A few thousand readings over an hour with repeats, bursts, groups and schedules.
fn busy_lines() -> Vec<String> {
    let kinds = ["temperature", "humidity", "energy", "temperature"];
    (0..3000u64)
        .map(|i| {
            let seconds = i / 5;
            let mut extra = json!({
                "payload": {
                    "sensor_type": kinds[(i % 4) as usize],
                    "device": format!("d{}", i % 7),
                    "floor": format!("{}", i % 3),
                    "environment": if i % 50 == 0 { "test" } else { "prod" },
                }
            });
            if i % 11 == 0 {
                extra["dedup_key"] = json!(format!("k{}", i % 13));
            }
            if i % 97 == 0 {
                return "{ not json".to_owned();
            }
            reading(&format!("a{i}"), seconds, extra)
        })
        .collect()
}

#[test]
fn one_and_four_workers_decide_the_same() {
    let plan = busy_plan();
    let outcomes = |workers| {
        let report = memory_run(&plan, busy_lines(), workers);
        let mut outcomes: Vec<(String, Outcome)> = report
            .audit
            .iter()
            .map(|r| (r.action_id.to_string(), r.outcome))
            .collect();
        outcomes.sort();
        outcomes
    };
    let one = outcomes(1);
    for outcome in [
        Outcome::Deduplicated,
        Outcome::Throttled,
        Outcome::GroupFlushed,
        Outcome::Scheduled,
        Outcome::Rejected,
    ] {
        assert!(one.iter().any(|(_, o)| *o == outcome), "no {outcome:?}");
    }
    assert_eq!(one, outcomes(4));
}

#[test]
fn a_replay_writes_a_byte_identical_audit() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.jsonl");
    std::fs::write(&input, busy_lines().join("\n")).unwrap();
    let audit = |name: &str, workers: usize| {
        let path = dir.path().join(name);
        run(
            &busy_plan(),
            RunConfig {
                input: Input::File(input.clone()),
                workers,
                audit: AuditOutput::File(path.clone()),
                dead_letter: Some(dir.path().join(format!("{name}.dead"))),
                ..RunConfig::default()
            },
        )
        .unwrap();
        std::fs::read(path).unwrap()
    };
    let first = audit("first.jsonl", 2);
    assert!(!first.is_empty());
    assert_eq!(first, audit("second.jsonl", 2));
    // Rejected lines take the input's event time where they stand, which every worker knows:
    // the whole audit is the same with any number of workers.
    assert_eq!(first, audit("third.jsonl", 3));
    assert_eq!(first, audit("fourth.jsonl", 1));
    let dead = std::fs::read_to_string(dir.path().join("first.jsonl.dead")).unwrap();
    assert_eq!(dead.lines().count(), 31);
}

#[test]
fn malformed_lines_are_rejected_one_record_each() {
    let plan = plan_of(vec![
        rule(
            "suppress-tests",
            1,
            Some(eq("payload.environment", json!("test"))),
            RuleAction::Suppress,
        ),
        rule(
            "deny-firmware",
            2,
            Some(eq("action_type", json!("firmware_update"))),
            RuleAction::Deny,
        ),
        rule(
            "dedup",
            3,
            None,
            RuleAction::Dedup {
                ttl_ms: 60_000,
                by: None,
            },
        ),
        rule("allow", 4, None, RuleAction::Allow),
    ]);
    let malformed = [
        "{".to_owned(),
        "[1, 2]".to_owned(),
        "\"text\"".to_owned(),
        r#"{"namespace":"iot","action_type":"x"}"#.to_owned(),
        r#"{"namespace":"iot","tenant":7,"action_type":"x"}"#.to_owned(),
        r#"{"namespace":"iot","tenant":"t","action_type":"x","payload":"no"}"#.to_owned(),
        r#"{"namespace":"iot","tenant":"t","action_type":"x","metadata":{"a":1}}"#.to_owned(),
        r#"{"namespace":"iot","tenant":"t","action_type":"x","created_at":"tuesday"}"#.to_owned(),
        r#"{"namespace":"iot","tenant":"t","action_type":"x","id":["a"]}"#.to_owned(),
        format!(
            r#"{{"namespace":"iot","tenant":"t","action_type":"x","payload":{{"blob":"{}"}}}}"#,
            "x".repeat(2 << 20)
        ),
    ];
    let lines: Vec<String> = (0..10_000u64)
        .map(|i| {
            if i % 10 == 3 {
                malformed[(i / 10 % 10) as usize].clone()
            } else {
                let environment = if i % 7 == 0 { "test" } else { "prod" };
                reading(
                    &format!("m{i}"),
                    i % 3600,
                    json!({ "dedup_key": format!("k{}", i % 500), "payload": { "environment": environment } }),
                )
            }
        })
        .collect();
    let report = memory_run(&plan, lines, 2);
    assert_eq!(report.inputs, 10_000);
    assert_eq!(report.records, 10_000);
    assert_eq!(report.audit.len(), 10_000);
    assert_eq!(count(&report, Outcome::Rejected), 1_000);
    let mut ids: Vec<_> = report.audit.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10_000);
}
