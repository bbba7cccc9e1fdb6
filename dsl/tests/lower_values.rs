//! Lowering of conditions, defaults and paths, on small scripts.

use acteon_dsl::plan::{Comparison, Condition, Plan, Source};
use serde_json::json;
use std::path::Path;

fn plan(text: &str) -> Plan {
    let compiled = acteon_dsl::compile_str(Path::new("dir/script.acteon"), text);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.unwrap()
}

/// Lowers without checking: lowering must not panic on what the checker would refuse.
fn unchecked_plan(text: &str) -> Plan {
    acteon_dsl::lower::lower(&acteon_dsl::load::load_str(
        Path::new("dir/script.acteon"),
        text,
    ))
}

fn condition(expr: &str) -> Condition {
    plan(&format!("rule r priority 1 when {expr} then allow")).rules[0]
        .condition
        .clone()
        .unwrap()
}

fn leaves(condition: &Condition) -> usize {
    match condition {
        Condition::All { of } | Condition::Any { of } => of.iter().map(leaves).sum(),
        Condition::Not { of } => leaves(of),
        _ => 1,
    }
}

#[test]
fn connectives_flatten_and_parentheses_vanish() {
    let Condition::All { of } = condition(
        "payload.a exists and (payload.b exists and (payload.c exists)) and payload.d exists",
    ) else {
        panic!()
    };
    assert_eq!(of.len(), 4);
    assert!(of.iter().all(|c| matches!(c, Condition::Exists { .. })));

    let Condition::Any { of } = condition(
        "(payload.a exists or payload.b exists) or (payload.c exists and payload.d exists)",
    ) else {
        panic!()
    };
    assert_eq!(of.len(), 3);
    assert!(matches!(&of[2], Condition::All { of } if of.len() == 2));

    let Condition::Not { of } = condition("not (not payload.a exists)") else {
        panic!()
    };
    assert!(matches!(*of, Condition::Not { .. }));
    assert_eq!(
        leaves(&condition(
            "payload.a exists or (payload.b exists and not (payload.c exists or payload.d exists))"
        )),
        4
    );
}

#[test]
fn durations_in_conditions_are_milliseconds() {
    assert_eq!(
        condition("payload.age >= 5m"),
        Condition::Compare {
            field: acteon_dsl::plan::Operand::Field(acteon_dsl::plan::FieldPath {
                root: acteon_dsl::plan::FieldRoot::Payload,
                segments: vec![acteon_dsl::plan::PathSegment::Key("age".into())],
            }),
            cmp: Comparison::Ge,
            value: json!(300_000),
        }
    );
    let Condition::In { values, .. } = condition("payload.x in [\"a\", 2, 1s]") else {
        panic!()
    };
    assert_eq!(values, [json!("a"), json!(2), json!(1000)]);
    let Condition::Matches { pattern, .. } = condition(r"id matches /^a\/b$/") else {
        panic!()
    };
    assert_eq!(pattern, "^a/b$");
}

#[test]
fn a_test_on_an_unknown_root_matches_nothing() {
    // The checker refuses it (E0105); lowering unchecked input must still not panic.
    let plan = unchecked_plan("rule r priority 1 when nope.x exists then allow");
    assert_eq!(plan.rules[0].condition, Some(Condition::Any { of: vec![] }));
}

#[test]
fn defaults_fill_what_is_not_written() {
    let plan = plan(
        "provider p log\n\
         provider q aws-s3 { bucket = \"b\" }\n\
         breakers { enabled = false }\n\
         chain c { step s call p t { \"a\": 1 } retry 2 }\n\
         source file \"in.jsonl\"\n",
    );
    assert_eq!(plan.chains[0].timeout_ms, 300_000);
    let retry = plan.chains[0].steps[0].retry.unwrap();
    assert_eq!((retry.max, retry.backoff_ms), (2, 1_000));
    assert_eq!(plan.breakers.len(), 2);
    assert!(plan
        .breakers
        .iter()
        .all(|b| !b.enabled && b.failure_threshold == 5));
    assert_eq!(
        plan.source,
        Source::File {
            path: "dir/in.jsonl".into()
        }
    );
    assert_eq!(plan.audit, Default::default());
    assert_eq!(plan.background, Default::default());
    assert!(plan.provider("q").unwrap().aws.is_some());
}

