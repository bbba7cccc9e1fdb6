//! Every provider and the audit sink against the local AWS emulator (127.0.0.1:4566), each
//! delivery read back through the service itself. Start it with `scripts/services.sh up aws`;
//! these tests fail, never skip, when it is not there.

mod support;

use acteon_aws::AwsProviders;
use acteon_delivery::Policy;
use acteon_dsl::plan::{AwsConnection, Provider as PlanProvider, ProviderKind};
use acteon_engine::audit::buffer::{
    Acknowledge, Backpressure, BufferSettings, SinkBuffer, Storage,
};
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::audit::sink::RecordSink;
use acteon_engine::provider::{CallResult, ProviderCall, Reply};
use aws_config::SdkConfig;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Once;
use std::time::Duration;
use support::{connection, require_emulator, unique, ENDPOINT};

/// The seed's resources (Lambda functions included), created once per test binary.
fn seed_resources() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pipelines/aws-event-pipeline/scripts/setup.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .status()
            .unwrap();
        assert!(status.success(), "setup.sh failed");
    });
}

struct Fixture {
    aws: AwsProviders,
    config: SdkConfig,
}

fn fixture() -> Fixture {
    require_emulator();
    let aws = AwsProviders::new(Policy::default()).unwrap();
    let config = aws.sdk_config(&connection());
    Fixture { aws, config }
}

fn call(provider: &str, id: &str, payload: Value) -> ProviderCall {
    ProviderCall {
        provider: provider.into(),
        action_id: id.into(),
        namespace: "iot".into(),
        tenant: "smartbuilding-hq".into(),
        action_type: "sensor_reading".into(),
        payload: payload.into(),
        idempotency_key: id.into(),
    }
}

/// Submits every call at once, then waits (bounded) for all results, in call order.
fn deliver(fixture: &Fixture, provider: PlanProvider, calls: Vec<ProviderCall>) -> Vec<CallResult> {
    let live = fixture.aws.provider(&provider).unwrap();
    let activator = timely::execute_directly(|worker| worker.sync_activator_for(vec![0]));
    let (sender, results): (_, Receiver<(u64, CallResult)>) = channel();
    let count = calls.len();
    for (token, call) in calls.into_iter().enumerate() {
        live.submit(
            call,
            Reply::new(token as u64, sender.clone(), activator.clone()),
        );
    }
    let mut answered = vec![None; count];
    for _ in 0..count {
        let (token, result) = results
            .recv_timeout(Duration::from_secs(60))
            .expect("a provider answered within 60 s");
        answered[token as usize] = Some(result);
    }
    answered.into_iter().map(Option::unwrap).collect()
}

fn provider(name: &str, kind: ProviderKind) -> PlanProvider {
    PlanProvider {
        name: name.into(),
        kind,
        aws: Some(connection()),
    }
}

/// A queue's URL and ARN; a name ending in `.fifo` makes a FIFO queue.
fn create_queue(fixture: &Fixture, name: &str) -> (String, String) {
    let sqs = aws_sdk_sqs::Client::new(&fixture.config);
    let fifo = name.ends_with(".fifo");
    fixture.aws.runtime().block_on(async {
        let url = sqs
            .create_queue()
            .queue_name(name)
            .set_attributes(fifo.then(|| {
                [(
                    aws_sdk_sqs::types::QueueAttributeName::FifoQueue,
                    "true".into(),
                )]
                .into()
            }))
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        (url, arn)
    })
}

/// Reads messages until `expected` have arrived (at most 20 receives).
fn receive(fixture: &Fixture, queue_url: &str, expected: usize) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(&fixture.config);
    let mut bodies = Vec::new();
    fixture.aws.runtime().block_on(async {
        for _ in 0..20 {
            if bodies.len() >= expected {
                break;
            }
            let output = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            bodies.extend(
                output
                    .messages()
                    .iter()
                    .filter_map(|m| m.body().map(str::to_owned)),
            );
        }
    });
    bodies
}

