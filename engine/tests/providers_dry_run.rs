//! Dry-run providers called from inside a multi-worker timely dataflow, as the delivery
//! operator calls them: every worker submits, replies come back through the activator.

use acteon_dsl::plan::{Plan, Provider as PlanProvider, ProviderKind};
use acteon_engine::provider::{ProviderCall, Reply};
use acteon_engine::providers::registry::{ProviderMode, ProviderRegistry};
use serde_json::{json, Value};
use std::sync::mpsc::channel;

fn plan() -> Plan {
    Plan {
        providers: vec![
            PlanProvider {
                name: "alert-fanout".into(),
                kind: ProviderKind::AwsSns {
                    topic_arn: "arn:aws:sns:us-east-1:000000000000:building-alerts".into(),
                },
                aws: None,
            },
            PlanProvider {
                name: "audit-log".into(),
                kind: ProviderKind::Log,
                aws: None,
            },
        ],
        ..Plan::default()
    }
}

fn call(worker: usize, n: u64) -> ProviderCall {
    ProviderCall {
        provider: "alert-fanout".into(),
        action_id: format!("w{worker}-{n}").into(),
        namespace: "iot".into(),
        tenant: "smartbuilding-hq".into(),
        action_type: "sensor_reading".into(),
        payload: json!({ "value": n }).into(),
        idempotency_key: format!("w{worker}-{n}").into(),
    }
}

fn run_workers(registry: ProviderRegistry) {
    timely::execute(timely::Config::process(3), move |worker| {
        let provider = registry.get("alert-fanout").unwrap().clone();
        let activator = worker.sync_activator_for(vec![0]);
        let (sender, results) = channel();
        for n in 0..20 {
            let reply = Reply::new(n, sender.clone(), activator.clone());
            provider.submit(call(worker.index(), n), reply);
        }
        let replies: Vec<_> = results.try_iter().collect();
        assert_eq!(replies.len(), 20);
        assert!(replies
            .iter()
            .all(|(_, r)| r.success && r.body == json!({ "dry_run": true })));
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|result| result.unwrap());
}

#[test]
fn every_worker_call_is_one_line_of_the_provider_file() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    let registry =
        ProviderRegistry::build(&plan(), ProviderMode::DryRunDir(calls.clone())).unwrap();
    run_workers(registry.clone());
    registry.flush().unwrap();

    let text = std::fs::read_to_string(calls.join("alert-fanout.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 60);
    assert!(lines
        .iter()
        .all(|l| l["kind"] == "aws-sns" && l["tenant"] == "smartbuilding-hq"));
    assert!(!calls.join("audit-log.jsonl").exists());
}

#[test]
fn memory_mode_counts_calls_per_provider() {
    let registry = ProviderRegistry::build(&plan(), ProviderMode::DryRunMemory).unwrap();
    run_workers(registry.clone());
    let calls = registry.recorded_calls();
    assert_eq!(calls.len(), 60);
    assert!(calls.iter().all(|c| c.call.provider == "alert-fanout"));
}
