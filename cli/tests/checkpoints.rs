//! Durable state over the real broker (127.0.0.1:9092): a run with checkpoints is killed with
//! SIGKILL at random points three times and restarted each time; every audit record of every
//! run has the outcome an uninterrupted run gives it, and together they hold every record of
//! the uninterrupted run, every chain's completion among them. Every wait is bounded.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{acteon, audit, finish, kill_when, produce, repo, require_broker, run_args};
use support::{unique, BROKER};

const ACTIONS: u64 = 100_000;

/// Actions 10 ms apart: readings whose dedup keys repeat, bursts of alerts per device,
/// reports to schedule, metrics to group, orders that run a chain, over two tenants.
fn action(i: u64) -> String {
    let mix = i.wrapping_mul(2_654_435_761) % 10_000;
    let kind = match mix % 10 {
        0..=3 => "reading",
        4..=6 => "alert",
        7 => "report",
        8 => "metric",
        _ => "order",
    };
    let ms = 1_790_000_000_000 + i as i64 * 10;
    serde_json::json!({
        "id": format!("action-{i}"),
        "namespace": "iot",
        "tenant": if mix.is_multiple_of(4) { "east" } else { "west" },
        "action_type": kind,
        "provider": "sink",
        "dedup_key": format!("reading-{}", mix % 500),
        "created_at": acteon_engine::time::format_rfc3339_ms(ms),
        "payload": { "device": format!("device-{}", (i / 50) % 7) },
    })
    .to_string()
}

/// Audit record id -> outcome.
fn outcomes(path: &Path) -> BTreeMap<String, String> {
    audit(path)
        .into_iter()
        .filter_map(|r: Value| {
            Some((
                r["id"].as_str()?.to_owned(),
                r["outcome"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The newest stored checkpoint's sequence (0: none yet).
fn newest_checkpoint(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| {
                    e.ok()?
                        .file_name()
                        .to_str()?
                        .strip_prefix("checkpoint-")?
                        .parse()
                        .ok()
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

#[test]
fn three_kills_and_restarts_give_the_outcomes_of_an_uninterrupted_run() {
    require_broker();
    let topic = unique("durable");
    // One partition, in order: the event clock then decides the same way in every run.
    produce(&topic, 1, (0..ACTIONS).map(|i| (None, action(i))));
    let script = repo().join("cli/tests/durable.acteon");
    let script = script.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

    let url = format!("kafka://{BROKER}/{topic}?group={}", unique("whole"));
    let whole_audit = path("whole.jsonl");
    let whole_dry_run = path("whole-dry-run");
    finish(
        acteon(&run_args(script, &url, &whole_audit, &whole_dry_run)),
        Duration::from_secs(300),
    );
    let whole = outcomes(Path::new(&whole_audit));
    assert!(whole.len() as u64 >= ACTIONS, "every action is audited");
    let orders = (0..ACTIONS).filter(|i| action(*i).contains(r#""order""#));
    let completed = |audit: &BTreeMap<String, String>| {
        audit
            .values()
            .filter(|outcome| *outcome == "chain_completed")
            .count()
    };
    // A sub-chain completes too: two per order.
    assert_eq!(
        completed(&whole),
        2 * orders.count(),
        "every chain completes"
    );

    let url = format!("kafka://{BROKER}/{topic}?group={}", unique("killed"));
    let checkpoints = path("checkpoints");
    let dry_run = path("dry-run");
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill points from seed {seed}");
    let mut audits = Vec::new();
    for run in 0..4 {
        let audit_path = path(&format!("run-{run}.jsonl"));
        let mut args = run_args(script, &url, &audit_path, &dry_run);
        args.extend([
            "--checkpoint-dir",
            &checkpoints,
            "--checkpoint-interval",
            "1s",
        ]);
        let child = acteon(&args);
        audits.push(audit_path.clone());
        if run == 3 {
            finish(child, Duration::from_secs(300));
            break;
        }
        // Killed at a random point: the first run once it stored a checkpoint, the others
        // after a random number of audit records (restarts always leave input to read).
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let records = 2_000 + (seed % 30_000) as usize;
        kill_when(child, Duration::from_secs(120), || match run {
            0 => newest_checkpoint(Path::new(&checkpoints)) > 0,
            _ => outcomes(Path::new(&audit_path)).len() >= records,
        });
        eprintln!(
            "run {run} killed after {} records, checkpoint {}",
            outcomes(Path::new(&audit_path)).len(),
            newest_checkpoint(Path::new(&checkpoints))
        );
    }

    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut again = 0;
    for audit_path in &audits {
        for (id, outcome) in outcomes(Path::new(audit_path)) {
            assert_eq!(
                whole.get(&id),
                Some(&outcome),
                "{id} in {audit_path} is decided as in the uninterrupted run"
            );
            again += usize::from(seen.insert(id, outcome).is_some());
        }
    }
    let lost: Vec<&String> = whole.keys().filter(|id| !seen.contains_key(*id)).collect();
    eprintln!(
        "{} records, {again} of them written again after a restart",
        whole.len()
    );
    assert!(
        lost.is_empty(),
        "{} records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // Records are keyed by id, so a chain completed again after a restart is one record.
    assert_eq!(
        completed(&seen),
        completed(&whole),
        "every chain completed once"
    );
}
