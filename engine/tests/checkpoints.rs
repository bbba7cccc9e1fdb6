//! Checkpoints in process: a run over the first part of an input leaves checkpoints; a run
//! over the whole input restores the newest (or, when it is corrupt, the previous one) and
//! decides every action after the checkpoint exactly as an uninterrupted run does, and none
//! before it again.

use acteon_dsl::plan::Plan;
use acteon_engine::checkpoint::{DirectoryStore, StateStore};
use acteon_engine::providers::dry_run::{Answer, Fixtures};
use acteon_engine::{run, AuditOutput, CheckpointConfig, Delivery, Input, RunConfig, RunReport};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The crash test's pipeline: dedup, throttle, quota, schedule and group.
const SCRIPT: &str = include_str!("../../cli/tests/durable.acteon");

fn plan(script: &str) -> Plan {
    let compiled = acteon_dsl::compile_str("checkpoints.acteon", script);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.unwrap()
}

/// `count` actions 10 ms apart: repeated readings, alert bursts, reports, metrics.
fn input(count: u64) -> Vec<String> {
    let kinds = ["reading", "alert", "report", "metric"];
    (0..count)
        .map(|i| {
            let mix = i.wrapping_mul(2_654_435_761) % 1000;
            let kind = kinds[(mix % 4) as usize];
            let ms = 1_700_000_000_000 + i * 10;
            serde_json::json!({
                "id": format!("a{i}"),
                "namespace": "iot",
                "tenant": if mix % 3 == 0 { "east" } else { "west" },
                "action_type": kind,
                "provider": "sink",
                "dedup_key": format!("k{}", mix % 97),
                "created_at": acteon_engine::time::format_rfc3339_ms(ms as i64),
                "payload": { "device": format!("d{}", mix % 5) },
            })
            .to_string()
        })
        .collect()
}

/// A run over `lines` with a memory audit, checkpoints in `store` as often as it can.
fn run_over(
    plan: &Plan,
    lines: Vec<String>,
    store: Option<&Path>,
    delivery: Delivery,
) -> RunReport {
    run(
        plan,
        RunConfig {
            input: Input::Lines(lines),
            audit: AuditOutput::Memory,
            delivery,
            checkpoints: store.map(|dir| CheckpointConfig {
                store: Arc::new(DirectoryStore::open(dir).unwrap()),
                interval: Duration::ZERO,
            }),
            ..RunConfig::default()
        },
    )
    .unwrap()
}

/// Audit record id -> (outcome, event time in ms).
fn outcomes(
    plan: &Plan,
    lines: Vec<String>,
    store: Option<&Path>,
) -> BTreeMap<String, (String, i64)> {
    by_id(run_over(plan, lines, store, Delivery::DryRunMemory))
}

fn by_id(report: RunReport) -> BTreeMap<String, (String, i64)> {
    report
        .audit
        .into_iter()
        .map(|r| {
            let at = r.dispatched_at_ms;
            (r.id.to_string(), (format!("{:?}", r.outcome), at))
        })
        .collect()
}

/// The restored run decides what the uninterrupted one decides, from `epoch` on; with the
/// first run's records before `epoch`, every record is there once.
fn assert_resumed(
    whole: &BTreeMap<String, (String, i64)>,
    first: &BTreeMap<String, (String, i64)>,
    resumed: &BTreeMap<String, (String, i64)>,
    epoch: u64,
) {
    for (id, decided) in resumed {
        assert_eq!(
            whole.get(id),
            Some(decided),
            "{id} is decided as without a restart"
        );
        assert!(
            decided.1 >= epoch as i64,
            "{id} was decided again after the restart"
        );
    }
    for (id, decided) in whole {
        let before = first.get(id).filter(|(_, at)| *at < epoch as i64);
        assert!(
            before == Some(decided) || resumed.contains_key(id),
            "{id} ({decided:?}) is lost across the restart"
        );
    }
}

/// An uninterrupted run, and a first run over part of the input that left checkpoints.
struct Interrupted {
    plan: Plan,
    lines: Vec<String>,
    whole: BTreeMap<String, (String, i64)>,
    dir: tempfile::TempDir,
    first: BTreeMap<String, (String, i64)>,
    store: DirectoryStore,
}

fn interrupted() -> Interrupted {
    let plan = plan(SCRIPT);
    let lines = input(20_000);
    let whole = outcomes(&plan, lines.clone(), None);
    let dir = tempfile::tempdir().unwrap();
    let first = outcomes(&plan, lines[..12_000].to_vec(), Some(dir.path()));
    let store = DirectoryStore::open(dir.path()).unwrap();
    Interrupted {
        plan,
        lines,
        whole,
        dir,
        first,
        store,
    }
}

