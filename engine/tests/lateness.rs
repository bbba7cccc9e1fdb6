//! Disorder and ties. Actions read out of event-time order, but within the allowed lateness,
//! are decided as the same actions read in order are: quota, throttle, dedup and group alike.
//! An action beyond it is `late`: in the audit and the dead letters, and not decided. Actions
//! at one event time are decided in input order, the same with 1, 2 or 4 workers (each of
//! which routes the keys to other workers).

use acteon_dsl::plan::{Outcome, Plan};
use acteon_engine::{run, AuditOutput, Delivery, Input, RunConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

const SCRIPT: &str = r#"
provider sink log

quota "hq" 80 per 10s block

rule dedup-readings priority 1
  when action_type == "reading"
  then dedup within 5s

rule throttle-devices priority 2
  then throttle 3 per 4s by payload.device

rule group-floors priority 3
  when payload.kind == "humidity"
  then group by payload.floor wait 6s max 4 to sink

rule allow-rest priority 10
  then allow
"#;

fn plan() -> Plan {
    let compiled = acteon_dsl::compile_str("lateness.acteon", SCRIPT);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.unwrap()
}

/// Action `i` at `ms` after 09:00.
fn action(i: u64, ms: u64) -> String {
    let mut action = json!({
        "id": format!("a{i}"), "namespace": "n", "tenant": "hq", "provider": "sink",
        "action_type": if i.is_multiple_of(4) { "alarm" } else { "reading" },
        "payload": {
            "device": format!("d{}", i % 5),
            "floor": format!("f{}", i % 3),
            "kind": if i.is_multiple_of(3) { "humidity" } else { "temperature" },
        },
        "created_at": acteon_engine::time::format_rfc3339_ms(1_795_856_400_000 + ms as i64),
    });
    if i % 6 == 1 {
        action["dedup_key"] = json!(format!("k{}", i % 5));
    }
    action.to_string()
}

struct Ran {
    audit: String,
    dead: String,
}

fn run_lines(lines: &[String], workers: usize, max_lateness_ms: u64, dir: &Path) -> Ran {
    let input = dir.join(format!("input-{workers}-{max_lateness_ms}.jsonl"));
    std::fs::write(&input, lines.join("\n")).unwrap();
    let audit = input.with_extension("audit");
    let dead = input.with_extension("dead");
    run(
        &plan(),
        RunConfig {
            input: Input::File(input),
            workers,
            audit: AuditOutput::File(audit.clone()),
            dead_letter: Some(dead.clone()),
            delivery: Delivery::DryRunMemory,
            max_lateness_ms,
            ..RunConfig::default()
        },
    )
    .unwrap();
    Ran {
        audit: std::fs::read_to_string(audit).unwrap(),
        dead: std::fs::read_to_string(dead).unwrap(),
    }
}

/// One record as the comparison sees it: (outcome, rule, target).
type Record = (String, Option<String>, Option<String>);

/// Every action's records as (outcome, rule, target), the group batches under their members.
fn decisions(audit: &str) -> BTreeMap<String, Vec<Record>> {
    let mut by_action: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for line in audit.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let text = |key: &str| record[key].as_str().map(str::to_owned);
        let what = (text("outcome").unwrap(), text("rule"), text("target"));
        let mut actions = vec![record["action_id"].as_str().unwrap().to_owned()];
        if let Some(members) = record["details"]["members"].as_array() {
            actions = members
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect();
        }
        for action in actions {
            by_action.entry(action).or_default().push(what.clone());
        }
    }
    for records in by_action.values_mut() {
        records.sort();
    }
    by_action
}

fn outcomes(decided: &BTreeMap<String, Vec<Record>>) -> Vec<String> {
    let mut all: Vec<String> = decided
        .values()
        .flatten()
        .map(|(o, _, _)| o.clone())
        .collect();
    all.sort();
    all.dedup();
    all
}

#[test]
fn actions_late_within_the_allowed_lateness_are_decided_as_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // 600 actions 100 ms apart, and the same actions with every run of ten read backwards:
    // each is then read up to 900 ms after actions later than it.
    let ordered: Vec<String> = (0..600).map(|i| action(i, i * 100)).collect();
    let disordered: Vec<String> = ordered
        .chunks(10)
        .flat_map(|run| run.iter().rev().cloned())
        .collect();
    let in_order = run_lines(&ordered, 1, 0, dir.path());
    let expected = decisions(&in_order.audit);
    // Every kind of keyed decision happens, so each is compared.
    let kinds = outcomes(&expected);
    for outcome in [
        "quota_exceeded",
        "throttled",
        "deduplicated",
        "grouped",
        "group_flushed",
        "executed",
    ] {
        assert!(
            kinds.iter().any(|k| k == outcome),
            "no {outcome}: {kinds:?}"
        );
    }
    for workers in [1, 2] {
        let ran = run_lines(&disordered, workers, 1000, dir.path());
        assert_eq!(decisions(&ran.audit), expected, "{workers} worker(s)");
        assert!(ran.dead.is_empty(), "nothing is late: {}", ran.dead);
    }
    // With no lateness allowed, the disordered actions are late instead of decided.
    let strict = run_lines(&disordered, 2, 0, dir.path());
    let late = decisions(&strict.audit)
        .values()
        .filter(|records| records.iter().any(|(o, _, _)| o == "late"))
        .count();
    assert_eq!(
        late, 540,
        "nine of every ten are behind the one read before them"
    );
}

#[test]
fn an_action_beyond_the_allowed_lateness_is_late_and_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = (0..100).map(|i| action(i, i * 100)).collect();
    // 5 s behind the action read before it, with 1 s allowed.
    let behind = action(1000, 4_900);
    lines.insert(100, behind.clone());
    let ran = run_lines(&lines, 2, 1000, dir.path());
    let decided = decisions(&ran.audit);
    assert_eq!(decided["a1000"], [("late".to_owned(), None, None)]);
    let late: Value = ran
        .audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["action_id"] == "a1000")
        .unwrap();
    assert_eq!(late["outcome"], Outcome::Late.name());
    assert_eq!(late["details"]["behind_ms"], 5000);
    assert_eq!(late["details"]["line"], 101);
    let dead: Vec<Value> = ran
        .dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["line"], 101);
    assert!(dead[0]["reason"].as_str().unwrap().starts_with("late:"));
    // The dead letter holds the line as read: it can be fed again.
    assert_eq!(dead[0]["record"], behind);
    // The others are decided as if it had never been read.
    let without = run_lines(&lines[..100], 2, 1000, dir.path());
    let mut rest = decided.clone();
    rest.remove("a1000");
    assert_eq!(rest, decisions(&without.audit));
}

#[test]
fn ties_at_one_event_time_are_decided_in_input_order_with_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    // 400 actions at 10 event times, 40 at each: every keyed rule meets ties.
    let lines: Vec<String> = (0..400).map(|i| action(i, (i / 40) * 1000)).collect();
    let one = run_lines(&lines, 1, 0, dir.path());
    let kinds = outcomes(&decisions(&one.audit));
    for outcome in [
        "quota_exceeded",
        "throttled",
        "deduplicated",
        "group_flushed",
    ] {
        assert!(
            kinds.iter().any(|k| k == outcome),
            "no {outcome}: {kinds:?}"
        );
    }
    for workers in [2, 4] {
        let ran = run_lines(&lines, workers, 0, dir.path());
        assert_eq!(
            ran.audit, one.audit,
            "{workers} workers: the same audit, byte for byte"
        );
    }
}
