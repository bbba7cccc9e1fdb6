//! The audit path as the engine drives it: a decision rendered on a worker (redacted, its
//! expiry stamped), written in order, read back, and kept in the store the API reads.

use acteon_dsl::plan::{Audit, Outcome, Plan};
use acteon_engine::action::{Action, Metadata, Position};
use acteon_engine::audit::record::{AuditRecord, AuditTtl, Details};
use acteon_engine::audit::redact::Redactor;
use acteon_engine::audit::sink::JsonLinesWriter;
use acteon_engine::audit::store::{AuditQuery, AuditStore};
use acteon_engine::eval::Evaluator;
use acteon_engine::operators::{Decision, Flow, Renderer};
use acteon_engine::provider::CallResult;
use acteon_engine::time::Clock;
use serde_json::json;
use std::sync::Arc;

fn seed_plan() -> Plan {
    Plan {
        audit: Audit {
            ttl_ms: Some(604_800_000),
            redact: vec![
                "aws_role_arn".into(),
                "function_arn".into(),
                "queue_url".into(),
            ],
            ..Audit::default()
        },
        ..Plan::default()
    }
}

fn decision(n: u32) -> Decision {
    let action = Action {
        id: format!("a{n}").into(),
        namespace: "iot".into(),
        tenant: "smartbuilding-hq".into(),
        action_type: "sensor_reading".into(),
        provider: Some("metrics-queue".into()),
        payload: json!({ "device": { "Function_Arn": "arn:aws:lambda:x" }, "value": n }).into(),
        metadata: Metadata::default(),
        dedup_key: None,
        created_at: None,
        event_time_ms: 1_795_856_400_000 + i64::from(n) * 1000,
        position: Position::Line(u64::from(n) + 1),
        rows: Default::default(),
    };
    Decision {
        flow: Flow::new(action),
        rule: None,
        outcome: Outcome::Executed,
        target: Some("metrics-queue".into()),
        details: Details::new(),
        deliver: true,
    }
}

#[test]
fn records_reach_the_file_and_the_store_redacted_and_expiring() {
    let plan = seed_plan();
    let renderer = Renderer {
        evaluator: Arc::new(Evaluator::new(&plan)),
        clock: Clock::Event,
        store_payload: true,
        redactor: Redactor::new(&plan.audit),
        ttl: AuditTtl::new(&plan),
        keep_records: true,
        answers: None,
    };
    let result = CallResult {
        success: true,
        body: json!({ "QueueUrl": "kept", "queue_url": "https://sqs/q" }),
        error: None,
        attempts: 1,
        duration_ms: 10,
        delivered_by: None,
        failed_over: None,
    };
    let entries: Vec<_> = (0..3)
        .map(|n| renderer.render(decision(n), Some(&result), 0, 0))
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut writer = JsonLinesWriter::create(&path).unwrap();
    for entry in &entries {
        writer.write_line(&entry.line).unwrap();
    }
    writer.finish().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let read: Vec<AuditRecord> = text
        .lines()
        .map(|l| AuditRecord::parse(l).unwrap())
        .collect();
    let lines: Vec<String> = read.iter().map(AuditRecord::to_line).collect();
    assert_eq!(
        lines,
        text.lines().collect::<Vec<_>>(),
        "a line reads back whole"
    );
    let first = read[0].to_json();
    assert_eq!(
        first["payload"],
        json!({ "device": { "Function_Arn": "[REDACTED]" }, "value": 0 })
    );
    assert_eq!(
        first["details"]["delivery"]["response"],
        json!({ "QueueUrl": "kept", "queue_url": "[REDACTED]" })
    );
    assert_eq!(
        read[2].to_json()["expires_at"],
        json!("2026-12-05T09:00:02.000Z")
    );
    assert_eq!(
        entries[0].record.as_deref(),
        Some(&read[0]),
        "the typed record is the line's"
    );

    let store = AuditStore::new();
    store.append(read);
    let page = store
        .query(&AuditQuery {
            namespace: Some("iot".into()),
            tenant: Some("smartbuilding-hq".into()),
            outcome: Some(Outcome::Executed),
            limit: Some(2),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(page.records.len(), 2);
    let page_json = serde_json::to_value(&page).unwrap();
    assert_eq!(
        page_json["next_cursor"],
        json!(page.next_cursor.clone().unwrap())
    );
    assert_eq!(page_json["records"][0]["payload"], first["payload"]);
}