#[test]
fn a_restored_run_decides_the_rest_as_an_uninterrupted_one() {
    let run = interrupted();
    let (plan, store) = (&run.plan, &run.store);
    let newest = store.load(store.sequences().unwrap()[0]).unwrap();
    let resumed = outcomes(plan, run.lines.clone(), Some(run.dir.path()));
    assert!(resumed.len() > 1000, "the restored run decided the rest");
    assert_resumed(&run.whole, &run.first, &resumed, newest.manifest.epoch);
}

#[test]
fn a_corrupt_newest_checkpoint_falls_back_to_the_previous_one() {
    let run = interrupted();
    let (plan, store) = (&run.plan, &run.store);
    let sequences = store.sequences().unwrap();
    assert!(sequences.len() >= 2, "the first run left two checkpoints");
    let newest = store.load(sequences[0]).unwrap().manifest.epoch;
    let previous = store.load(sequences[1]).unwrap().manifest.epoch;
    assert!(previous < newest);
    // Flip a byte of the newest checkpoint's dedup part.
    let part = store.path_of(sequences[0]).join("dedup.0.part");
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&part, bytes).unwrap();

    let resumed = outcomes(plan, run.lines.clone(), Some(run.dir.path()));
    assert_resumed(&run.whole, &run.first, &resumed, previous);
    let earliest = resumed.values().map(|(_, at)| *at).min().unwrap();
    assert!(
        earliest < newest as i64,
        "the run resumed from the previous checkpoint, not the corrupt one"
    );
}

/// A job starts a two-step chain whose second step's provider does not answer in the first
/// run; ticks 2 ms apart move event time on for 10 s (enough lines for the source to read them
/// in several batches, so checkpoints are taken meanwhile), and the chain times out (12 s)
/// only after the input ended.
const CHAINED: &str = r#"
provider quick log
provider slow log
rule start priority 1 when action_type == "job" then chain work
chain work timeout 12s {
  step first call quick invoke { "n": 1 }
  step second call slow invoke { "after": "{{prev.body}}" }
}
"#;

fn chained_input() -> Vec<String> {
    (0..5000)
        .map(|i| {
            let kind = if i == 0 { "job" } else { "tick" };
            serde_json::json!({
                "id": format!("{kind}-{i}"),
                "namespace": "ops",
                "tenant": "t",
                "action_type": kind,
                "provider": "quick",
                "created_at": acteon_engine::time::format_rfc3339_ms(1_700_000_000_000 + i * 2),
            })
            .to_string()
        })
        .collect()
}

#[test]
fn a_chain_running_at_a_checkpoint_is_resumed_and_its_pending_step_issued_again() {
    let plan = plan(CHAINED);
    let lines = chained_input();
    let answering = || {
        Delivery::DryRunScripted(Fixtures::new().answers(
            "slow",
            vec![Answer::Success(serde_json::json!({"ok": true}))],
        ))
    };
    let whole = by_id(run_over(&plan, lines.clone(), None, answering()));
    let dir = tempfile::tempdir().unwrap();
    let silent = Delivery::DryRunScripted(Fixtures::new().answers("slow", vec![Answer::Silence]));
    let first = by_id(run_over(&plan, lines.clone(), Some(dir.path()), silent));
    let resumed = run_over(&plan, lines, Some(dir.path()), answering());
    let calls = resumed
        .calls
        .iter()
        .filter(|c| c.provider == "slow" && &*c.action_id == "job-0")
        .count();
    assert_eq!(calls, 1, "the pending step is issued again");

    // The job's records: its chain_started and first step before the checkpoint, the rest after.
    let job = |records: BTreeMap<String, (String, i64)>| -> BTreeMap<String, (String, i64)> {
        records
            .into_iter()
            .filter(|(id, _)| id.starts_with("job-0"))
            .collect()
    };
    let (whole, first, resumed) = (job(whole), job(first), job(by_id(resumed)));
    let outcomes = |records: &BTreeMap<String, (String, i64)>| -> Vec<String> {
        records
            .values()
            .map(|(outcome, _)| outcome.clone())
            .collect()
    };
    assert!(outcomes(&first).contains(&"ChainTimedOut".to_owned()));
    assert_eq!(outcomes(&resumed), ["ChainStepCompleted", "ChainCompleted"]);
    for (id, decided) in &resumed {
        assert_eq!(
            whole.get(id),
            Some(decided),
            "{id} as in an uninterrupted run"
        );
    }
    for (id, decided) in &whole {
        assert!(
            resumed.get(id) == Some(decided) || first.get(id) == Some(decided),
            "{id} ({decided:?}) is lost across the restart"
        );
    }
}
