//! (c) `acteon run` end to end: 1,000,000 seed-like actions from a JSON-lines file, through the
//! seed pipeline with dry-run providers, to an audit file; at 1 and 2 workers.
//!
//! `cargo bench -p acteon-benches --bench pipeline` (ACTEON_BENCH_ACTIONS overrides the count)

use acteon_engine::{run, AuditOutput, Delivery, Input, RunConfig};
use acteon_kafka::simulator::{actions, Mix};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

fn bench_pipeline(c: &mut Criterion) {
    let count: u64 = std::env::var("ACTEON_BENCH_ACTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/aws-event-pipeline/pipeline.acteon");
    let plan = acteon_dsl::compile_file(path)
        .plan
        .expect("the seed pipeline compiles");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("actions.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    // 4 tenants and 1 ms apart: the throttle (30 per minute per tenant) holds most of them back,
    // as a sustained flood would.
    for line in actions(count, Mix::SEED, 4, 1, 4) {
        writeln!(file, "{line}").unwrap();
    }
    file.flush().unwrap();
    drop(file);

    let mut group = c.benchmark_group("acteon run");
    group.throughput(Throughput::Elements(count));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for workers in [1, 2] {
        group.bench_function(format!("{count} actions, {workers} worker(s)"), |b| {
            b.iter(|| {
                let report = run(
                    &plan,
                    RunConfig {
                        input: Input::File(input.clone()),
                        workers,
                        audit: AuditOutput::File(dir.path().join("audit.jsonl")),
                        delivery: Delivery::DryRunDir(dir.path().join("calls")),
                        ..RunConfig::default()
                    },
                )
                .expect("the run succeeds");
                assert_eq!(report.inputs, count);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_pipeline);
criterion_main!(benches);
