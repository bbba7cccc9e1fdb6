//! The seed pipeline compiles, and its plan keeps the order and values the scripts say.

use acteon_dsl::plan::{
    BranchField, BranchOp, Breaker, Condition, Expectation, Outcome, Plan, ProviderKind,
    RuleAction, Scope, Source, StartOffset, StepRun,
};
use acteon_dsl::{compile_file, syntax};
use std::path::{Path, PathBuf};

fn seed(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/aws-event-pipeline")
        .join(file)
}

fn seed_plan() -> Plan {
    let compiled = compile_file(seed("pipeline.acteon"));
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.expect("a plan")
}

#[test]
fn every_seed_file_parses() {
    let dir = seed("");
    let mut parsed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "acteon") {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = syntax::parse(acteon_dsl::source::FileId(0), &path, &text);
            assert!(file.is_ok(), "{}: {:?}", path.display(), file.err());
            parsed += 1;
        }
    }
    assert_eq!(parsed, 5);
}

#[test]
fn rules_run_by_priority_with_ties_in_source_order() {
    let plan = seed_plan();
    let names: Vec<&str> = plan.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "suppress-test-devices",
            "deny-unsigned-firmware",
            "dedup-sensor-readings",
            "throttle-telemetry",
            "group-humidity-readings",
            "schedule-energy-reports",
            "critical-temperature-alert",
            "intrusion-alert",
            "chain-sensor-readings",
            "lifecycle-to-eventbridge",
            "firmware-to-sqs",
            "enrich-telemetry-metadata",
            "allow-remaining",
            "deny-unmatched",
        ]
    );
}

