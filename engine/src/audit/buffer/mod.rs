//! Sink buffers: an audit destination that can be down (a DynamoDB table, a Kafka topic) is
//! written through a bounded buffer, so an outage costs neither records nor answers.
//!
//! [`SinkBuffer`] is the [`RecordSink`] the audit writer sees: `write` appends the record's
//! line to the buffer and returns; a thread of its own hands the buffer to the
//! [`Destination`] in order, in batches, retrying a batch that fails for ever with capped
//! backoff and taking a record out only once the destination has it. The buffer is kept on
//! disk (the run's checkpoint directory, [`disk`]) or, without one, in memory, where a crash
//! loses it. `finish` returns once every record written before it is, as the buffer's
//! [`Acknowledge`] says, in the destination or safely buffered: on disk (synced) with a
//! directory; in memory only where nothing is committed behind the audit (`acteon serve`),
//! else once the destination has it, so a feed never commits past a record a crash would
//! lose.
//!
//! Nothing is dropped when the buffer reaches its bound: `write` still takes every record,
//! and the shared [`Backpressure`] is engaged until the buffer is down to half its bound, so
//! the input stops (the Kafka source stops fetching; the HTTP API answers 503 with
//! `Retry-After`). What the dataflow already holds may still add records past the bound.

pub mod disk;

use crate::audit::record::AuditRecord;
use crate::audit::sink::RecordSink;
use crate::time::wall_clock_ms;
use serde::Serialize;
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Records a buffer holds before it pauses the input, unless told otherwise.
pub const DEFAULT_BOUND: usize = 100_000;
/// Records handed to the destination at once.
const BATCH: usize = 500;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two attempts of a failing destination: after an outage the buffer
/// drains at most this long after the destination is back.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often a wait on a failing destination is reported.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Where a buffer's records go: a store outside the process that can fail.
pub trait Destination: Send + Sync + std::fmt::Debug {
    /// Names the destination in logs, metrics and the buffer's directory
    /// (`dynamodb-acteon_audit`, `kafka-acteon-audit`).
    fn name(&self) -> String;

    /// Stores `lines` (audit records' JSON lines), in order. On failure, says how many of the
    /// leading lines are stored (they are not sent again) and why the rest are not.
    fn store(&self, lines: &[Vec<u8>]) -> Result<(), Unstored>;
}

/// A batch the destination did not wholly take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unstored {
    /// Leading lines of the batch that are stored.
    pub stored: usize,
    pub error: String,
}

/// Where a buffer keeps its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Lost with the process.
    Memory,
    /// In a directory of this one named after the destination.
    Directory(PathBuf),
}

/// When `finish` counts a record as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acknowledge {
    /// Once buffered, in memory or on disk: nothing is committed behind the audit.
    Buffered,
    /// Once in the destination or synced on disk: a feed commits behind the audit.
    Durable,
}

#[derive(Debug, Clone)]
pub struct BufferSettings {
    /// Records held before the input is paused.
    pub bound: usize,
    pub storage: Storage,
    pub acknowledge: Acknowledge,
}

/// One buffer's figures, for `/metrics` and the provider health answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BufferFigures {
    pub sink: String,
    /// Records not yet in the destination.
    pub records: u64,
    /// How long the oldest of them has waited, in milliseconds (0 when empty).
    pub oldest_age_ms: u64,
    pub bound: usize,
    pub on_disk: bool,
    /// Whether this buffer holds the input back.
    pub full: bool,
    /// Records delivered since the start.
    pub delivered: u64,
    /// Batches the destination refused since the start.
    pub failures: u64,
    pub last_error: Option<String>,
}

/// The buffers of a process and whether any of them holds the input back. Cheap to clone;
/// the sources and the HTTP API read it.
#[derive(Debug, Clone, Default)]
pub struct Backpressure {
    inner: Arc<Pressure>,
}

#[derive(Debug, Default)]
struct Pressure {
    /// Buffers at their bound.
    full: AtomicUsize,
    buffers: Mutex<Vec<Weak<Shared>>>,
}

