//! What the benchmarks share: the plans they run (the seed pipeline, generated rule sets, the
//! dedup- and group-heavy scripts), workloads written to files, a paced in-process feed for
//! latency, and the Kafka comparison against a plain consumer.
//!
//! Module map:
//! - [`plans`]: the scripts the benchmarks compile.
//! - [`evaluate`]: deciding decoded actions outside the dataflow (the per-core cost).
//! - [`paced`]: a feed that releases actions at a fixed rate and remembers when each was sent.
//! - [`kafka`]: a topic filled by the sensor simulator, read by a plain consumer and by a run.
//! - [`memory`]: resident memory, the process's own or a child's.
//! - [`parse_only`]: the data plane's limit, a plain typed parse of each line.
//! - [`http`]: the HTTP benchmark's bare server, the `acteon serve` process and `wrk`.

pub mod evaluate;
pub mod http;
pub mod kafka;
pub mod memory;
pub mod paced;
pub mod parse_only;
pub mod plans;

use std::io::Write;
use std::path::Path;

/// Writes `lines` as a JSON-lines file.
pub fn write_lines(path: &Path, lines: impl IntoIterator<Item = String>) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for line in lines {
        writeln!(file, "{line}")?;
    }
    file.flush()
}

/// `name` from the environment as a number, else `default`.
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
