//! Cluster mode: two processes of one dataflow on loopback. On the real broker, started by
//! `scripts/cluster.sh`, they decide a topic of 8 partitions exactly as one process does;
//! served, each answers its own dispatches while keyed state is shared.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};
use support::BROKER;
use support::{acteon, audit, finish, produce_simulated, repo, require_broker, run_args};
use support::{http, seed, unique, KilledOnDrop};

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

/// Runs `acteon ARGS` as a 2-process cluster (`scripts/cluster.sh`) to its end; fails past
/// `limit`, or when a process fails.
fn run_cluster<S: AsRef<std::ffi::OsStr>>(args: &[S], limit: Duration) {
    let mut cluster = Command::new("bash")
        .arg(repo().join("scripts/cluster.sh"))
        .arg("2")
        .args(args)
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
        if started.elapsed() > limit {
            // SIGTERM, so the script's trap stops both processes.
            let _ = Command::new("kill").arg(cluster.id().to_string()).status();
            let _ = cluster.wait();
            panic!("the cluster did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "the cluster failed: {status}");
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
    run_cluster(
        &run_args(script, &url("cluster"), &audits, &calls),
        Duration::from_secs(300),
    );

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

/// `acteon serve` as two processes: a dispatch to either is answered there, and a dedup key
/// seen by one process is known to the other (its window lives with the key's owner, in
/// whichever process). The plan of a served cluster is fixed: a reload is refused.
#[test]
fn two_served_processes_answer_their_own_dispatches_and_share_dedup_windows() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let script = path("served.acteon");
    std::fs::write(
        &script,
        "provider sink log\n\nrule once priority 1\n  when action_type == \"reading\"\n  then dedup within 60s\n",
    )
    .unwrap();
    let timely = two_free_ports();
    let hosts = path("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1:{timely}\n127.0.0.1:{}\n", timely + 1),
    )
    .unwrap();
    let listen = [0, 1].map(|_| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    });
    let _processes = KilledOnDrop(
        (0..2)
            .map(|i| {
                let (process, calls) = (i.to_string(), path(&format!("calls-{i}")));
                let args = [
                    "serve",
                    &script,
                    "--listen",
                    &listen[i],
                    "--processes",
                    "2",
                    "--process",
                    &process,
                    "--hosts",
                    &hosts,
                    "--dry-run",
                    &calls,
                ];
                acteon(&args)
            })
            .collect(),
    );
    let url = |i: usize, route: &str| format!("http://{}{route}", listen[i]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while (0..2).any(|i| http("GET", &url(i, "/health"), None).0 != 200) {
        assert!(
            Instant::now() < deadline,
            "both processes serve within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let reading = |id: String, key: usize| {
        serde_json::json!({
            "id": id, "namespace": "iot", "tenant": "hq", "action_type": "reading",
            "provider": "sink", "dedup_key": format!("key-{key}"), "payload": {}
        })
    };
    for key in 0..20 {
        // Keys are owned by one worker or the other: about half of these answers crossed
        // processes to be decided.
        for (process, prefix, outcome) in
            [(0, "first-", "executed"), (1, "second-", "deduplicated")]
        {
            let action = reading(format!("{prefix}{key}"), key);
            let (status, answer) = http("POST", &url(process, "/v1/dispatch"), Some(&action));
            assert_eq!(
                (status, answer["outcome"].as_str()),
                (200, Some(outcome)),
                "{answer}"
            );
        }
    }
    // Each process's audit holds the records of the actions it received.
    for (i, prefix) in [(0, "first-"), (1, "second-")] {
        let (_, audit) = http(
            "GET",
            &url(i, "/v1/audit?namespace=iot&tenant=hq&limit=100"),
            None,
        );
        let ids: Vec<&str> = audit["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["action_id"].as_str())
            .collect();
        assert_eq!(ids.len(), 20, "{audit}");
        assert!(ids.iter().all(|id| id.starts_with(prefix)), "{ids:?}");
    }
    let (status, refused) = http("POST", &url(0, "/v1/rules/reload"), None);
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "cluster_plan_fixed");
}

/// A file table read by a 2-process cluster: its rows (on the key's owner, in either process)
/// give the decisions one process gives.
#[test]
fn two_processes_join_a_table_as_one_process_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let rows: String = (0..20)
        .filter(|d| d % 3 != 0)
        .map(|d| {
            format!(
                "{{\"device_id\": \"dev-{d}\", \"max_temp\": {}, \"zone\": \"z{}\"}}\n",
                60 + d,
                d % 4
            )
        })
        .collect();
    std::fs::write(path("devices.jsonl"), rows).unwrap();
    let script = path("joined.acteon");
    std::fs::write(
        &script,
        "table devices key device_id from \"devices.jsonl\"\nprovider alerts log\nprovider sink log\naudit { store_payload = true }\n\n\
         rule hot priority 1\n  when payload.value > devices[payload.device_id].max_temp ?? 85\n  then reroute alerts\n\n\
         rule zone priority 2\n  then modify { \"zone\": devices[payload.device_id].zone ?? \"none\" }\n",
    )
    .unwrap();
    let input = path("readings.jsonl");
    let lines: String = (0..2000)
        .map(|i| {
            format!(
                "{{\"id\": \"r{i}\", \"namespace\": \"iot\", \"tenant\": \"hq\", \"action_type\": \"reading\", \"provider\": \"sink\", \"created_at\": \"2026-11-28T09:{:02}:{:02}.{:03}Z\", \"payload\": {{\"device_id\": \"dev-{}\", \"value\": {}}}}}\n",
                i / 60_000 % 60, i / 1000 % 60, i % 1000, i % 20, 55 + i % 40
            )
        })
        .collect();
    std::fs::write(&input, lines).unwrap();

    let (single, single_calls) = (path("single.jsonl"), path("single-calls"));
    let args = |audit: &str, calls: &str| -> Vec<String> {
        [
            "run",
            &script,
            "--input",
            &input,
            "--audit",
            audit,
            "--dry-run",
            calls,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let single_args = args(&single, &single_calls);
    finish(
        acteon(&single_args.iter().map(String::as_str).collect::<Vec<_>>()),
        Duration::from_secs(120),
    );
    let cluster_args = args(&path("cluster-{process}.jsonl"), &path("calls-{process}"));
    run_cluster(&cluster_args, Duration::from_secs(120));

    // (action, outcome, target, zone) of every record.
    let facts = |records: Vec<Value>| -> BTreeMap<String, (String, String, String)> {
        records
            .iter()
            .map(|r| {
                let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
                (
                    text(&r["action_id"]),
                    (
                        text(&r["outcome"]),
                        text(&r["target"]),
                        text(&r["payload"]["zone"]),
                    ),
                )
            })
            .collect()
    };
    let one = facts(audit(std::path::Path::new(&single)));
    assert_eq!(one.len(), 2000);
    assert!(one.values().any(|(outcome, ..)| outcome == "rerouted"));
    let together = facts(
        audit(&dir.path().join("cluster-0.jsonl"))
            .into_iter()
            .chain(audit(&dir.path().join("cluster-1.jsonl")))
            .collect(),
    );
    assert_eq!(one, together);
}