impl Backpressure {
    pub fn new() -> Backpressure {
        Backpressure::default()
    }

    /// Whether the input should wait: a buffer is at its bound.
    pub fn engaged(&self) -> bool {
        self.inner.full.load(Ordering::Relaxed) > 0
    }

    /// Every live buffer's figures, in the order they were started.
    pub fn figures(&self) -> Vec<BufferFigures> {
        let buffers = self.inner.buffers.lock().unwrap_or_else(|e| e.into_inner());
        buffers
            .iter()
            .filter_map(Weak::upgrade)
            .map(|shared| shared.figures())
            .collect()
    }

    /// Waits until every buffer is empty, or `limit` passes; the records still buffered.
    pub fn drain(&self, limit: Option<Duration>) -> u64 {
        let buffers: Vec<Arc<Shared>> = {
            let buffers = self.inner.buffers.lock().unwrap_or_else(|e| e.into_inner());
            buffers.iter().filter_map(Weak::upgrade).collect()
        };
        let started = Instant::now();
        buffers
            .iter()
            .map(|shared| {
                let left = limit.map(|limit| limit.saturating_sub(started.elapsed()));
                shared.drain(left)
            })
            .sum()
    }
}

/// The audit writer's side of a buffer in front of a [`Destination`].
#[derive(Debug)]
pub struct SinkBuffer {
    shared: Arc<Shared>,
}

struct Shared {
    name: String,
    bound: usize,
    acknowledge: Acknowledge,
    on_disk: bool,
    state: Mutex<State>,
    /// Records came in, or went out.
    changed: Condvar,
    pressure: Arc<Pressure>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkBuffer")
            .field("sink", &self.name)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

struct State {
    records: Records,
    /// Records written in this process, and delivered in it.
    written: u64,
    delivered: u64,
    full: bool,
    failures: u64,
    last_error: Option<String>,
    /// A buffer that could not be written to: the next `finish` reports it.
    broken: Option<String>,
    /// The writer's side is gone: the thread ends once the buffer is empty.
    closed: bool,
}

enum Records {
    Memory(VecDeque<(i64, Vec<u8>)>),
    Disk(disk::Log),
}

impl Records {
    fn len(&self) -> u64 {
        match self {
            Records::Memory(records) => records.len() as u64,
            Records::Disk(log) => log.pending(),
        }
    }

    fn append(&mut self, at_ms: i64, line: &[u8]) -> io::Result<()> {
        match self {
            Records::Memory(records) => {
                records.push_back((at_ms, line.to_vec()));
                Ok(())
            }
            Records::Disk(log) => log.append(at_ms, line),
        }
    }

    fn peek(&mut self, max: usize) -> io::Result<Vec<Vec<u8>>> {
        match self {
            Records::Memory(records) => Ok(records
                .iter()
                .take(max)
                .map(|(_, line)| line.clone())
                .collect()),
            Records::Disk(log) => log.peek(max),
        }
    }

    fn consume(&mut self, count: usize) -> io::Result<()> {
        match self {
            Records::Memory(records) => {
                records.drain(..count.min(records.len()));
                Ok(())
            }
            Records::Disk(log) => log.consume(count),
        }
    }

