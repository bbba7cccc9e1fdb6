//! Chains: the seed's 3-step chain (normalize, detect, archive) with dry-run providers.
//!
//! Prints, from the chain statuses, the time from `chain_started` to `chain_completed` (median
//! and p99) for one chain alone and for 10,000 chains started in the same epoch (all in flight
//! at once: every chain's first step is submitted before any second step), and the chains
//! completed per second at 10,000 in flight. Criterion times the whole run as well. Nothing is
//! asserted about timings.
//!
//! `cargo bench -p acteon-benches --bench chains`

use acteon_dsl::plan::Plan;
use acteon_engine::chains::status::{ChainState, ChainStore};
use acteon_engine::{run, Delivery, Input, RunConfig};
use acteon_kafka::simulator::{actions, Mix};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

const SCRIPT: &str = r#"
provider telemetry-normalizer log
provider anomaly-detector log
provider metrics-queue log

rule chain-sensor-readings priority 1
  when action_type == "sensor_reading"
  then chain telemetry-processing

chain telemetry-processing timeout 300s {
  step normalize call telemetry-normalizer invoke {
    "device_id": "{{origin.payload.device_id}}", "value": "{{origin.payload.value}}"
  }
  step detect-anomaly call anomaly-detector invoke {
    "device_id": "{{origin.payload.device_id}}", "value": "{{origin.payload.value}}"
  }
    if body.anomaly == true then archive-metrics
  step archive-metrics call metrics-queue send_message {
    "device_id": "{{origin.payload.device_id}}", "result": "{{step_result}}"
  }
}
"#;

/// Plain temperature readings only, all at the same event time.
const READINGS: Mix = Mix {
    duplicates: 0,
    test_devices: 0,
    critical: 0,
    humidity: 0,
    energy: 0,
    lifecycle: 0,
    firmware: 0,
    malformed: 0,
};

/// Runs `lines` and returns each completed chain's latency in microseconds and the run's
/// chains completed per second.
fn run_chains(plan: &Plan, lines: &[String]) -> (Vec<i64>, f64) {
    let store = ChainStore::new();
    let report = run(
        plan,
        RunConfig {
            input: Input::Lines(lines.to_vec()),
            delivery: Delivery::DryRunMemory,
            chains: store.clone(),
            ..RunConfig::default()
        },
    )
    .expect("the run succeeds");
    let latencies: Vec<i64> = store
        .statuses()
        .iter()
        .filter(|s| s.state == ChainState::Completed)
        .filter_map(|s| Some(s.finished_at_us? - s.started_at_us))
        .collect();
    let per_second = latencies.len() as f64 / report.elapsed.as_secs_f64();
    (latencies, per_second)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or(0)
}

fn print_latencies(label: &str, mut latencies: Vec<i64>) {
    latencies.sort_unstable();
    println!(
        "{label}: chain_started -> chain_completed over {} chains: median {} µs, p99 {} µs",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}

fn bench_chains(c: &mut Criterion) {
    let compiled = acteon_dsl::compile_str("chains.acteon", SCRIPT);
    let plan = compiled.plan.expect("the bench script compiles");
    let one = actions(1, READINGS, 1, 0, 1);
    let many = actions(10_000, READINGS, 1, 0, 1);

    let mut group = c.benchmark_group("chains");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    let mut alone = Vec::new();
    group.throughput(Throughput::Elements(1));
    group.bench_function("1 chain of 3 steps", |b| {
        b.iter(|| alone.extend(run_chains(&plan, &one).0))
    });

    let mut in_flight = Vec::new();
    let mut rates = Vec::new();
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("10,000 chains of 3 steps in flight", |b| {
        b.iter(|| {
            let (latencies, per_second) = run_chains(&plan, &many);
            in_flight = latencies;
            rates.push(per_second);
        })
    });
    group.finish();

    print_latencies("1 chain alone", alone);
    print_latencies("10,000 chains in flight (last run)", in_flight);
    rates.sort_by(f64::total_cmp);
    if let Some(median) = rates.get(rates.len() / 2) {
        println!(
            "10,000 chains in flight: {median:.0} chains completed per second (median of {} runs)",
            rates.len()
        );
    }
}

criterion_group!(benches, bench_chains);
criterion_main!(benches);