#[test]
fn rules_carry_scope_origin_and_lowered_actions() {
    let plan = seed_plan();
    let rule = |name: &str| plan.rules.iter().find(|r| r.name == name).unwrap();
    let scope = Scope {
        namespace: Some("iot".into()),
        tenant: Some("smartbuilding-hq".into()),
    };
    assert!(plan.rules.iter().all(|r| r.scope == scope));

    let dedup = rule("dedup-sensor-readings");
    assert_eq!(
        dedup.action,
        RuleAction::Dedup {
            ttl_ms: 60_000,
            by: None
        }
    );
    assert!(dedup
        .origin
        .file
        .ends_with("aws-event-pipeline/processing.acteon"));
    assert_eq!(dedup.origin.line, 5);
    // The attribute sits on the line before; the origin is the `rule` keyword's line.
    assert_eq!(rule("deny-unmatched").origin.line, 18);

    assert_eq!(
        rule("throttle-telemetry").action,
        RuleAction::Throttle {
            limit: 30,
            window_ms: 60_000,
            by: None
        }
    );
    assert!(rule("throttle-telemetry").condition.is_none());
    match &rule("group-humidity-readings").action {
        RuleAction::Group {
            by,
            wait_ms,
            max,
            to,
        } => {
            assert_eq!(by.len(), 1);
            assert_eq!(by[0].to_string(), "payload.floor");
            assert_eq!((*wait_ms, *max, to.as_deref()), (30_000, None, None));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rule("schedule-energy-reports").action,
        RuleAction::Schedule { delay_ms: 60_000 }
    );
    match &rule("critical-temperature-alert").condition {
        Some(Condition::All { of }) => assert_eq!(of.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rule("enrich-telemetry-metadata").action,
        RuleAction::Modify {
            patch: serde_json::json!({"pipeline_version": "2.0.0", "building_zone": "main-campus"}),
            rows: Vec::new(),
        }
    );
}

#[test]
fn breakers_merge_defaults_and_overrides_for_every_provider() {
    let plan = seed_plan();
    let names: Vec<&str> = plan.providers.iter().map(|p| p.name.as_str()).collect();
    let breakers: Vec<&str> = plan.breakers.iter().map(|b| b.provider.as_str()).collect();
    assert_eq!(names, breakers);
    let breaker = |name: &str| plan.breakers.iter().find(|b| b.provider == name).unwrap();
    assert_eq!(
        breaker("alert-fanout"),
        &Breaker {
            provider: "alert-fanout".into(),
            enabled: true,
            failure_threshold: 2,
            success_threshold: 1,
            recovery_timeout_ms: 60_000,
            fallback: Some("local-fallback".into()),
        }
    );
    assert_eq!(
        breaker("metrics-queue"),
        &Breaker {
            provider: "metrics-queue".into(),
            enabled: true,
            failure_threshold: 3,
            success_threshold: 1,
            recovery_timeout_ms: 30_000,
            fallback: None,
        }
    );
}

#[test]
fn providers_sources_chains_and_settings_lower() {
    let plan = seed_plan();
    let fanout = plan.provider("alert-fanout").unwrap();
    assert_eq!(
        fanout.kind,
        ProviderKind::AwsSns {
            topic_arn: "arn:aws:sns:us-east-1:000000000000:building-alerts".into()
        }
    );
    let aws = fanout.aws.as_ref().unwrap();
    assert_eq!(aws.region.as_deref(), Some("us-east-1"));
    assert_eq!(aws.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(
        plan.provider("local-fallback").unwrap().kind,
        ProviderKind::Log
    );
    assert!(plan.provider("local-fallback").unwrap().aws.is_none());

    match &plan.source {
        Source::Kafka(kafka) => {
            assert_eq!(kafka.brokers, ["127.0.0.1:9092"]);
            assert_eq!(kafka.topics, ["building-telemetry"]);
            assert_eq!(kafka.group, "acteon-iot");
            assert_eq!(kafka.start, StartOffset::Earliest);
        }
        other => panic!("{other:?}"),
    }

    let chain = plan.chain("telemetry-processing").unwrap();
    assert_eq!(chain.timeout_ms, 300_000);
    let detect = &chain.steps[chain.step_index("detect-anomaly").unwrap()];
    assert_eq!(
        detect.branches[0].field,
        BranchField::Body {
            path: vec![acteon_dsl::plan::PathSegment::Key("anomaly".into())]
        }
    );
    assert_eq!(detect.branches[0].op, BranchOp::Eq);
    assert_eq!(
        detect.branches[0].value,
        Some(serde_json::Value::Bool(true))
    );
    assert_eq!(detect.branches[0].target, "publish-event");
    assert_eq!(detect.default_next.as_deref(), Some("archive-metrics"));
    assert_eq!(
        chain.steps[2].run,
        StepRun::SubChain {
            chain: "critical-alert".into()
        }
    );
    assert_eq!(plan.chain("critical-alert").unwrap().timeout_ms, 120_000);

    assert_eq!(plan.quotas[0].window_ms, 3_600_000);
    assert_eq!(plan.quotas[0].namespace.as_deref(), Some("iot"));
    assert_eq!(plan.retention[0].audit_ms, Some(7 * 86_400_000));
    assert_eq!(plan.retention[0].state_ms, None);
    assert_eq!(plan.recurring[0].tenant, "smartbuilding-hq");
    assert_eq!(plan.recurring[0].provider, "event-bus");
    assert_eq!(plan.audit.ttl_ms, Some(7 * 86_400_000));
    assert_eq!(plan.background.completed_chain_ttl_ms, 3_600_000);
    assert_eq!(plan.background.max_recurring_per_tenant, 10);
    assert!(plan.background.retention_reaper);
}

#[test]
fn expected_outcomes_lower_input_lines_and_expectations() {
    let compiled = compile_file(seed("expected-outcomes.acteon"));
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    let plan = compiled.plan.unwrap();
    assert_eq!(plan.rules.len(), 14);
    let [test] = &plan.tests[..] else {
        panic!("one test expected, got {:?}", plan.tests)
    };
    assert_eq!(test.name, "seed expected outcomes");
    assert_eq!(test.line, 7);
    assert_eq!(test.actions.len(), 21);
    let first_line = std::fs::read_to_string(seed("telemetry.jsonl")).unwrap();
    assert_eq!(test.actions[0].line, first_line.lines().next().unwrap());
    // Every record of every action the table names (its decision, chain steps, group batch),
    // then the provider call counts.
    assert_eq!(test.expectations.len(), 67);
    assert_eq!(
        test.expectations[0],
        Expectation::Outcome {
            action_id: "temp-crit-001".into(),
            outcome: Outcome::Rerouted,
            target: Some("alert-fanout".into()),
            rule: Some("critical-temperature-alert".into()),
        }
    );
    assert_eq!(
        test.expectations[63],
        Expectation::Calls {
            provider: "event-bus".into(),
            count: 1
        }
    );
}

#[test]
fn display_paths_stay_as_the_user_gave_them() {
    // Tests run in the crate directory.
    let compiled = compile_file(Path::new("../pipelines/aws-event-pipeline/pipeline.acteon"));
    let plan = compiled.plan.unwrap();
    assert_eq!(
        plan.rules[0].origin.file,
        "../pipelines/aws-event-pipeline/safety.acteon"
    );
    let files: Vec<String> = compiled
        .program
        .sources
        .files()
        .map(|(_, f)| f.display_path())
        .collect();
    assert_eq!(
        files,
        [
            "../pipelines/aws-event-pipeline/pipeline.acteon",
            "../pipelines/aws-event-pipeline/safety.acteon",
            "../pipelines/aws-event-pipeline/processing.acteon",
            "../pipelines/aws-event-pipeline/routing.acteon",
        ]
    );
}
