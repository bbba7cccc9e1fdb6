//! The seed pipeline compiles, and its plan keeps the order and values the scripts say.

use acteon_dsl::compile_file;
use acteon_dsl::plan::{
    Condition, Expectation, Outcome, ProviderKind, RuleAction, Scope, Source, StartOffset,
};
use std::path::{Path, PathBuf};

fn seed(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/aws-event-pipeline")
        .join(file)
}

#[test]
fn seed_pipeline_lowers_in_priority_order() {
    let compiled = compile_file(seed("pipeline.acteon"));
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    let plan = compiled.plan.expect("a plan");
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
    println!("{}", serde_json::to_string_pretty(&plan).unwrap());
}
