//! Plans for the engine's tests, written as the plan the compiler would lower them to.
#![allow(dead_code)]

use acteon_dsl::plan::*;
use serde_json::{json, Value};

pub fn field(path: &str) -> FieldPath {
    let mut parts = path.split('.');
    let root = FieldRoot::from_name(parts.next().unwrap()).unwrap();
    FieldPath {
        root,
        segments: parts.map(|p| PathSegment::Key(p.to_owned())).collect(),
    }
}

pub fn eq(path: &str, value: Value) -> Condition {
    Condition::Compare {
        field: field(path).into(),
        cmp: Comparison::Eq,
        value,
    }
}

pub fn rule(name: &str, priority: i64, condition: Option<Condition>, action: RuleAction) -> Rule {
    Rule {
        name: name.to_owned(),
        priority,
        scope: Scope {
            namespace: Some("iot".into()),
            tenant: Some("smartbuilding-hq".into()),
        },
        condition,
        action,
        origin: Origin::default(),
    }
}

pub fn provider(name: &str, kind: ProviderKind) -> Provider {
    Provider {
        name: name.to_owned(),
        kind,
        aws: None,
    }
}

/// The seed pipeline's rules and providers, in evaluation order.
pub fn seed_plan() -> Plan {
    let sensor = || eq("action_type", json!("sensor_reading"));
    let rules = vec![
        rule(
            "suppress-test-devices",
            1,
            Some(eq("payload.environment", json!("test"))),
            RuleAction::Suppress,
        ),
        rule(
            "deny-unsigned-firmware",
            1,
            Some(Condition::All {
                of: vec![
                    eq("action_type", json!("firmware_update")),
                    eq("payload.signed", json!(false)),
                ],
            }),
            RuleAction::Deny,
        ),
        rule(
            "dedup-sensor-readings",
            2,
            Some(sensor()),
            RuleAction::Dedup {
                ttl_ms: 60_000,
                by: None,
            },
        ),
        rule(
            "throttle-telemetry",
            3,
            None,
            RuleAction::Throttle {
                limit: 30,
                window_ms: 60_000,
                by: None,
            },
        ),
        rule(
            "group-humidity-readings",
            4,
            Some(eq("payload.sensor_type", json!("humidity"))),
            RuleAction::Group {
                by: vec![field("payload.floor")],
                wait_ms: 30_000,
                max: None,
                to: None,
            },
        ),
        rule(
            "schedule-energy-reports",
            4,
            Some(eq("payload.sensor_type", json!("energy"))),
            RuleAction::Schedule { delay_ms: 60_000 },
        ),
        rule(
            "critical-temperature-alert",
            5,
            Some(Condition::All {
                of: vec![
                    eq("payload.sensor_type", json!("temperature")),
                    Condition::Compare {
                        field: field("payload.value").into(),
                        cmp: Comparison::Gt,
                        value: json!(85),
                    },
                ],
            }),
            RuleAction::Reroute {
                provider: "alert-fanout".into(),
            },
        ),
        rule(
            "intrusion-alert",
            6,
            Some(Condition::All {
                of: vec![
                    eq("payload.sensor_type", json!("motion")),
                    eq("payload.event", json!("intrusion")),
                ],
            }),
            RuleAction::Reroute {
                provider: "alert-fanout".into(),
            },
        ),
        rule(
            "chain-sensor-readings",
            10,
            Some(sensor()),
            RuleAction::Chain {
                chain: "telemetry-processing".into(),
            },
        ),
        rule(
            "lifecycle-to-eventbridge",
            12,
            Some(eq("action_type", json!("device_lifecycle"))),
            RuleAction::Reroute {
                provider: "event-bus".into(),
            },
        ),
        rule(
            "firmware-to-sqs",
            14,
            Some(eq("action_type", json!("firmware_update"))),
            RuleAction::Reroute {
                provider: "metrics-queue".into(),
            },
        ),
        rule(
            "enrich-telemetry-metadata",
            16,
            None,
            RuleAction::Modify {
                patch: json!({ "pipeline_version": "2.0.0", "building_zone": "main-campus" }),
                rows: Vec::new(),
            },
        ),
        rule("allow-remaining", 20, None, RuleAction::Allow),
        rule("deny-unmatched", 100, None, RuleAction::Suppress),
    ];
    let sqs = |name: &str| {
        provider(
            name,
            ProviderKind::AwsSqs {
                queue_url: format!("http://127.0.0.1:4566/000000000000/{name}"),
            },
        )
    };
    Plan {
        providers: vec![
            provider(
                "alert-fanout",
                ProviderKind::AwsSns {
                    topic_arn: "arn:aws:sns:us-east-1:000000000000:building-alerts".into(),
                },
            ),
            provider(
                "event-bus",
                ProviderKind::AwsEventbridge {
                    event_bus_name: "building-events".into(),
                },
            ),
            sqs("metrics-queue"),
            sqs("dead-letter-queue"),
            provider("local-fallback", ProviderKind::Log),
        ],
        rules,
        quotas: vec![Quota {
            namespace: Some("iot".into()),
            tenant: "smartbuilding-hq".into(),
            limit: 500,
            window_ms: 3_600_000,
            on_exceed: QuotaExceed::Block,
        }],
        ..Plan::default()
    }
}

pub fn telemetry() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pipelines/aws-event-pipeline/telemetry.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A run over `lines` in memory with `workers` workers, its audit kept.
pub fn memory_run(plan: &Plan, lines: Vec<String>, workers: usize) -> acteon_engine::RunReport {
    acteon_engine::run(
        plan,
        acteon_engine::RunConfig {
            input: acteon_engine::Input::Lines(lines),
            workers,
            audit: acteon_engine::AuditOutput::Memory,
            ..acteon_engine::RunConfig::default()
        },
    )
    .unwrap()
}
