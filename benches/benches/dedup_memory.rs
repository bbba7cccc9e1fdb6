//! Bytes of heap per live dedup key: the peak heap of a run that keeps N distinct keys alive
//! (a 1-hour TTL over actions 1 ms apart), measured at two sizes so that fixed costs cancel.
//!
//! `cargo bench -p acteon-benches --bench dedup_memory`

use acteon_benches::{plans, write_lines};
use acteon_engine::{run, AuditOutput, Delivery, Input, RunConfig};
use std::alloc::{GlobalAlloc, Layout, System};
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

fn peak_heap(keys: u64) -> usize {
    let plan = plans::dedup_heavy();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("keys.jsonl");
    write_lines(&input, plans::distinct_keys(keys)).unwrap();
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
