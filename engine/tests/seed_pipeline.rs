//! The seed pipeline over its sample telemetry gives the seed's Expected Outcomes.

mod common;

use acteon_dsl::plan::Outcome;
use acteon_engine::report::View;
use acteon_engine::{run, AuditOutput, Input, RunConfig};

#[test]
fn seed_telemetry_gives_the_expected_outcomes() {
    let plan = common::seed_plan();
    let report = run(
        &plan,
        RunConfig {
            input: Input::Lines(common::telemetry()),
            audit: AuditOutput::Memory,
            ..RunConfig::default()
        },
    )
    .unwrap();
    for record in &report.audit {
        eprintln!(
            "{} {} {:?} {:?} {}",
            record.action_id,
            record.outcome.name(),
            record.target,
            record.rule,
            record.details.to_json()
        );
    }
    let has = |id: &str, outcome: Outcome, target: Option<&str>, rule: Option<&str>| {
        report.audit.iter().any(|r| {
            (&*r.action_id == id
                || r.details.to_json()["members"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|m| m == id)))
                && r.outcome == outcome
                && target.is_none_or(|t| r.target.as_deref() == Some(t))
                && rule.is_none_or(|n| r.rule.as_deref() == Some(n))
        })
    };
    for id in ["temp-crit-001", "temp-crit-002"] {
        assert!(
            has(
                id,
                Outcome::Rerouted,
                Some("alert-fanout"),
                Some("critical-temperature-alert")
            ),
            "{id}"
        );
    }
    for id in ["motion-001", "motion-002"] {
        assert!(
            has(
                id,
                Outcome::Rerouted,
                Some("alert-fanout"),
                Some("intrusion-alert")
            ),
            "{id}"
        );
    }
    for id in [
        "temp-norm-001",
        "temp-norm-002",
        "temp-norm-003",
        "energy-001",
        "energy-002",
        "rapid-1",
        "rapid-2",
        "rapid-3",
        "dup-temp-001",
    ] {
        assert!(
            has(
                id,
                Outcome::ChainStarted,
                None,
                Some("chain-sensor-readings")
            ),
            "{id}"
        );
    }
    for id in ["humid-000", "humid-001", "humid-002"] {
        assert!(
            has(id, Outcome::Grouped, None, Some("group-humidity-readings")),
            "{id}"
        );
        assert!(
            has(id, Outcome::GroupFlushed, Some("metrics-queue"), None),
            "{id}"
        );
    }
    let flushed: Vec<_> = report
        .audit
        .iter()
        .filter(|r| r.outcome == Outcome::GroupFlushed)
        .collect();
    assert_eq!(flushed.len(), 2);
    let sizes: Vec<_> = flushed
        .iter()
        .map(|r| {
            (
                r.details.to_json()["group_values"][0].clone(),
                r.details.to_json()["size"].clone(),
            )
        })
        .collect();
    assert!(
        sizes.contains(&(serde_json::json!("2"), serde_json::json!(2))),
        "{sizes:?}"
    );
    assert!(
        sizes.contains(&(serde_json::json!("3"), serde_json::json!(1))),
        "{sizes:?}"
    );
    for id in ["energy-001", "energy-002"] {
        assert!(
            has(
                id,
                Outcome::Scheduled,
                None,
                Some("schedule-energy-reports")
            ),
            "{id}"
        );
    }
    assert!(has(
        "dup-temp-002",
        Outcome::Deduplicated,
        None,
        Some("dedup-sensor-readings")
    ));
    for id in ["test-dev-001", "test-dev-002"] {
        assert!(
            has(id, Outcome::Suppressed, None, Some("suppress-test-devices")),
            "{id}"
        );
    }
    assert!(has(
        "lifecycle-001",
        Outcome::Rerouted,
        Some("event-bus"),
        Some("lifecycle-to-eventbridge")
    ));
    assert!(has(
        "firmware-001",
        Outcome::Denied,
        None,
        Some("deny-unsigned-firmware")
    ));
    assert!(!report.audit.iter().any(|r| r.outcome == Outcome::Throttled));
    let calls = |p: &str| report.calls.iter().filter(|c| c.provider == p).count();
    assert_eq!(calls("alert-fanout"), 4);
    assert_eq!(calls("event-bus"), 1);
    assert_eq!(calls("metrics-queue"), 2);
    assert_eq!(report.inputs, 21);
    let rerouted = report
        .views
        .count(View::Tenant, "smartbuilding-hq", Outcome::Rerouted);
    assert_eq!(rerouted, 5);
}

/// The script's own test (the seed's Expected Outcomes table) passes through `run_test`.
#[test]
fn the_compiled_seed_scripts_pass_their_expected_outcomes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/aws-event-pipeline/expected-outcomes.acteon");
    let compiled = acteon_dsl::compile_file(&path);
    let plan = compiled.plan.expect("the seed scripts compile");
    assert_eq!(plan.tests.len(), 1);
    for test in &plan.tests {
        let outcome = acteon_engine::run_test(&plan, test);
        assert!(outcome.passed, "{}: {:#?}", outcome.name, outcome.failures);
    }
}