#[test]
fn sqs_delivers_batches_that_receive_message_reads_back() {
    let fixture = fixture();
    let (url, _) = create_queue(&fixture, &unique("sqs"));
    let calls = (0..23)
        .map(|i| {
            call(
                "metrics",
                &format!("m{i}"),
                json!({ "device_id": format!("d{i}"), "value": i }),
            )
        })
        .collect();
    let results = deliver(
        &fixture,
        provider(
            "metrics",
            ProviderKind::AwsSqs {
                queue_url: url.clone(),
            },
        ),
        calls,
    );
    assert!(
        results.iter().all(|r| r.success && r.attempts == 1),
        "{results:?}"
    );
    assert!(results.iter().all(|r| r.body["message_id"].is_string()));
    let mut bodies: Vec<Value> = receive(&fixture, &url, 23)
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    bodies.sort_by_key(|b| b["value"].as_i64());
    assert_eq!(bodies.len(), 23);
    assert_eq!(bodies[7], json!({ "device_id": "d7", "value": 7 }));
}

/// A topic with a queue subscribed (raw delivery); `suffix` `.fifo` makes both FIFO.
fn topic_with_queue(fixture: &Fixture, suffix: &str) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(&fixture.config);
    let (url, arn) = create_queue(fixture, &format!("{}{suffix}", unique("copy")));
    let topic = fixture.aws.runtime().block_on(async {
        let topic = sns
            .create_topic()
            .name(format!("{}{suffix}", unique("alerts")))
            .set_attributes(
                (suffix == ".fifo").then(|| [("FifoTopic".into(), "true".into())].into()),
            )
            .send()
            .await
            .unwrap();
        let topic = topic.topic_arn().unwrap().to_owned();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        topic
    });
    (topic, url)
}

#[test]
fn sns_publishes_reach_a_subscribed_queue() {
    let fixture = fixture();
    let (topic, url) = topic_with_queue(&fixture, "");
    let calls = vec![
        call(
            "alerts",
            "t1",
            json!({ "sensor_type": "temperature", "value": 92 }),
        ),
        call(
            "alerts",
            "t2",
            json!({ "message": "intrusion on floor 3", "subject": "Alert" }),
        ),
        call(
            "alerts",
            "t3",
            json!({ "sensor_type": "motion", "event": "intrusion" }),
        ),
    ];
    let results = deliver(
        &fixture,
        provider("alerts", ProviderKind::AwsSns { topic_arn: topic }),
        calls,
    );
    assert!(results.iter().all(|r| r.success), "{results:?}");
    let mut bodies = receive(&fixture, &url, 3);
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "intrusion on floor 3",
            r#"{"sensor_type":"motion","event":"intrusion"}"#,
            r#"{"sensor_type":"temperature","value":92}"#,
        ]
    );
}

/// Messages waiting in a queue (moto counts exactly).
fn waiting(fixture: &Fixture, queue_url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages as Waiting;
    let sqs = aws_sdk_sqs::Client::new(&fixture.config);
    let attributes = fixture
        .aws
        .runtime()
        .block_on(
            sqs.get_queue_attributes()
                .queue_url(queue_url)
                .attribute_names(Waiting)
                .send(),
        )
        .unwrap();
    attributes.attributes().unwrap()[&Waiting].parse().unwrap()
}

/// Delivers a call and a chain step of action `id` through `provider`, then replays both as
/// after a restart (the same idempotency keys); every call succeeds.
fn deliver_and_replay(fixture: &Fixture, provider: PlanProvider, id: &str, payload: Value) {
    let delivery = call(&provider.name, id, payload);
    let step = ProviderCall {
        idempotency_key: acteon_engine::chains::step_key(&format!("{id}/processing"), 1),
        ..delivery.clone()
    };
    for _ in 0..2 {
        let calls = vec![delivery.clone(), step.clone()];
        let results = deliver(fixture, provider.clone(), calls);
        assert!(results.iter().all(|r| r.success), "{results:?}");
    }
}

