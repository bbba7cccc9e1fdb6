//! The seed pipeline over its sample telemetry gives the seed's Expected Outcomes.

mod common;

use acteon_dsl::plan::{Expectation, Outcome};
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
    // Every record of every action, and nothing else: (action, outcome, target, rule).
    let expected: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        (
            "temp-crit-001",
            "rerouted",
            Some("alert-fanout"),
            Some("critical-temperature-alert"),
        ),
        (
            "temp-crit-002",
            "rerouted",
            Some("alert-fanout"),
            Some("critical-temperature-alert"),
        ),
        (
            "motion-001",
            "rerouted",
            Some("alert-fanout"),
            Some("intrusion-alert"),
        ),
        (
            "motion-002",
            "rerouted",
            Some("alert-fanout"),
            Some("intrusion-alert"),
        ),
        (
            "humid-000",
            "grouped",
            None,
            Some("group-humidity-readings"),
        ),
        (
            "humid-000",
            "group_flushed",
            Some("metrics-queue"),
            Some("group-humidity-readings"),
        ),
        (
            "humid-001",
            "grouped",
            None,
            Some("group-humidity-readings"),
        ),
        (
            "humid-001",
            "group_flushed",
            Some("metrics-queue"),
            Some("group-humidity-readings"),
        ),
        (
            "humid-002",
            "grouped",
            None,
            Some("group-humidity-readings"),
        ),
        (
            "humid-002",
            "group_flushed",
            Some("metrics-queue"),
            Some("group-humidity-readings"),
        ),
        (
            "energy-001",
            "scheduled",
            None,
            Some("schedule-energy-reports"),
        ),
        (
            "energy-002",
            "scheduled",
            None,
            Some("schedule-energy-reports"),
        ),
        (
            "dup-temp-002",
            "deduplicated",
            None,
            Some("dedup-sensor-readings"),
        ),
        (
            "test-dev-001",
            "suppressed",
            None,
            Some("suppress-test-devices"),
        ),
        (
            "test-dev-002",
            "suppressed",
            None,
            Some("suppress-test-devices"),
        ),
        (
            "lifecycle-001",
            "rerouted",
            Some("event-bus"),
            Some("lifecycle-to-eventbridge"),
        ),
        (
            "firmware-001",
            "denied",
            None,
            Some("deny-unsigned-firmware"),
        ),
    ];
    // Readings that start the processing chain (this plan declares no chain steps).
    let chained = [
        "temp-norm-001",
        "temp-norm-002",
        "temp-norm-003",
        "energy-001",
        "energy-002",
        "rapid-1",
        "rapid-2",
        "rapid-3",
        "dup-temp-001",
    ];
    let expectations: Vec<Expectation> = expected
        .iter()
        .copied()
        .chain(
            chained
                .iter()
                .map(|id| (*id, "chain_started", None, Some("chain-sensor-readings"))),
        )
        .map(|(action_id, outcome, target, rule)| Expectation::Outcome {
            action_id: action_id.into(),
            outcome: Outcome::from_name(outcome).unwrap(),
            target: target.map(str::to_owned),
            rule: rule.map(str::to_owned),
        })
        .collect();
    assert_eq!(
        acteon_engine::expect::unmet(&expectations, &report),
        Vec::<String>::new()
    );
    let named: std::collections::HashSet<&str> = expectations
        .iter()
        .filter_map(|e| match e {
            Expectation::Outcome { action_id, .. } => Some(action_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(named.len(), 21, "every action of the telemetry is expected");
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
