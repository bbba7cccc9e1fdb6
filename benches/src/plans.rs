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
    acteon_dsl::compile_file(seed_dir().join("pipeline.acteon"))
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

/// The seed pipeline's directory.
fn seed_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/aws-event-pipeline")
}

/// Writes the seed pipeline's scripts into `dir` as the *full path* workload runs them: the
/// tenant's quota removed and the throttle raised to 1,000,000,000 per minute, so that every
/// reading runs its rules and its 3-step chain. Returns the pipeline's path.
pub fn write_full_path(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    write_seed(dir, Some("  then throttle 1000000000 per 1m"))
}

/// Writes the seed pipeline's scripts into `dir` without the tenant's quota (its throttle, 30
/// per minute, then decides most readings). Returns the pipeline's path.
pub fn write_without_quota(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    write_seed(dir, None)
}

/// The seed's scripts without the quota line, and with `throttle` instead of its own when
/// given; the devices table is the seed's file, where it is.
fn write_seed(dir: &Path, throttle: Option<&str>) -> std::io::Result<std::path::PathBuf> {
    let devices = format!(
        "table devices key device_id from {:?}",
        seed_dir().join("devices.jsonl").display().to_string()
    );
    for name in [
        "pipeline.acteon",
        "safety.acteon",
        "processing.acteon",
        "routing.acteon",
    ] {
        let text = std::fs::read_to_string(seed_dir().join(name))?;
        let text: String = text
            .lines()
            .filter(|line| !line.starts_with("quota "))
            .map(|line| match (line.trim(), throttle) {
                ("then throttle 30 per 1m", Some(lifted)) => lifted,
                (DEVICES_TABLE, _) => devices.as_str(),
                _ => line,
            })
            .flat_map(|line| [line, "\n"])
            .collect();
        std::fs::write(dir.join(name), text)?;
    }
    Ok(dir.join("pipeline.acteon"))
}

/// The seed's declaration of its devices table.
const DEVICES_TABLE: &str = "table devices key device_id from \"devices.jsonl\"";

/// The seed's critical temperature: a device's row, else 85.
const CRITICAL: &str = "devices[payload.device_id].max_temp ?? 85";

/// The full path (see [`write_full_path`]) written into `dir`, its critical temperature read
/// from the table file `rows`, or, with `None`, the fixed 85 (no table read, no join).
pub fn full_path_join(dir: &Path, rows: Option<&Path>) -> Plan {
    std::fs::create_dir_all(dir).expect("the scripts' directory");
    let path = write_full_path(dir).expect("the scripts are written");
    let routing = dir.join("routing.acteon");
    let text = std::fs::read_to_string(&routing).expect("routing.acteon");
    assert!(text.contains(CRITICAL), "the seed reads its devices table");
    let text = match rows {
        Some(rows) => {
            let line = text
                .lines()
                .find(|l| l.starts_with("table devices"))
                .expect("the devices table");
            let table = format!(
                "table devices key device_id from {:?}",
                rows.display().to_string()
            );
            text.replace(line, &table)
        }
        None => text.replace(CRITICAL, "85"),
    };
    std::fs::write(&routing, text).expect("routing.acteon");
    let compiled = acteon_dsl::compile_file(path);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.expect("no errors")
}

/// The full-path workload's plan (see [`write_full_path`]).
pub fn full_path() -> Plan {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = write_full_path(dir.path()).expect("the scripts are written");
    let compiled = acteon_dsl::compile_file(path);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.expect("no errors")
}