/// A new bucket and a client for it.
fn create_bucket(fixture: &Fixture, prefix: &str) -> (aws_sdk_s3::Client, String) {
    let s3 = acteon_aws::s3_client(&fixture.config);
    let bucket = unique(prefix);
    fixture
        .aws
        .runtime()
        .block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    (s3, bucket)
}

#[test]
fn replayed_calls_are_queued_once_by_fifo_queues_and_topics() {
    let fixture = fixture();
    let (queue, _) = create_queue(&fixture, &format!("{}.fifo", unique("replay")));
    let kind = ProviderKind::AwsSqs {
        queue_url: queue.clone(),
    };
    let group = json!({ "message_group_id": "g" });
    deliver_and_replay(&fixture, provider("orders", kind), "o1", group.clone());
    assert_eq!(waiting(&fixture, &queue), 2, "one message per effect");

    let (topic, copy) = topic_with_queue(&fixture, ".fifo");
    let kind = ProviderKind::AwsSns { topic_arn: topic };
    deliver_and_replay(&fixture, provider("alerts", kind), "t1", group);
    assert_eq!(waiting(&fixture, &copy), 2, "one notification per effect");
}

#[test]
fn replayed_calls_overwrite_their_s3_objects() {
    let fixture = fixture();
    let (s3, bucket) = create_bucket(&fixture, "replay");
    let kind = ProviderKind::AwsS3 {
        bucket: bucket.clone(),
        object_prefix: None,
    };
    deliver_and_replay(
        &fixture,
        provider("archive", kind),
        "r1",
        json!({ "value": 3 }),
    );
    let listed = fixture
        .aws
        .runtime()
        .block_on(s3.list_objects_v2().bucket(&bucket).send())
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        [
            "iot/smartbuilding-hq/sensor_reading/r1.json",
            "iot/smartbuilding-hq/sensor_reading/r1/processing#1.json",
        ]
    );
}

