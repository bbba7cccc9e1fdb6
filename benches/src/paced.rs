//! A feed that releases its actions at a fixed rate, as live traffic arrives, and an audit sink
//! that notes when each action's first record is written: together they give the decision
//! latency (ingest to audit) of a pipeline that is not saturated.

use acteon_engine::action::Position;
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::audit::sink::RecordSink;
use acteon_engine::feed::{Feed, FeedReader, Polled};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One lane of `lines`, the n-th released `n / rate` seconds after the first poll. Only worker
/// 0 reads it.
#[derive(Debug)]
pub struct PacedFeed {
    lines: Arc<Vec<String>>,
    interval: Duration,
    /// When each line was released, by offset.
    sent: Arc<Mutex<Vec<Option<Instant>>>>,
}

impl PacedFeed {
    pub fn new(lines: Vec<String>, per_second: u64) -> PacedFeed {
        let count = lines.len();
        PacedFeed {
            lines: Arc::new(lines),
            interval: Duration::from_secs(1) / per_second.max(1) as u32,
            sent: Arc::new(Mutex::new(vec![None; count])),
        }
    }

    /// When each line was released, by offset (`None`: never).
    pub fn sent(&self) -> Vec<Option<Instant>> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Feed for PacedFeed {
    fn open(
        &self,
        index: usize,
        _peers: usize,
        _resume: &std::collections::BTreeMap<i32, i64>,
    ) -> Result<Box<dyn FeedReader>, String> {
        let lines = match index {
            0 => Arc::clone(&self.lines),
            _ => Arc::new(Vec::new()),
        };
        Ok(Box::new(PacedReader {
            lines,
            next: 0,
            started: None,
            interval: self.interval,
            sent: Arc::clone(&self.sent),
        }))
    }

    fn dead_letter(&self, _position: Position, _reason: &str, _record: &[u8]) {}
}

struct PacedReader {
    lines: Arc<Vec<String>>,
    next: usize,
    started: Option<Instant>,
    interval: Duration,
    sent: Arc<Mutex<Vec<Option<Instant>>>>,
}

impl FeedReader for PacedReader {
    fn lanes(&self) -> Vec<i32> {
        match self.lines.is_empty() {
            true => Vec::new(),
            false => vec![0],
        }
    }

    fn poll(&mut self, record: &mut Vec<u8>) -> Polled {
        let Some(line) = self.lines.get(self.next) else {
            return Polled::Ended;
        };
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        if now < started + self.interval * self.next as u32 {
            return Polled::Pending;
        }
        record.clear();
        record.extend_from_slice(line.as_bytes());
        if let Ok(mut sent) = self.sent.lock() {
            sent[self.next] = Some(now);
        }
        self.next += 1;
        Polled::Record {
            lane: 0,
            offset: self.next as i64 - 1,
            timestamp_ms: None,
        }
    }

    fn completed(&mut self, _done: &[(i32, i64)]) {}

    fn close(&mut self) {}
}

/// Notes when the first audit record of each action id is written.
#[derive(Debug, Default)]
pub struct WrittenAt {
    first: Mutex<HashMap<String, Instant>>,
}

impl WrittenAt {
    /// When `action_id`'s first record was written.
    pub fn of(&self, action_id: &str) -> Option<Instant> {
        self.first.lock().ok()?.get(action_id).copied()
    }
}

impl RecordSink for WrittenAt {
    fn write(&self, record: &AuditRecord, _line: &[u8]) {
        let now = Instant::now();
        if let Ok(mut first) = self.first.lock() {
            first.entry(record.action_id.to_string()).or_insert(now);
        }
    }

    fn finish(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The `q`-quantile (0..=1) of `values`, which it sorts.
pub fn quantile(values: &mut [Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let index = ((values.len() - 1) as f64 * q).round() as usize;
    values[index]
}
