//! Tables read from topics on the real broker (`scripts/services.sh up kafka`): rows as of each
//! action's event time (an update mid-stream, a deletion, a missing key), the same audit with
//! 1 and 4 workers, a restart from a checkpoint, and a quiet table topic that holds no action
//! back. Every test uses its own topics; every wait is bounded.

use acteon_dsl::plan::Plan;
use acteon_engine::checkpoint::store::{decode, load_latest};
use acteon_engine::checkpoint::DirectoryStore;
use acteon_engine::tables::{Tables, Version};
use acteon_engine::time::{format_rfc3339_ms, wall_clock_ms};
use acteon_engine::{run, AuditOutput, CheckpointConfig, Input, RunConfig, RunReport};
use acteon_kafka::KafkaTables;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::Duration;

mod support;

use support::{acteon, http, produce, require_broker, unique, KilledOnDrop, BROKER};

const SCRIPT: &str = r#"
table devices key device_id from kafka { brokers = ["BROKER"] topic = "DEVICES" }
table owners key device_id from kafka { brokers = ["BROKER"] topic = "OWNERS" }

provider alert-fanout log
provider metrics-queue log

rule retired priority 1
  when owners[payload.device_id].state == "retired"
  then suppress

rule critical-temperature priority 2
  when payload.value > devices[payload.device_id].max_temp ?? 85
  then reroute alert-fanout
"#;

/// The script over two fresh topics: `devices` with `records`, and `owners`, which stays
/// empty (a quiet table).
fn plan_with(records: Vec<(Option<String>, String)>) -> Plan {
    let (devices, owners) = (unique("table-devices"), unique("table-owners"));
    produce(&devices, 2, records);
    produce(&owners, 1, Vec::new());
    let script = SCRIPT
        .replace("BROKER", BROKER)
        .replace("DEVICES", &devices)
        .replace("OWNERS", &owners);
    let compiled = acteon_dsl::compile_str("tables.acteon", &script);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.unwrap()
}

fn reading(id: &str, at_ms: i64, device: &str, value: i64) -> String {
    json!({
        "id": id, "namespace": "iot", "tenant": "hq", "action_type": "sensor_reading",
        "provider": "metrics-queue", "created_at": format_rfc3339_ms(at_ms),
        "payload": { "value": value, "device_id": device },
    })
    .to_string()
}

fn row(device: &str, max_temp: i64, updated_at: Option<i64>) -> (Option<String>, String) {
    let mut row = json!({ "device_id": device, "max_temp": max_temp });
    if let Some(at) = updated_at {
        row["updated_at"] = json!(format_rfc3339_ms(at));
    }
    (Some(device.to_owned()), row.to_string())
}

/// Runs in a thread, bounded: a table that held the actions back would never let it end.
fn run_bounded(plan: &Plan, lines: Vec<String>, workers: usize, store: Option<&Path>) -> RunReport {
    let (plan, done) = (plan.clone(), mpsc::channel());
    let config = RunConfig {
        input: Input::Lines(lines),
        workers,
        audit: AuditOutput::Memory,
        tables: Tables::new().with_feed(Arc::new(KafkaTables)),
        checkpoints: store.map(|dir| CheckpointConfig {
            store: Arc::new(DirectoryStore::open(dir).unwrap()),
            interval: Duration::ZERO,
        }),
        ..RunConfig::default()
    };
    std::thread::spawn(move || done.0.send(run(&plan, config).unwrap()));
    done.1
        .recv_timeout(Duration::from_secs(120))
        .expect("the run ends once its actions are decided")
}

/// Action id -> (outcome, target) of each action's record.
fn decisions(report: &RunReport) -> BTreeMap<String, (String, String)> {
    report
        .audit
        .iter()
        .map(|r| {
            let target = r.target.as_ref().map(|t| t.to_string()).unwrap_or_default();
            (
                r.action_id.to_string(),
                (format!("{:?}", r.outcome), target),
            )
        })
        .collect()
}

/// The rows, an update at `base + 30 s`, a deletion and a row without `updated_at` (both at
/// the time they are produced, `now`), and the actions around them with what each must get.
fn scenario() -> (Plan, Vec<String>, BTreeMap<String, (String, String)>) {
    let now = wall_clock_ms();
    let base = now - 600_000;
    let records = vec![
        row("d1", 90, Some(base - 3_600_000)),
        row("d2", 60, Some(base - 3_600_000)),
        row("d1", 70, Some(base + 30_000)),
        // No value: deletes d2's row, as of its Kafka timestamp.
        (Some("d2".to_owned()), String::new()),
        row("d3", 50, None),
    ];
    let plan = plan_with(records);
    // Well after every record's Kafka timestamp.
    let later = wall_clock_ms() + 600_000;
    let expected = [
        ("a1", base + 10_000, "d1", 80, "Executed", "metrics-queue"),
        ("a2", base + 20_000, "d2", 70, "Rerouted", "alert-fanout"),
        ("a3", base + 40_000, "d1", 80, "Rerouted", "alert-fanout"),
        ("a4", base + 50_000, "d3", 60, "Executed", "metrics-queue"),
        ("a5", base + 55_000, "d9", 86, "Rerouted", "alert-fanout"),
        ("a6", later, "d2", 70, "Executed", "metrics-queue"),
        ("a7", later + 1_000, "d3", 60, "Rerouted", "alert-fanout"),
        ("a8", later + 2_000, "d1", 75, "Rerouted", "alert-fanout"),
    ];
    // Between them, readings of a device without a row, 20 ms apart: enough lines for the
    // source to read them in several batches, so checkpoints are taken meanwhile.
    let mut timed: Vec<(i64, String)> = expected
        .iter()
        .map(|(id, at, device, value, ..)| (*at, reading(id, *at, device, *value)))
        .collect();
    timed.extend((0..3000).map(|i| {
        let at = base + i * 20 + 5;
        (at, reading(&format!("t{i}"), at, "d0", 20))
    }));
    timed.sort_by_key(|(at, _)| *at);
    let lines = timed.into_iter().map(|(_, line)| line).collect();
    let executed = || ("Executed".to_owned(), "metrics-queue".to_owned());
    let expected = expected
        .iter()
        .map(|(id, .., outcome, target)| {
            (id.to_string(), (outcome.to_string(), target.to_string()))
        })
        .chain((0..3000).map(|i| (format!("t{i}"), executed())))
        .collect();
    (plan, lines, expected)
}

