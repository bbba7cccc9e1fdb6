//! The hot paths of deciding an action, per action: (a) JSON decode, (b) the seed rule set on
//! decoded actions, and evaluation cost against rule count (10, 100, 1,000 generated rules).
//!
//! `cargo bench -p acteon-benches --bench decide`

use acteon_dsl::plan::Plan;
use acteon_engine::action::{Action, Position};
use acteon_engine::decode::decode;
use acteon_engine::eval::{Evaluation, Evaluator, Scratch};
use acteon_kafka::simulator::{actions, Mix};
use criterion::{criterion_group, criterion_main, BatchSize, Bencher, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;

const ACTIONS: u64 = 10_000;

fn seed_plan() -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/aws-event-pipeline/pipeline.acteon");
    acteon_dsl::compile_file(path)
        .plan
        .expect("the seed pipeline compiles")
}

fn decoded(lines: &[String]) -> Vec<Action> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            decode(
                line.as_bytes(),
                Position::Line(i as u64 + 1),
                1 << 20,
                0,
                None,
            )
            .unwrap()
        })
        .collect()
}

/// Evaluates as the dataflow does when every stateful rule lets the action pass: from the
/// first rule to a terminal rule or the end, resuming after each gate.
fn decide(evaluator: &Evaluator, action: &mut Action, scratch: &mut Scratch) -> u32 {
    let mut start = 0;
    loop {
        match evaluator.evaluate(action, start, scratch) {
            Evaluation::Gate { rule, .. } => start = rule + 1,
            Evaluation::Terminal { rule } => return rule,
            Evaluation::NoMatch => return u32::MAX,
        }
    }
}

/// Decides every action once per iteration; the actions are cloned outside the timing since
/// `modify` changes them.
fn decide_all(b: &mut Bencher, evaluator: &Evaluator, actions: &[Action]) {
    let mut scratch = Scratch::default();
    b.iter_batched_ref(
        || actions.to_vec(),
        |actions| {
            for action in actions.iter_mut() {
                black_box(decide(evaluator, action, &mut scratch));
            }
        },
        BatchSize::LargeInput,
    )
}

fn bench_decode(c: &mut Criterion) {
    let lines = actions(ACTIONS, Mix::SEED, 4, 10, 1);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(ACTIONS));
    group.bench_function("seed-like JSON lines", |b| {
        b.iter(|| {
            for (i, line) in lines.iter().enumerate() {
                black_box(decode(line.as_bytes(), Position::Line(i as u64), 1 << 20, 0, None).ok());
            }
        })
    });
    group.finish();
}

fn bench_seed_rules(c: &mut Criterion) {
    let evaluator = Evaluator::new(&seed_plan());
    let actions = decoded(&actions(ACTIONS, Mix::SEED, 4, 10, 2));
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(ACTIONS));
    group.bench_function("seed rule set", |b| decide_all(b, &evaluator, &actions));
    group.finish();
}

/// `n` rules, each testing a different device and sensor type, so that no two share a test and
/// most actions go through all of them: the worst case for a first-match evaluator.
fn generated_rules(n: usize) -> Plan {
    let mut script = String::from("provider sink log\n");
    for i in 0..n {
        script.push_str(&format!(
            "rule r{i} priority {i}\n  when payload.device_id == \"device-{i}\" and payload.value > {}\n  then reroute sink\n",
            i % 90
        ));
    }
    let compiled = acteon_dsl::compile_str("generated.acteon", &script);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.expect("no errors")
}

fn bench_rule_count(c: &mut Criterion) {
    let actions = decoded(&actions(ACTIONS, Mix::SEED, 1, 10, 3));
    let mut group = c.benchmark_group("evaluate by rule count");
    group.throughput(Throughput::Elements(ACTIONS));
    for n in [10, 100, 1000] {
        let evaluator = Evaluator::new(&generated_rules(n));
        group.bench_function(format!("{n} rules"), |b| {
            decide_all(b, &evaluator, &actions)
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode, bench_seed_rules, bench_rule_count);
criterion_main!(benches);
