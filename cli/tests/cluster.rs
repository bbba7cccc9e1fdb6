//! Cluster mode on the real broker: two processes of one dataflow, started by
//! `scripts/cluster.sh` on loopback, decide a topic of 8 partitions exactly as one process does.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};
use support::BROKER;
use support::{acteon, audit, finish, produce_simulated, repo, require_broker, run_args};
use support::{seed, unique};

const ACTIONS: u64 = 100_000;

/// How many records each (action id, outcome) has.
fn decisions(records: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for record in records {
        let key = (
            record["action_id"].as_str().unwrap_or("").to_owned(),
            record["outcome"].as_str().unwrap_or("").to_owned(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// A first port whose next one is free too (both are checked, then released).
fn two_free_ports() -> u16 {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free ports on 127.0.0.1 in 50 tries");
}

#[test]
fn two_processes_decide_a_topic_as_one_process_does() {
    require_broker();
    let topic = unique("cluster");
    produce_simulated(&topic, 8, ACTIONS, 11);
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let script = seed("pipeline.acteon");
    let script = script.to_str().unwrap();
    let url = |group: &str| {
        format!(
            "kafka://{BROKER}/{topic}?group={}&start=earliest",
            unique(group)
        )
    };

    let (single, single_calls) = (path("single.jsonl"), path("single-calls"));
    finish(
        acteon(&run_args(script, &url("single"), &single, &single_calls)),
        Duration::from_secs(300),
    );

    let (audits, calls) = (path("cluster-{process}.jsonl"), path("calls-{process}"));
    let mut cluster = Command::new("bash")
        .arg(repo().join("scripts/cluster.sh"))
        .arg("2")
        .args(run_args(script, &url("cluster"), &audits, &calls))
        .env("ACTEON_BIN", env!("CARGO_BIN_EXE_acteon"))
        .env("ACTEON_CLUSTER_PORT", two_free_ports().to_string())
        .current_dir(repo())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = cluster.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(300) {
            // SIGTERM, so the script's trap stops both processes.
            let _ = Command::new("kill").arg(cluster.id().to_string()).status();
            let _ = cluster.wait();
            panic!("the cluster did not finish within 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "the cluster failed: {status}");

    let one = audit(std::path::Path::new(&single));
    let (first, second) = (
        audit(&dir.path().join("cluster-0.jsonl")),
        audit(&dir.path().join("cluster-1.jsonl")),
    );
    assert!(
        !first.is_empty() && !second.is_empty(),
        "both processes decide: {} and {} records",
        first.len(),
        second.len()
    );
    let together: Vec<Value> = first.into_iter().chain(second).collect();
    let (one, two) = (decisions(&one), decisions(&together));
    // Every input action has a record (group batches have their own ids besides).
    let inputs = one
        .keys()
        .filter(|(id, _)| id.starts_with("action-"))
        .map(|(id, _)| id.as_str())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        inputs.len(),
        ACTIONS as usize,
        "every action is audited alone"
    );
    let differing: Vec<_> = one
        .iter()
        .filter(|(key, count)| two.get(*key) != Some(count))
        .take(5)
        .collect();
    assert!(
        one == two,
        "{} decisions alone, {} in the cluster; first differences: {differing:?}",
        one.len(),
        two.len()
    );
}
