//! SQS delivery against the local emulator: batched (SendMessageBatch, 10 per call) against
//! one SendMessage per action. Prints actions per second and API calls per 1,000 actions.
//! Needs `scripts/services.sh up aws`. Run: `cargo bench -p acteon-aws --bench sqs_batching`.

use acteon_aws::sqs::Sqs;
use acteon_delivery::{Dispatcher, Policy};
use acteon_dsl::plan::AwsConnection;
use acteon_engine::provider::{CallResult, ProviderCall, Reply};
use serde_json::json;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

const ACTIONS: usize = 2_000;

fn main() {
    let aws = acteon_aws::AwsProviders::new(Policy::default()).expect("a runtime");
    let connection = AwsConnection {
        region: Some("us-east-1".into()),
        endpoint_url: Some("http://127.0.0.1:4566".into()),
        ..AwsConnection::default()
    };
    let client = aws_sdk_sqs::Client::new(&aws.sdk_config(&connection));
    println!("SQS delivery of {ACTIONS} actions to the local emulator");
    println!(
        "{:<22} {:>10} {:>14} {:>22}",
        "mode", "seconds", "actions/s", "API calls / 1,000"
    );
    for (mode, max_batch) in [("one call per action", 1), ("batched (10)", usize::MAX)] {
        let name = format!("bench-{}-{}", std::process::id(), max_batch.min(10));
        let queue_url = aws
            .runtime()
            .block_on(client.create_queue().queue_name(&name).send())
            .unwrap_or_else(|e| panic!("the emulator is needed (scripts/services.sh up aws): {e}"))
            .queue_url()
            .unwrap()
            .to_owned();
        let policy = Policy {
            max_batch,
            ..Policy::default()
        };
        let sqs = Sqs {
            client: client.clone(),
            queue_url: queue_url.clone(),
        };
        let dispatcher = Dispatcher::start(sqs, policy, aws.runtime());
        let activator = timely::execute_directly(|worker| worker.sync_activator_for(vec![0]));
        let (sender, results) = channel::<(u64, CallResult)>();
        let started = Instant::now();
        for i in 0..ACTIONS {
            let call = ProviderCall {
                provider: "metrics-queue".into(),
                action_id: format!("a{i}").into(),
                namespace: "iot".into(),
                tenant: "smartbuilding-hq".into(),
                action_type: "sensor_reading".into(),
                payload: json!({ "device_id": format!("d{}", i % 50), "value": i }).into(),
                idempotency_key: format!("a{i}").into(),
            };
            dispatcher.submit(
                call,
                Reply::new(i as u64, sender.clone(), activator.clone()),
            );
        }
        let mut failed = 0;
        for _ in 0..ACTIONS {
            let (_, result) = results
                .recv_timeout(Duration::from_secs(120))
                .expect("every call answered within 120 s");
            failed += usize::from(!result.success);
        }
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(failed, 0, "{failed} deliveries failed");
        println!(
            "{mode:<22} {seconds:>10.2} {:>14.0} {:>22.0}",
            ACTIONS as f64 / seconds,
            dispatcher.api_calls() as f64 * 1000.0 / ACTIONS as f64
        );
        aws.runtime()
            .block_on(client.delete_queue().queue_url(queue_url).send())
            .expect("the queue is deleted");
    }
}
