//! Hot reload: a clean edit of the script takes effect without a restart and keeps the
//! unchanged dedup rules' windows; an edit with errors is refused and the old plan keeps
//! deciding.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use support::*;

/// The seed pipeline's scripts copied into `dir`, to edit.
fn copy_pipeline(dir: &Path) {
    for file in [
        "pipeline.acteon",
        "safety.acteon",
        "processing.acteon",
        "routing.acteon",
        "devices.jsonl",
    ] {
        std::fs::copy(pipeline_dir().join(file), dir.join(file)).unwrap();
    }
}

/// Intrusions go to the event bus instead of SNS.
fn reroute_intrusions_to_the_bus(dir: &Path) {
    let path = dir.join("routing.acteon");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text
        .find("rule intrusion-alert")
        .expect("the intrusion rule");
    let end = start
        + text[start..]
            .find("reroute alert-fanout")
            .expect("its reroute");
    let edited = format!(
        "{}reroute event-bus{}",
        &text[..end],
        &text[end + "reroute alert-fanout".len()..]
    );
    std::fs::write(&path, edited).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_edit_applies_and_keeps_unchanged_dedup_windows() {
    let dir = tempfile::tempdir().unwrap();
    copy_pipeline(dir.path());
    let server = start(config(&dir.path().join("pipeline.acteon")));
    assert_eq!(
        dispatch(&server, seed_event("motion-001")).await["target"],
        "alert-fanout"
    );
    assert_eq!(
        dispatch(&server, seed_event("dup-temp-001")).await["outcome"],
        "chain_started"
    );

    reroute_intrusions_to_the_bus(dir.path());
    let (status, reloaded) = post(&server, "/v1/rules/reload", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reloaded}");
    assert_eq!(reloaded["generation"], 2);

    let decision = dispatch(&server, seed_event("motion-002")).await;
    assert_eq!(
        (decision["outcome"].as_str(), decision["target"].as_str()),
        (Some("rerouted"), Some("event-bus")),
        "{decision}"
    );
    // The dedup rule did not change: the key seen before the reload is still a repeat.
    let repeat = dispatch(&server, seed_event("dup-temp-002")).await;
    assert_eq!(repeat["outcome"], "deduplicated", "{repeat}");
    assert_eq!(repeat["rule"], "dedup-sensor-readings");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_dedup_rule_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    copy_pipeline(dir.path());
    let server = start(config(&dir.path().join("pipeline.acteon")));
    assert_eq!(
        dispatch(&server, seed_event("dup-temp-001")).await["outcome"],
        "chain_started"
    );
    let path = dir.path().join("processing.acteon");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("dedup within 60s", "dedup within 90s");
    std::fs::write(&path, text).unwrap();
    let (status, _) = post(&server, "/v1/rules/reload", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        dispatch(&server, seed_event("dup-temp-002")).await["outcome"],
        "chain_started"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_with_errors_is_refused_and_the_old_plan_keeps_deciding() {
    let dir = tempfile::tempdir().unwrap();
    copy_pipeline(dir.path());
    let server = start(config(&dir.path().join("pipeline.acteon")));
    let path = dir.path().join("routing.acteon");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("reroute alert-fanout", "reroute no-such-provider"),
    )
    .unwrap();
    let (status, refused) = post(&server, "/v1/rules/reload", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"]["code"], "script_has_errors");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-provider"),
        "{refused}"
    );
    let decision = dispatch(&server, seed_event("motion-001")).await;
    assert_eq!(decision["target"], "alert-fanout", "the old plan decides");
    let (_, health) = get(&server, "/health").await;
    assert_eq!(health["generation"], 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_reloads_an_edited_file_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    copy_pipeline(dir.path());
    let mut config = config(&dir.path().join("pipeline.acteon"));
    config.watch_interval = Some(Duration::from_millis(50));
    let server = start(config);
    // Modification times can be coarse: make sure the edit is seen as newer.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    reroute_intrusions_to_the_bus(dir.path());
    let reloaded = eventually(Duration::from_secs(10), || async {
        get(&server, "/health").await.1["generation"] == 2
    })
    .await;
    assert!(reloaded, "the watcher started a second generation");
    assert_eq!(
        dispatch(&server, seed_event("motion-002")).await["target"],
        "event-bus"
    );
    // A broken edit is seen too, and refused.
    std::fs::write(dir.path().join("safety.acteon"), "rule broken priority\n").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, health) = get(&server, "/health").await;
    assert_eq!(health["generation"], 2);
    assert_eq!(
        dispatch(&server, seed_event("firmware-001")).await["outcome"],
        "denied"
    );
    server.stop().await;
}

/// `--dead-letter` in serve: a failed delivery is a line in the file, and a reload's new plan
/// adds to the file rather than starting it afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_go_to_the_dead_letter_file_across_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("failing.acteon");
    std::fs::write(&script, FAILING).unwrap();
    let dead = dir.path().join("dead.jsonl");
    let mut config = config(&script);
    config.engine.delivery = acteon_engine::Delivery::DryRunScripted(
        acteon_engine::providers::dry_run::Fixtures::new().answers(
            "down",
            vec![acteon_engine::providers::dry_run::Answer::Failure(
                "refused".into(),
            )],
        ),
    );
    config.engine.dead_letter = Some(dead.clone());
    let server = start(config);
    let action = |id: &str| {
        serde_json::json!({"id": id, "namespace": "ops", "tenant": "t", "action_type": "job",
                           "provider": "down"})
    };
    let first = dispatch(&server, action("before-reload")).await;
    assert_eq!(first["outcome"], "failed", "{first}");
    let lines = || std::fs::read_to_string(&dead).unwrap_or_default();
    let written = eventually(Duration::from_secs(10), || async {
        lines().lines().count() == 1
    })
    .await;
    assert!(written, "{}", lines());
    let (status, _) = post(&server, "/v1/rules/reload", serde_json::json!({})).await;
    assert_eq!(status, 200);
    dispatch(&server, action("after-reload")).await;
    let both = eventually(Duration::from_secs(10), || async {
        lines().lines().count() == 2
    })
    .await;
    assert!(both, "the reload kept the first line: {}", lines());
    assert!(lines().contains("before-reload") && lines().contains("after-reload"));
    server.stop().await;
}

const FAILING: &str = "provider down log\n";
