//! The hot paths of deciding an action, per action: (a) JSON decode, (b) the seed rule set on
//! decoded actions, and evaluation cost against rule count (10, 100, 1,000 generated rules).
//!
//! `cargo bench -p acteon-benches --bench decide`

use acteon_benches::evaluate::{decide, decoded, decoder};
use acteon_benches::plans;
use acteon_engine::action::{Action, Position};
use acteon_engine::eval::{Evaluator, Scratch};
use acteon_kafka::simulator::{actions, Mix};
use criterion::{criterion_group, criterion_main, BatchSize, Bencher, Criterion, Throughput};
use std::hint::black_box;

const ACTIONS: u64 = 10_000;

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
    let decoder = decoder(&Evaluator::new(&plans::seed()));
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(ACTIONS));
    group.bench_function("seed-like JSON lines", |b| {
        b.iter(|| {
            for (i, line) in lines.iter().enumerate() {
                let position = Position::Line(i as u64);
                black_box(decoder.decode(line.as_bytes(), position, 0, None).ok());
            }
        })
    });
    group.finish();
}

fn bench_seed_rules(c: &mut Criterion) {
    let evaluator = Evaluator::new(&plans::seed());
    let actions = decoded(&actions(ACTIONS, Mix::SEED, 4, 10, 2), &evaluator);
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(ACTIONS));
    group.bench_function("seed rule set", |b| decide_all(b, &evaluator, &actions));
    group.finish();
}

fn bench_rule_count(c: &mut Criterion) {
    let lines = actions(ACTIONS, Mix::SEED, 1, 10, 3);
    let mut group = c.benchmark_group("evaluate by rule count");
    group.throughput(Throughput::Elements(ACTIONS));
    for n in [10, 100, 1000] {
        let evaluator = Evaluator::new(&plans::generated_rules(n));
        let actions = decoded(&lines, &evaluator);
        group.bench_function(format!("{n} rules"), |b| {
            decide_all(b, &evaluator, &actions)
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode, bench_seed_rules, bench_rule_count);
criterion_main!(benches);