    fn oldest_ms(&mut self) -> Option<i64> {
        match self {
            Records::Memory(records) => records.front().map(|(at, _)| *at),
            Records::Disk(log) => log.oldest_ms().ok().flatten(),
        }
    }
}

impl SinkBuffer {
    /// Opens the buffer (on disk: with the records a previous run left, which go first) and
    /// starts its thread; registers it with `backpressure`.
    pub fn start(
        destination: Arc<dyn Destination>,
        settings: BufferSettings,
        backpressure: &Backpressure,
    ) -> io::Result<SinkBuffer> {
        let name = destination.name();
        let records = match &settings.storage {
            Storage::Memory => Records::Memory(VecDeque::new()),
            Storage::Directory(dir) => Records::Disk(disk::Log::open(&dir.join(dir_name(&name)))?),
        };
        let left = records.len();
        let shared = Arc::new(Shared {
            on_disk: matches!(records, Records::Disk(_)),
            name: name.clone(),
            bound: settings.bound.max(1),
            acknowledge: settings.acknowledge,
            state: Mutex::new(State {
                records,
                written: 0,
                delivered: 0,
                full: false,
                failures: 0,
                last_error: None,
                broken: None,
                closed: false,
            }),
            changed: Condvar::new(),
            pressure: Arc::clone(&backpressure.inner),
        });
        if left > 0 {
            tracing::info!(sink = %name, records = left, "delivering the records an earlier run left in the sink buffer");
        }
        shared.lock().check_bound(&shared);
        backpressure
            .inner
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&shared));
        let thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("acteon-buffer-{name}"))
            .spawn(move || deliver(&thread, destination.as_ref()))?;
        Ok(SinkBuffer { shared })
    }

    pub fn figures(&self) -> BufferFigures {
        self.shared.figures()
    }

    /// Waits until the buffer is empty, or `limit` passes; the records still buffered.
    pub fn drain(&self, limit: Option<Duration>) -> u64 {
        self.shared.drain(limit)
    }
}

impl Drop for SinkBuffer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
    }
}

impl RecordSink for SinkBuffer {
    fn write(&self, _record: &AuditRecord, line: &[u8]) {
        let shared = &self.shared;
        let mut state = shared.lock();
        if let Err(error) = state.records.append(wall_clock_ms(), line) {
            tracing::error!(sink = %shared.name, %error, "writing the sink buffer failed");
            state.broken.get_or_insert(error.to_string());
        }
        state.written += 1;
        state.check_bound(shared);
        drop(state);
        shared.changed.notify_all();
    }

