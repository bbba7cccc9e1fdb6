//! When a dispatch is answered: as soon as its own decision is made, not at an epoch's tick
//! and not after other actions' deliveries; and the state views page a large audit while
//! dispatches keep being answered.

mod support;

use acteon_dsl::plan::Provider as PlanProvider;
use acteon_engine::provider::{CallResult, Provider, ProviderCall, ProviderFactory, Reply};
use acteon_engine::Delivery;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

/// An action of the seed pipeline's tenant with a fresh id.
fn reading(id: String, value: u64) -> Value {
    json!({
        "id": id,
        "namespace": "iot",
        "tenant": "smartbuilding-hq",
        "provider": "metrics-queue",
        "action_type": "sensor_reading",
        "payload": {"device_id": "temp-sensor-7", "sensor_type": "temperature", "value": value,
                    "unit": "celsius", "floor": "3"},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_server_answers_a_single_dispatch_without_waiting_for_an_epoch() {
    // Epochs of 60 s and a decision timeout of 20 s: an answer that waited for the epoch to
    // end, or for the source's next tick, would time out (504) instead.
    let mut config = config(&pipeline_dir().join("pipeline.acteon"));
    config.engine.epoch_ms = 60_000;
    config.decision_timeout = Duration::from_secs(20);
    let server = start(config);
    for (n, id) in ["temp-crit-001", "firmware-001", "test-dev-001"]
        .into_iter()
        .enumerate()
    {
        // Idle before each one: the source has gone to sleep waiting for its feed.
        tokio::time::sleep(Duration::from_millis(200 * n as u64)).await;
        let (status, decision) = post(&server, "/v1/dispatch", seed_event(id)).await;
        assert_eq!(status, 200, "{id}: {decision}");
        assert_eq!(decision["action_id"], id);
    }
    server.stop().await;
}

/// A provider whose every call answers after two seconds, on a thread of its own.
#[derive(Debug, Default)]
struct SlowProviders {
    answered: Arc<AtomicUsize>,
}

struct Slow {
    answered: Arc<AtomicUsize>,
}

impl ProviderFactory for SlowProviders {
    fn build(&self, _: &PlanProvider) -> Result<Arc<dyn Provider>, String> {
        Ok(Arc::new(Slow {
            answered: Arc::clone(&self.answered),
        }))
    }
}

impl Provider for Slow {
    fn submit(&self, _: ProviderCall, reply: Reply) {
        let answered = Arc::clone(&self.answered);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            answered.fetch_add(1, Ordering::SeqCst);
            reply.send(CallResult {
                success: true,
                body: json!({"ok": true}),
                error: None,
                attempts: 1,
                duration_ms: 2000,
                delivered_by: None,
                failed_over: None,
            });
        });
    }
}

const SLOW_CHAIN: &str = r#"
provider slow aws-lambda {
  region = "us-east-1"
  endpoint_url = "http://127.0.0.1:1"
  function_name = "slow"
}
provider quick log
rule slow-work priority 1 when action_type == "slow" then chain work
chain work timeout 30s {
  step only call slow invoke { "n": 1 }
}
"#;

fn action(id: &str, action_type: &str) -> Value {
    json!({"id": id, "namespace": "ops", "tenant": "t", "action_type": action_type,
           "provider": "quick"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_chain_step_delays_no_other_dispatch() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("slow.acteon");
    std::fs::write(&script, SLOW_CHAIN).unwrap();
    let providers = Arc::new(SlowProviders::default());
    let mut config = config(&script);
    config.engine.delivery = Delivery::Live;
    config.engine.live_providers = Some(providers.clone());
    let server = start(config);

    let slow = dispatch(&server, action("job-1", "slow")).await;
    assert_eq!(slow["outcome"], "chain_started", "{slow}");
    // Sent after the slow one, in the same or the next epoch: answered while its step waits.
    for n in 0..5 {
        let quick = dispatch(&server, action(&format!("quick-{n}"), "quick")).await;
        assert_eq!(quick["outcome"], "executed", "{quick}");
    }
    assert_eq!(
        providers.answered.load(Ordering::SeqCst),
        0,
        "every answer came before the slow step's"
    );
    // The chain itself completes once its step answers.
    let done = eventually(Duration::from_secs(20), || async {
        let (_, chains) = get(&server, "/v1/chains?status=completed").await;
        chains.to_string().contains("job-1")
    })
    .await;
    assert!(done, "the slow chain completes");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_a_100_000_record_audit_are_read_while_dispatches_keep_being_answered() {
    let server = Arc::new(seed_server());
    const BATCHES: usize = 100;
    for batch in 0..BATCHES {
        let actions: Vec<Value> = (0..1000)
            .map(|n| reading(format!("bulk-{batch}-{n}"), 20))
            .collect();
        let (status, answers) = post(&server, "/v1/dispatch/batch", json!(actions)).await;
        assert_eq!(status, 200, "{answers}");
    }
    let stored = server.app.store.len();
    assert!(stored >= 100_000, "{stored} records");

    // Dispatches go on while the pages are read; every one is answered.
    let finished = Arc::new(AtomicBool::new(false));
    let dispatching = {
        let server = Arc::clone(&server);
        let finished = Arc::clone(&finished);
        tokio::spawn(async move {
            let mut answered = 0;
            for n in 0..300 {
                let (status, _) =
                    post(&server, "/v1/dispatch", reading(format!("live-{n}"), 21)).await;
                answered += usize::from(status == 200);
            }
            finished.store(true, Ordering::SeqCst);
            answered
        })
    };
    let mut reads = 0;
    // An event per action; a record per decision (an action that starts a chain has several).
    for (route, id) in [("/v1/events", "action_id"), ("/v1/audit", "id")] {
        let mut seen = BTreeSet::new();
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let uri = match &cursor {
                Some(cursor) => format!("{route}?limit=1000&cursor={cursor}"),
                None => format!("{route}?limit=1000"),
            };
            let (status, page) = get(&server, &uri).await;
            assert_eq!(status, 200, "{uri}: {page}");
            let items = page["events"]
                .as_array()
                .or(page["records"].as_array())
                .unwrap();
            assert_eq!(items.len(), 1000, "{uri}: a full page");
            for item in items {
                assert!(
                    seen.insert(item[id].as_str().unwrap().to_owned()),
                    "{uri}: nothing twice across pages"
                );
            }
            cursor = page["next_cursor"].as_str().map(str::to_owned);
            assert!(cursor.is_some(), "{uri}: more pages follow");
            reads += 1;
        }
    }
    let (status, groups) = get(&server, "/v1/groups?limit=10").await;
    assert_eq!(status, 200, "{groups}");
    assert_eq!(reads, 40);
    let answered = tokio::time::timeout(Duration::from_secs(60), dispatching)
        .await
        .expect("the dispatches end")
        .unwrap();
    assert_eq!(
        answered, 300,
        "every dispatch sent while pages were read is answered"
    );
    assert!(finished.load(Ordering::SeqCst));
    Arc::try_unwrap(server).ok().unwrap().stop().await;
}
