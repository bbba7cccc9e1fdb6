//! Kafka end to end, in one run: the seed pipeline (dry-run providers, audit to a file) reading
//! a topic, beside a plain consumer reading the same topic; prints both rates and their ratio.
//!
//! Needs the broker: `scripts/services.sh up kafka`. `ACTEON_BENCH_ACTIONS` sets the size
//! (default 200,000); `ACTEON_BENCH_WORKERS` the timely workers (default 1). The suite
//! (`--bench suite`) runs the same comparison among its workloads.

use acteon_benches::env_count;
use acteon_benches::kafka::compare;

fn main() {
    let actions = env_count("ACTEON_BENCH_ACTIONS", 200_000);
    let workers = env_count("ACTEON_BENCH_WORKERS", 1) as usize;
    let figures = compare(actions, 3, workers);
    println!(
        "plain consumer:               {:>10.0} records/s",
        figures.plain_per_s
    );
    println!(
        "acteon run ({workers} worker(s)), audit: {:>10.0} actions/s ({} audit records)",
        figures.pipeline_per_s, figures.audit_records
    );
    println!("ratio acteon / plain consumer: {:.3}", figures.ratio());
}