    fn finish(&self) -> Result<(), String> {
        let shared = &self.shared;
        let mut state = shared.lock();
        if let Some(error) = state.broken.take() {
            return Err(format!("the buffer of {} failed: {error}", shared.name));
        }
        match (&mut state.records, shared.acknowledge) {
            (Records::Disk(log), _) => log
                .sync()
                .map_err(|e| format!("syncing the buffer of {} failed: {e}", shared.name)),
            (Records::Memory(_), Acknowledge::Buffered) => Ok(()),
            (Records::Memory(_), Acknowledge::Durable) => {
                let target = state.written;
                let started = Instant::now();
                while state.delivered < target {
                    let (next, waited) = shared
                        .changed
                        .wait_timeout(state, REPORT_EVERY)
                        .unwrap_or_else(|e| e.into_inner());
                    state = next;
                    if waited.timed_out() {
                        tracing::warn!(
                            sink = %shared.name,
                            waiting = target - state.delivered,
                            seconds = started.elapsed().as_secs(),
                            error = state.last_error.as_deref().unwrap_or(""),
                            "the audit waits for its destination (no checkpoint directory to buffer it on disk)"
                        );
                    }
                }
                Ok(())
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn figures(&self) -> BufferFigures {
        let mut state = self.lock();
        let oldest = state.records.oldest_ms();
        BufferFigures {
            sink: self.name.clone(),
            records: state.records.len(),
            oldest_age_ms: oldest.map_or(0, |at| wall_clock_ms().saturating_sub(at).max(0) as u64),
            bound: self.bound,
            on_disk: self.on_disk,
            full: state.full,
            delivered: state.delivered,
            failures: state.failures,
            last_error: state.last_error.clone(),
        }
    }

    fn drain(&self, limit: Option<Duration>) -> u64 {
        let started = Instant::now();
        let mut state = self.lock();
        let mut reported = Instant::now();
        loop {
            let left = state.records.len();
            let remaining = limit.map(|limit| limit.saturating_sub(started.elapsed()));
            if left == 0 || remaining.is_some_and(|r| r.is_zero()) {
                return left;
            }
            if reported.elapsed() >= REPORT_EVERY {
                reported = Instant::now();
                tracing::warn!(
                    sink = %self.name,
                    records = left,
                    error = state.last_error.as_deref().unwrap_or(""),
                    "waiting for the sink buffer to drain"
                );
            }
            let wait = remaining.unwrap_or(REPORT_EVERY).min(REPORT_EVERY);
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl State {
    /// Engages the backpressure at the bound, and releases it at half the bound.
    fn check_bound(&mut self, shared: &Shared) {
        let held = self.records.len();
        if !self.full && held >= shared.bound as u64 {
            self.full = true;
            shared.pressure.full.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(sink = %shared.name, records = held, "the sink buffer is full: the input waits");
        } else if self.full && held <= shared.bound as u64 / 2 {
            self.full = false;
            shared.pressure.full.fetch_sub(1, Ordering::Relaxed);
            tracing::info!(sink = %shared.name, records = held, "the sink buffer has room again: the input resumes");
        }
    }
}

/// The buffer's thread: hands the records to the destination in order, in batches, until the
/// writer's side is gone and the buffer is empty.
fn deliver(shared: &Shared, destination: &dyn Destination) {
    let mut backoff = FIRST_BACKOFF;
    let mut failing_since: Option<Instant> = None;
    let mut reported = Instant::now();
    loop {
        let batch = {
            let mut state = shared.lock();
            while state.records.len() == 0 || (state.closed && shared.on_disk) {
                // Closed, a buffer on disk is left for the next process to deliver.
                if state.closed {
                    return;
                }
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
            state.records.peek(BATCH)
        };
        let batch = match batch {
            Ok(batch) if !batch.is_empty() => batch,
            Ok(_) => {
                // Counted but unreadable: nothing to send until more comes.
                std::thread::sleep(backoff);
                continue;
            }
            Err(error) => {
                tracing::error!(sink = %shared.name, %error, "reading the sink buffer failed");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let (stored, error) = match destination.store(&batch) {
            Ok(()) => (batch.len(), None),
            Err(unstored) => (unstored.stored.min(batch.len()), Some(unstored.error)),
        };
        {
            let mut state = shared.lock();
            if let Err(error) = state.records.consume(stored) {
                tracing::error!(sink = %shared.name, %error, "the sink buffer's cursor was not saved");
            }
            state.delivered += stored as u64;
            if let Some(error) = &error {
                state.failures += 1;
                state.last_error = Some(error.clone());
            }
            state.check_bound(shared);
        }
        shared.changed.notify_all();
        match error {
            None => {
                if let Some(since) = failing_since.take() {
                    tracing::info!(
                        sink = %shared.name,
                        after_seconds = since.elapsed().as_secs(),
                        "the destination takes records again"
                    );
                }
                backoff = FIRST_BACKOFF;
            }
            Some(error) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed().is_zero() || reported.elapsed() >= REPORT_EVERY {
                    reported = Instant::now();
                    tracing::warn!(
                        sink = %shared.name,
                        %error,
                        buffered = shared.lock().records.len(),
                        "the destination refused a batch; it stays buffered and is tried again"
                    );
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// A destination's name as a directory name.
fn dir_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Takes lines while `up`; remembers them in order.
    #[derive(Debug, Default)]
    struct Flaky {
        up: AtomicBool,
        lines: Mutex<Vec<String>>,
    }

    impl Destination for Flaky {
        fn name(&self) -> String {
            "flaky/test".into()
        }

        fn store(&self, lines: &[Vec<u8>]) -> Result<(), Unstored> {
            if !self.up.load(Ordering::SeqCst) {
                return Err(Unstored {
                    stored: 0,
                    error: "down".into(),
                });
            }
            let mut stored = self.lines.lock().unwrap();
            stored.extend(lines.iter().map(|l| String::from_utf8(l.clone()).unwrap()));
            Ok(())
        }
    }

    fn record() -> AuditRecord {
        let line = r#"{"id":"a#0","action_id":"a","namespace":"n","tenant":"t","action_type":"x","provider":null,"target":null,"rule":null,"outcome":"executed","details":{},"payload":null,"chain_id":null,"dispatched_at":"2026-11-28T09:00:00.000Z","completed_at":"2026-11-28T09:00:00.000Z","duration_ms":0,"expires_at":null}"#;
        AuditRecord::parse(line).unwrap()
    }

    fn settings(bound: usize, storage: Storage, acknowledge: Acknowledge) -> BufferSettings {
        BufferSettings {
            bound,
            storage,
            acknowledge,
        }
    }

    #[test]
    fn an_outage_holds_records_in_order_and_pauses_the_input_at_the_bound() {
        let destination = Arc::new(Flaky::default());
        let backpressure = Backpressure::new();
        let buffer = SinkBuffer::start(
            destination.clone(),
            settings(4, Storage::Memory, Acknowledge::Buffered),
            &backpressure,
        )
        .unwrap();
        for n in 0..5 {
            buffer.write(&record(), format!("r{n}").as_bytes());
        }
        buffer.finish().unwrap();
        assert!(backpressure.engaged(), "full at 4 of 4");
        let figures = &backpressure.figures()[0];
        assert_eq!((figures.records, figures.full), (5, true));
        assert_eq!(figures.sink, "flaky/test");
        let started = Instant::now();
        while buffer.figures().failures == 0 {
            assert!(started.elapsed() < Duration::from_secs(20), "never tried");
            std::thread::sleep(Duration::from_millis(10));
        }

        destination.up.store(true, Ordering::SeqCst);
        assert_eq!(backpressure.drain(Some(Duration::from_secs(20))), 0);
        assert!(!backpressure.engaged());
        assert_eq!(
            *destination.lines.lock().unwrap(),
            ["r0", "r1", "r2", "r3", "r4"]
        );
        let figures = buffer.figures();
        assert_eq!((figures.delivered, figures.oldest_age_ms), (5, 0));
        assert!(figures.failures >= 1 && figures.last_error.as_deref() == Some("down"));
    }

    #[test]
    fn without_a_disk_a_durable_finish_waits_for_the_destination() {
        let destination = Arc::new(Flaky::default());
        let buffer = SinkBuffer::start(
            destination.clone(),
            settings(100, Storage::Memory, Acknowledge::Durable),
            &Backpressure::new(),
        )
        .unwrap();
        buffer.write(&record(), b"r0");
        let up = destination.clone();
        let restore = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            up.up.store(true, Ordering::SeqCst);
        });
        buffer.finish().unwrap();
        assert_eq!(*destination.lines.lock().unwrap(), ["r0"]);
        restore.join().unwrap();
    }

    #[test]
    fn records_buffered_on_disk_are_delivered_by_the_next_process() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::Directory(dir.path().to_path_buf());
        let down = Arc::new(Flaky::default());
        let buffer = SinkBuffer::start(
            down.clone(),
            settings(100, storage.clone(), Acknowledge::Durable),
            &Backpressure::new(),
        )
        .unwrap();
        for n in 0..3 {
            buffer.write(&record(), format!("r{n}").as_bytes());
        }
        buffer.finish().unwrap();
        assert!(dir.path().join("flaky_test").is_dir());
        drop(buffer);

        let up = Arc::new(Flaky::default());
        up.up.store(true, Ordering::SeqCst);
        let buffer = SinkBuffer::start(
            up.clone(),
            settings(100, storage, Acknowledge::Durable),
            &Backpressure::new(),
        )
        .unwrap();
        buffer.write(&record(), b"r3");
        assert_eq!(buffer.drain(Some(Duration::from_secs(20))), 0);
        assert_eq!(*up.lines.lock().unwrap(), ["r0", "r1", "r2", "r3"]);
        assert!(down.lines.lock().unwrap().is_empty());
    }
}
