//! Bytes of heap per live dedup key: the peak heap of a run that keeps N distinct keys alive
//! (a 1-hour TTL over actions 1 ms apart), measured at two sizes so that fixed costs cancel.
//!
//! `cargo bench -p acteon-benches --bench dedup_memory`

use acteon_engine::{run, AuditOutput, Delivery, Input, RunConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and remembers the peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SCRIPT: &str = "rule dedup-everything priority 1\n  then dedup within 1h\n";

fn peak_heap(keys: u64) -> usize {
    let plan = acteon_dsl::compile_str("dedup.acteon", SCRIPT)
        .plan
        .expect("compiles");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("keys.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for i in 0..keys {
        let ms = i % 1000;
        let s = i / 1000 % 60;
        let m = i / 60_000;
        writeln!(
            file,
            "{{\"id\":\"k{i}\",\"namespace\":\"n\",\"tenant\":\"t\",\"action_type\":\"x\",\"created_at\":\"2026-11-28T09:{m:02}:{s:02}.{ms:03}Z\"}}"
        )
        .unwrap();
    }
    drop(file);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    run(
        &plan,
        RunConfig {
            input: Input::File(input),
            audit: AuditOutput::File(dir.path().join("audit.jsonl")),
            delivery: Delivery::DryRunMemory,
            ..RunConfig::default()
        },
    )
    .expect("the run succeeds");
    PEAK.load(Ordering::Relaxed) - before
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    let (small, large) = (100_000u64, 1_000_000u64);
    let small_peak = peak_heap(small);
    let large_peak = peak_heap(large);
    let per_key = (large_peak - small_peak) as f64 / (large - small) as f64;
    println!(
        "peak heap with {small} live dedup keys: {:.1} MiB",
        small_peak as f64 / 1048576.0
    );
    println!(
        "peak heap with {large} live dedup keys: {:.1} MiB",
        large_peak as f64 / 1048576.0
    );
    println!("bytes per live dedup key: {per_key:.0}");
}