#[test]
fn inline_test_actions_are_compact_json_with_their_time() {
    // An unknown outcome is refused by the checker (E0601); unchecked, lowering drops it.
    let plan = unchecked_plan(
        "test \"t\" {\n  action at \"2026-11-28T09:00:00Z\" { \"id\": \"t1\", \"payload\": { \"v\": 1 } }\n  expect \"t1\" executed\n  expect \"t1\" no_such_outcome\n}\n",
    );
    let test = &plan.tests[0];
    assert_eq!(
        test.actions[0].line,
        r#"{"id":"t1","payload":{"v":1},"created_at":"2026-11-28T09:00:00Z"}"#
    );
    assert_eq!(test.file, "dir/script.acteon");
    assert_eq!(test.expectations.len(), 1);
}

const KAFKA_PROVIDER: &str = r#"provider alerts-topic kafka {
  brokers = ["127.0.0.1:9092", "broker-2:9093"]
  topic = "building.alerts"
  key = payload."device id"
  properties = { "security.protocol": "PLAINTEXT" }
}
provider by-id kafka { brokers = ["127.0.0.1:9092"] topic = "t" }
provider by-tenant kafka { brokers = ["127.0.0.1:9092"] topic = "t" key = tenant }
rule critical priority 1 when payload.value > 90 then reroute alerts-topic
"#;

#[test]
fn a_kafka_provider_lowers_with_its_key_path_and_properties() {
    use acteon_dsl::plan::{FieldPath, FieldRoot, PathSegment, ProviderKind};
    let plan = plan(KAFKA_PROVIDER);
    let kinds: Vec<&ProviderKind> = plan.providers.iter().map(|p| &p.kind).collect();
    assert_eq!(
        kinds[0],
        &ProviderKind::Kafka {
            brokers: vec!["127.0.0.1:9092".into(), "broker-2:9093".into()],
            topic: "building.alerts".into(),
            key: Some(FieldPath {
                root: FieldRoot::Payload,
                segments: vec![PathSegment::Key("device id".into())],
            }),
            properties: [("security.protocol".into(), "PLAINTEXT".into())].into(),
        }
    );
    assert!(matches!(kinds[1], ProviderKind::Kafka { key: None, .. }));
    assert!(matches!(
        kinds[2],
        ProviderKind::Kafka { key: Some(FieldPath { root: FieldRoot::Tenant, segments }), .. }
            if segments.is_empty()
    ));
    assert!(plan.providers.iter().all(|p| p.aws.is_none()));
    assert_eq!(kinds[0].type_name(), "kafka");
}

#[test]
fn a_kafka_provider_formats_to_a_fixed_point_with_the_same_plan() {
    use acteon_dsl::source::FileId;
    let path = Path::new("dir/script.acteon");
    let file = acteon_dsl::syntax::parse(FileId(0), path, KAFKA_PROVIDER).unwrap();
    let once = acteon_dsl::fmt::format(&file, KAFKA_PROVIDER);
    assert!(once.contains("key = payload.\"device id\""), "{once}");
    let reparsed = acteon_dsl::syntax::parse(FileId(0), path, &once).unwrap();
    assert_eq!(acteon_dsl::fmt::format(&reparsed, &once), once);
    // Rules' origin lines move with the layout; the providers are what this is about.
    assert_eq!(plan(&once).providers, plan(KAFKA_PROVIDER).providers);
}

#[test]
fn explain_names_the_kafka_provider_type() {
    let graph = acteon_dsl::explain::mermaid(&plan(KAFKA_PROVIDER));
    assert!(graph.contains("alerts-topic (kafka)"), "{graph}");
}
