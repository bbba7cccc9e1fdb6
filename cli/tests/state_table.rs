//! `acteon run --checkpoint-table` against the local AWS emulator (127.0.0.1:4566): a run over
//! the first part of a file leaves checkpoints in a DynamoDB table, and a run over the whole
//! file restores the newest and decides only what comes from its epoch on. Start the emulator
//! with `scripts/services.sh up aws`; this test fails, never skips, without it.

mod support;

use acteon_aws::state::DynamoStore;
use acteon_aws::AwsProviders;
use acteon_delivery::Policy;
use acteon_dsl::plan::AwsConnection;
use acteon_engine::checkpoint::StateStore;
use acteon_engine::time::{format_rfc3339_ms, parse_rfc3339_ms};
use std::fs::File;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::{audit, finish, repo, unique};

const ENDPOINT: &str = "http://127.0.0.1:4566";

/// The crash test's kinds of action, 10 ms apart: repeated readings, alert bursts, reports
/// to schedule, metrics to group.
fn lines(count: u64) -> String {
    let kinds = ["reading", "alert", "report", "metric"];
    (0..count)
        .map(|i| {
            let mix = i.wrapping_mul(2_654_435_761) % 1000;
            serde_json::json!({
                "id": format!("a{i}"),
                "namespace": "iot",
                "tenant": if mix % 3 == 0 { "east" } else { "west" },
                "action_type": kinds[(mix % 4) as usize],
                "provider": "sink",
                "dedup_key": format!("k{}", mix % 97),
                "created_at": format_rfc3339_ms(1_790_000_000_000 + i as i64 * 10),
                "payload": { "device": format!("d{}", mix % 5) },
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// Runs the crash test's script over `input` with checkpoints in `table` under `prefix`;
/// returns its standard error.
fn run(dir: &Path, name: &str, input: &Path, table: &str, prefix: &str) -> String {
    let stderr = dir.join(format!("{name}.stderr"));
    let audit = dir.join(format!("{name}.jsonl"));
    let child = Command::new(env!("CARGO_BIN_EXE_acteon"))
        .current_dir(repo())
        .args(["run", "cli/tests/durable.acteon", "--input"])
        .arg(input)
        .arg("--audit")
        .arg(&audit)
        .arg("--dry-run")
        .arg(dir.join(format!("{name}-dry-run")))
        .args(["--checkpoint-table", table, "--checkpoint-prefix", prefix])
        .args(["--checkpoint-region", "us-east-1"])
        .args(["--checkpoint-endpoint-url", ENDPOINT])
        .args(["--checkpoint-interval", "100ms"])
        .stdout(Stdio::null())
        .stderr(File::create(&stderr).unwrap())
        .spawn()
        .expect("the acteon binary runs");
    finish(child, Duration::from_secs(120));
    std::fs::read_to_string(stderr).unwrap()
}

#[test]
fn a_run_restores_the_checkpoint_a_previous_run_left_in_the_table() {
    assert!(
        TcpStream::connect_timeout(&"127.0.0.1:4566".parse().unwrap(), Duration::from_secs(2))
            .is_ok(),
        "the AWS emulator does not answer on 127.0.0.1:4566: run `scripts/services.sh up aws`"
    );
    let aws = Arc::new(AwsProviders::new(Policy::default()).unwrap());
    let table = unique("acteon-state");
    let prefix = "durable";
    // The test's view of the table: the same connection the run's flags give.
    let emulator = AwsConnection {
        region: Some("us-east-1".into()),
        endpoint_url: Some(ENDPOINT.into()),
        ..AwsConnection::default()
    };
    let store = DynamoStore::open(&aws, &table, prefix, &emulator).unwrap();
    store.create_table().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (first_input, whole_input) = (
        dir.path().join("first-input.jsonl"),
        dir.path().join("whole-input.jsonl"),
    );
    std::fs::write(&first_input, lines(12_000)).unwrap();
    std::fs::write(&whole_input, lines(20_000)).unwrap();

    let first = run(dir.path(), "first", &first_input, &table, prefix);
    assert!(
        !first.contains("restoring"),
        "nothing to restore yet:\n{first}"
    );
    let sequences = store.sequences().unwrap();
    assert!(
        (1..=3).contains(&sequences.len()),
        "the first run stored checkpoints, the newest three kept: {sequences:?}\n{first}"
    );
    let newest = store.load(sequences[0]).unwrap();
    assert!(
        newest.size() > 0,
        "the checkpoint holds the operators' state"
    );

    let resumed = run(dir.path(), "resumed", &whole_input, &table, prefix);
    assert!(
        resumed.contains("restoring the state of a checkpoint"),
        "the second run restores:\n{resumed}"
    );
    let records = audit(&dir.path().join("resumed.jsonl"));
    assert!(records.len() > 1000, "the restored run decided the rest");
    let epoch = newest.manifest.epoch as i64;
    for record in &records {
        let at = parse_rfc3339_ms(record["dispatched_at"].as_str().unwrap()).unwrap();
        assert!(
            at >= epoch,
            "{} was decided again, before the checkpoint's epoch",
            record["id"]
        );
    }
}
