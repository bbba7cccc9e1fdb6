//! Checkpoints: throughput of a run with a checkpoint every second against none, and the size
//! of a checkpoint holding 1,000,000 live dedup keys.
//!
//! `cargo bench -p acteon-benches --bench checkpoints`; `ACTEON_BENCH_ACTIONS` sets the
//! throughput run's size (default 500,000).

use acteon_benches::plans::compile;
use acteon_benches::{env_count, write_lines};
use acteon_dsl::plan::Plan;
use acteon_engine::checkpoint::store::decode;
use acteon_engine::checkpoint::{DirectoryStore, StateStore};
use acteon_engine::operators::keyed::Key;
use acteon_engine::{run, AuditOutput, CheckpointConfig, Delivery, Input, RunConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Every stateful kind the checkpoints keep (the crash test's pipeline).
const PIPELINE: &str = include_str!("../../cli/tests/durable.acteon");

/// `keys` distinct readings 1 ms apart (live for an hour), then `tail` other actions.
const KEYS: &str = r#"
provider sink log
rule once priority 1 when action_type == "reading" then dedup within 1h
"#;

fn write_actions(path: &Path, count: u64, line: impl Fn(u64) -> (String, String, u64)) {
    let lines = (0..count).map(|i| {
        let (kind, key, device) = line(i);
        let at = acteon_engine::time::format_rfc3339_ms(1_790_000_000_000 + i as i64);
        let tenant = if i % 4 == 0 { "east" } else { "west" };
        format!(
            r#"{{"id":"a{i}","namespace":"iot","tenant":"{tenant}","action_type":"{kind}","provider":"sink","dedup_key":"{key}","created_at":"{at}","payload":{{"device":"d{device}"}}}}"#
        )
    });
    write_lines(path, lines).unwrap();
}

/// Runs `plan` over `input`; returns actions per second.
fn rate(plan: &Plan, input: &Path, checkpoints: Option<(&Path, Duration)>) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let report = run(
        plan,
        RunConfig {
            input: Input::File(input.to_owned()),
            audit: AuditOutput::File(dir.path().join("audit.jsonl")),
            delivery: Delivery::DryRunMemory,
            checkpoints: checkpoints.map(|(dir, interval)| CheckpointConfig {
                store: Arc::new(DirectoryStore::open(dir).unwrap()),
                interval,
            }),
            ..RunConfig::default()
        },
    )
    .expect("the run succeeds");
    report.inputs as f64 / report.elapsed.as_secs_f64()
}

fn main() {
    let actions = env_count("ACTEON_BENCH_ACTIONS", 500_000);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pipeline.jsonl");
    let kinds = ["reading", "alert", "report", "metric"];
    write_actions(&input, actions, |i| {
        let mix = i.wrapping_mul(2_654_435_761) % 10_000;
        (
            kinds[(mix % 4) as usize].into(),
            format!("k{}", mix % 500),
            i / 50 % 7,
        )
    });
    let pipeline = compile("durable.acteon", PIPELINE);
    let none = rate(&pipeline, &input, None);
    let store = dir.path().join("pipeline-checkpoints");
    let every_second = rate(&pipeline, &input, Some((&store, Duration::from_secs(1))));
    println!("{actions} actions, no checkpoints:        {none:>10.0} actions/s");
    println!("{actions} actions, a checkpoint every 1 s: {every_second:>10.0} actions/s ({:.1} % of none)", every_second / none * 100.0);

    // A million live keys, then a tail long enough for checkpoints to be taken with all of them.
    let (keys, tail) = (1_000_000, 300_000);
    let input = dir.path().join("keys.jsonl");
    write_actions(&input, keys + tail, |i| match i < keys {
        true => ("reading".into(), format!("sensor-{i:07}"), 0),
        false => ("other".into(), String::new(), 0),
    });
    let store_dir = dir.path().join("key-checkpoints");
    rate(
        &compile("keys.acteon", KEYS),
        &input,
        Some((&store_dir, Duration::from_secs(1))),
    );
    let store = DirectoryStore::open(&store_dir).unwrap();
    let newest = store.load(store.sequences().unwrap()[0]).unwrap();
    let live: usize = newest
        .parts
        .iter()
        .filter(|(name, _)| name.starts_with("dedup/"))
        .map(|(_, bytes)| decode::<Vec<(Key, i64)>>(bytes).unwrap().len())
        .sum();
    println!(
        "checkpoint with {live} live dedup keys: {:.1} MiB ({:.1} bytes per key)",
        newest.size() as f64 / 1048576.0,
        newest.size() as f64 / live.max(1) as f64
    );
}
