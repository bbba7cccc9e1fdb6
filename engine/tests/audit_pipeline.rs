//! The audit path as the engine drives it: redact, stamp the expiry, render on a worker, write
//! in order, and keep in the store the API reads.

use acteon_dsl::plan::{Audit, Outcome, Plan};
use acteon_engine::audit::record::{AuditRecord, AuditTtl};
use acteon_engine::audit::redact::Redactor;
use acteon_engine::audit::sink::{render, JsonLinesWriter};
use acteon_engine::audit::store::{AuditQuery, AuditStore};
use serde_json::json;

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

fn record(n: u32, outcome: Outcome) -> AuditRecord {
    AuditRecord {
        id: format!("r{n}"),
        action_id: format!("a{n}"),
        namespace: "iot".into(),
        tenant: "smartbuilding-hq".into(),
        action_type: "sensor_reading".into(),
        provider: Some("metrics-queue".into()),
        target: Some("metrics-queue".into()),
        rule: None,
        outcome,
        details: json!({ "delivery": { "attempts": 1,
            "response": { "QueueUrl": "kept", "queue_url": "https://sqs/q" }, "error": null } }),
        payload: Some(json!({ "device": { "Function_Arn": "arn:aws:lambda:x" }, "value": n })),
        chain_id: None,
        dispatched_at: format!("2026-11-28T09:00:0{n}.000Z"),
        completed_at: format!("2026-11-28T09:00:0{n}.010Z"),
        duration_ms: 10,
        expires_at: None,
    }
}

#[test]
fn records_reach_the_file_and_the_store_redacted_and_expiring() {
    let plan = seed_plan();
    let redactor = Redactor::new(&plan.audit);
    let ttl = AuditTtl::new(&plan);
    let records: Vec<AuditRecord> = (0..3)
        .map(|n| {
            let mut record = record(n, Outcome::Executed);
            redactor.redact_record(&mut record);
            record.expires_at = ttl.expires_at(&record);
            record
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut writer = JsonLinesWriter::create(&path).unwrap();
    for line in records.iter().map(render) {
        writer.write_line(&line).unwrap();
    }
    writer.finish().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let read: Vec<AuditRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(read, records);
    assert_eq!(
        read[0].payload,
        Some(json!({ "device": { "Function_Arn": "[REDACTED]" }, "value": 0 }))
    );
    assert_eq!(
        read[0].details["delivery"]["response"],
        json!({ "QueueUrl": "kept", "queue_url": "[REDACTED]" })
    );
    assert_eq!(
        read[2].expires_at.as_deref(),
        Some("2026-12-05T09:00:02.000Z")
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
}