#[test]
fn eventbridge_events_reach_a_rule_targeting_a_queue() {
    let fixture = fixture();
    let events = aws_sdk_eventbridge::Client::new(&fixture.config);
    let (url, arn) = create_queue(&fixture, &unique("bus-copy"));
    let bus = unique("bus");
    fixture.aws.runtime().block_on(async {
        events.create_event_bus().name(&bus).send().await.unwrap();
        events
            .put_rule()
            .name("everything-from-acteon")
            .event_bus_name(&bus)
            .event_pattern(r#"{"source": ["acteon", "acteon.iot"]}"#)
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule("everything-from-acteon")
            .event_bus_name(&bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("copy")
                    .arn(&arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });
    let mut lifecycle = call(
        "bus",
        "l1",
        json!({ "device_id": "temp-sensor-301", "event": "online" }),
    );
    lifecycle.action_type = "device_lifecycle".into();
    let calls = vec![
        lifecycle,
        call(
            "bus",
            "c1",
            json!({ "source": "acteon.iot", "detail_type": "CriticalAlert", "detail": { "value": 92 } }),
        ),
    ];
    let results = deliver(
        &fixture,
        provider(
            "bus",
            ProviderKind::AwsEventbridge {
                event_bus_name: bus,
            },
        ),
        calls,
    );
    assert!(
        results
            .iter()
            .all(|r| r.success && r.body["event_id"].is_string()),
        "{results:?}"
    );
    let mut seen: Vec<(String, String, Value)> = receive(&fixture, &url, 2)
        .iter()
        .map(|b| {
            let event: Value = serde_json::from_str(b).unwrap();
            (
                event["source"].as_str().unwrap().to_owned(),
                event["detail-type"].as_str().unwrap().to_owned(),
                event["detail"].clone(),
            )
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            (
                "acteon".into(),
                "device_lifecycle".into(),
                json!({ "device_id": "temp-sensor-301", "event": "online" })
            ),
            (
                "acteon.iot".into(),
                "CriticalAlert".into(),
                json!({ "value": 92 })
            ),
        ]
    );
}

#[test]
fn s3_objects_read_back_with_their_type_and_metadata() {
    let fixture = fixture();
    let (s3, bucket) = create_bucket(&fixture, "telemetry");
    let calls = vec![
        call("archive", "r1", json!({ "value": 3 })),
        call(
            "archive",
            "r2",
            json!({ "key": "reports/a.csv", "body": "a,b\n1,2\n", "content_type": "text/csv", "metadata": { "source": "acteon" } }),
        ),
    ];
    let kind = ProviderKind::AwsS3 {
        bucket: bucket.clone(),
        object_prefix: Some("raw/".into()),
    };
    let results = deliver(&fixture, provider("archive", kind), calls);
    assert!(results.iter().all(|r| r.success), "{results:?}");
    assert_eq!(
        results[0].body["key"],
        "raw/iot/smartbuilding-hq/sensor_reading/r1.json"
    );
    fixture.aws.runtime().block_on(async {
        let plain = s3
            .get_object()
            .bucket(&bucket)
            .key("raw/iot/smartbuilding-hq/sensor_reading/r1.json")
            .send()
            .await
            .unwrap();
        assert_eq!(plain.content_type(), Some("application/json"));
        assert_eq!(
            plain.body.collect().await.unwrap().into_bytes().as_ref(),
            br#"{"value":3}"#
        );
        let csv = s3
            .get_object()
            .bucket(&bucket)
            .key("raw/reports/a.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(csv.content_type(), Some("text/csv"));
        assert_eq!(csv.metadata().unwrap()["source"], "acteon");
        assert_eq!(
            csv.body.collect().await.unwrap().into_bytes().as_ref(),
            b"a,b\n1,2\n"
        );
    });
}

#[test]
fn lambda_results_are_the_parsed_body_and_function_errors_fail() {
    let fixture = fixture();
    seed_resources();
    let detector = ProviderKind::AwsLambda {
        function_name: "anomaly-detector".into(),
        qualifier: None,
    };
    let calls = vec![
        call(
            "detector",
            "hot",
            json!({ "device_id": "d1", "sensor_type": "temperature", "value": "92" }),
        ),
        call(
            "detector",
            "fine",
            json!({ "device_id": "d2", "sensor_type": "humidity", "value": 45 }),
        ),
        call("detector", "broken", json!(["not", "an", "object"])),
    ];
    let results = deliver(&fixture, provider("detector", detector), calls);
    assert_eq!(results[0].body["anomaly"], json!(true), "{results:?}");
    assert_eq!(results[1].body["anomaly"], json!(false));
    assert!(results[0].success && results[1].success);
    assert!(!results[2].success);
    assert_eq!(results[2].attempts, 1, "a function error is not retried");
    assert!(
        results[2]
            .error
            .as_deref()
            .unwrap()
            .contains("AttributeError"),
        "{:?}",
        results[2]
    );

    let normalizer = ProviderKind::AwsLambda {
        function_name: "telemetry-normalizer".into(),
        qualifier: None,
    };
    let results = deliver(
        &fixture,
        provider("normalizer", normalizer),
        vec![call("normalizer", "n", json!({ "value": "72" }))],
    );
    assert_eq!(results[0].body["logged"], json!(true));
    assert_eq!(results[0].body["schema_version"], json!("1.0"));
}

#[test]
fn client_errors_are_final_and_connection_errors_are_retried() {
    let fixture = fixture();
    let missing = ProviderKind::AwsSqs {
        queue_url: format!("{ENDPOINT}/000000000000/{}", unique("missing")),
    };
    let results = deliver(
        &fixture,
        provider("missing", missing),
        vec![call("missing", "x", json!({}))],
    );
    assert!(!results[0].success);
    assert_eq!(results[0].attempts, 1, "{results:?}");

    // Nothing listens on port 9 of the loopback interface: connection refused.
    let refused = PlanProvider {
        name: "down".into(),
        kind: ProviderKind::AwsSns {
            topic_arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
        },
        aws: Some(AwsConnection {
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            ..AwsConnection::default()
        }),
    };
    let results = deliver(&fixture, refused, vec![call("down", "x", json!({}))]);
    assert!(!results[0].success);
    assert_eq!(
        results[0].attempts,
        Policy::default().max_attempts,
        "{results:?}"
    );
    assert!(
        results[0]
            .error
            .as_deref()
            .unwrap()
            .contains("dispatch failure"),
        "{results:?}"
    );
}

#[test]
fn the_dynamodb_audit_writes_batches_that_the_query_reads_back() {
    let fixture = fixture();
    let table = unique("audit");
    let dynamodb = aws_sdk_dynamodb::Client::new(&fixture.config);
    fixture.aws.runtime().block_on(async {
        use aws_sdk_dynamodb::types::*;
        dynamodb
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("sk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("sk")
                    .key_type(KeyType::Range)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });
    // In memory and acknowledged once stored: `finish` returns when the table has them.
    let sink = SinkBuffer::start(
        std::sync::Arc::new(fixture.aws.audit_destination(&table, &connection())),
        BufferSettings {
            bound: 1_000,
            storage: Storage::Memory,
            acknowledge: Acknowledge::Durable,
        },
        &Backpressure::new(),
    )
    .unwrap();
    let record = |i: u32, tenant: &str| {
        json!({
            "id": format!("a{i}#0"), "action_id": format!("a{i}"), "namespace": "iot",
            "tenant": tenant, "action_type": "reading", "provider": null, "target": null,
            "rule": null, "outcome": "executed", "details": {},
            "payload": { "queue_url": "[REDACTED]", "n": i }, "chain_id": null,
            "dispatched_at": format!("2026-11-28T09:{:02}:00.000Z", i % 60),
            "completed_at": format!("2026-11-28T09:{:02}:00.000Z", i % 60),
            "duration_ms": 0, "expires_at": "2026-12-05T09:00:00.000Z"
        })
    };
    let write = |record: &serde_json::Value| {
        let line = record.to_string();
        sink.write(&AuditRecord::parse(&line).unwrap(), line.as_bytes());
    };
    for i in 0..60 {
        write(&record(i, if i % 3 == 0 { "other" } else { "hq" }));
    }
    sink.finish().unwrap();

    let audit = fixture.aws.audit_table(&table, &connection());
    let range = (
        Some("2026-11-28T09:10:00.000Z"),
        Some("2026-11-28T09:29:00.000Z"),
    );
    let records = fixture
        .aws
        .runtime()
        .block_on(audit.query_pages("iot", "hq", range, 7, 10))
        .unwrap();
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["action_id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (10..30)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("a{i}"))
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(records[0], record(10, "hq"));

    // Decided again after a restart on the processing clock: the same record ids, later
    // `dispatched_at`s. Those already written are not written again; a new one is.
    for i in 0..62 {
        let mut again = record(i, if i % 3 == 0 { "other" } else { "hq" });
        again["dispatched_at"] = json!(format!("2026-11-28T10:{:02}:00.000Z", i % 60));
        write(&again);
    }
    sink.finish().unwrap();
    // Every record of the tenant, in time order.
    let tenant_records = || {
        fixture
            .aws
            .runtime()
            .block_on(audit.query_pages("iot", "hq", (None, None), 100, 10))
            .unwrap()
    };
    let records = tenant_records();
    let replayed: Vec<&str> = records
        .iter()
        .filter(|r| {
            r["dispatched_at"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-28T10")
        })
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(replayed, ["a61#0"], "only the new record is written");
    assert_eq!(records.len(), 41, "every record of the tenant once");

    // The same action id delivered twice (two input positions): two decisions, two record
    // ids, both kept; replayed, neither is written twice.
    let twice = |line: u32| {
        let mut record = record(100, "hq");
        record["id"] = json!(format!("dup@L{line}#0"));
        record["action_id"] = json!("dup");
        record["dispatched_at"] = json!(format!("2026-11-28T11:00:0{line}.000Z"));
        record
    };
    for _ in 0..2 {
        write(&twice(1));
        write(&twice(2));
        sink.finish().unwrap();
    }
    let records = tenant_records();
    let dup: Vec<&str> = records
        .iter()
        .filter(|r| r["action_id"] == "dup")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(dup, ["dup@L1#0", "dup@L2#0"]);
}