#[test]
fn a_kafka_table_gives_each_action_its_row_as_of_its_event_time() {
    require_broker();
    let (plan, lines, expected) = scenario();
    let one = decisions(&run_bounded(&plan, lines.clone(), 1, None));
    assert_eq!(one, expected);
    assert_eq!(decisions(&run_bounded(&plan, lines, 4, None)), expected);
}

#[test]
fn a_restart_from_a_checkpoint_keeps_a_kafka_table() {
    require_broker();
    let (plan, lines, expected) = scenario();
    let dir = tempfile::tempdir().unwrap();
    // The first run stops after a4 (base + 50 s): its checkpoints hold d1's new row.
    let a4 = lines.iter().position(|l| l.contains("\"a4\"")).unwrap();
    let first = decisions(&run_bounded(
        &plan,
        lines[..=a4].to_vec(),
        1,
        Some(dir.path()),
    ));
    assert_eq!(first.len(), a4 + 1);
    // Its newest checkpoint holds the table's rows as they were at its epoch.
    let store = DirectoryStore::open(dir.path()).unwrap();
    let checkpoint = load_latest(&store).unwrap().expect("a checkpoint");
    let rows: Vec<(Arc<str>, Version)> = decode(&checkpoint.parts["table-devices/0"]).unwrap();
    let d1 = rows
        .iter()
        .find(|(key, _)| &**key == "d1")
        .expect("d1's row");
    let d1: serde_json::Value = serde_json::from_str(d1.1.row.as_ref().unwrap().text()).unwrap();
    assert_eq!(d1["max_temp"], 70);
    let resumed = decisions(&run_bounded(&plan, lines, 1, Some(dir.path())));
    for (id, decided) in &resumed {
        assert_eq!(expected.get(id), Some(decided), "{id} after the restart");
    }
    assert!(resumed.contains_key("a8"));
    assert!(
        resumed.len() < expected.len(),
        "the restored run starts after the checkpoint"
    );
}

/// Served, on the processing clock: the table topics are read at start and then stay quiet
/// (`owners` has no record at all), and decisions are not held for them; a record produced
/// while the server runs is read by the dispatches after it.
#[test]
fn a_quiet_table_topic_does_not_delay_served_decisions() {
    require_broker();
    let devices = unique("served-devices");
    let owners = unique("served-owners");
    produce(&devices, 1, vec![row("d1", 70, None)]);
    produce(&owners, 1, Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("served.acteon");
    std::fs::write(
        &script,
        SCRIPT
            .replace("BROKER", BROKER)
            .replace("DEVICES", &devices)
            .replace("OWNERS", &owners),
    )
    .unwrap();
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let calls = dir.path().join("calls");
    let _server = KilledOnDrop(vec![acteon(&[
        "serve",
        script.to_str().unwrap(),
        "--listen",
        &listen,
        "--dry-run",
        calls.to_str().unwrap(),
    ])]);
    let url = |route: &str| format!("http://{listen}{route}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while http("GET", &url("/health"), None).0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "it serves within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let dispatch = |id: String| {
        let action = json!({
            "id": id, "namespace": "iot", "tenant": "hq", "action_type": "sensor_reading",
            "provider": "metrics-queue", "payload": { "value": 80, "device_id": "d1" },
        });
        // curl gives up after 30 s: a decision held for the quiet topics fails here.
        let (status, answer) = http("POST", &url("/v1/dispatch"), Some(&action));
        assert_eq!(status, 200, "{answer}");
        answer["outcome"].as_str().unwrap_or_default().to_owned()
    };
    // d1's row from the topic: 80 is over its 70.
    assert_eq!(dispatch("s-0".into()), "rerouted");
    // A new row on the topic (at its Kafka timestamp, now): read by a later dispatch.
    produce(&devices, 1, vec![row("d1", 90, None)]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut n = 1;
    while dispatch(format!("s-{n}")) != "executed" {
        assert!(
            std::time::Instant::now() < deadline,
            "the new row is read within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
        n += 1;
    }
}
