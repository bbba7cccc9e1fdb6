//! The scripts the benchmarks compile.

use acteon_dsl::plan::Plan;
use std::path::Path;

/// Compiles a script given in memory; its diagnostics are the panic message.
pub fn compile(name: &str, script: &str) -> Plan {
    let compiled = acteon_dsl::compile_str(name, script);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.expect("no errors")
}

/// The seed pipeline as the repository ships it.
pub fn seed() -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/aws-event-pipeline/pipeline.acteon");
    acteon_dsl::compile_file(path)
        .plan
        .expect("the seed pipeline compiles")
}

/// `n` rules, each testing a different device and sensor type, so that no two share a test and
/// most actions go through all of them: the worst case for a first-match evaluator.
pub fn generated_rules(n: usize) -> Plan {
    let mut script = String::from("provider sink log\n");
    for i in 0..n {
        script.push_str(&format!(
            "rule r{i} priority {i}\n  when payload.device_id == \"device-{i}\" and payload.value > {}\n  then reroute sink\n",
            i % 90
        ));
    }
    compile("generated.acteon", &script)
}

/// Every action deduplicated for an hour (by its id, having no dedup key): with
/// [`distinct_keys`], each is a new live key.
pub fn dedup_heavy() -> Plan {
    compile(
        "dedup.acteon",
        "rule dedup-everything priority 1\n  then dedup within 1h\n",
    )
}

/// `count` actions with distinct ids, 1 ms apart from 09:00 (so 1,000,000 of them span under
/// 17 minutes of event time, all inside the dedup TTL).
pub fn distinct_keys(count: u64) -> impl Iterator<Item = String> {
    (0..count).map(|i| {
        let (ms, s, m) = (i % 1000, i / 1000 % 60, i / 60_000);
        format!(
            "{{\"id\":\"k{i}\",\"namespace\":\"n\",\"tenant\":\"t\",\"action_type\":\"x\",\"created_at\":\"2026-11-28T09:{m:02}:{s:02}.{ms:03}Z\"}}"
        )
    })
}

/// Readings grouped per device for 30 s, at most 20 to a batch.
pub fn group_heavy() -> Plan {
    compile(
        "group.acteon",
        "provider batches log\nrule batch-readings priority 1\n  when action_type == \"sensor_reading\"\n  then group by payload.device_id wait 30s max 20 to batches\n",
    )
}
