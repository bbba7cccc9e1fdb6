//! Feeds: live sources of records outside the engine (a Kafka topic), read by the source
//! operator, which decodes each record once, stamps it with an epoch, and tells the feed when
//! every effect of its records is done so the feed can commit their positions.
//!
//! A feed is split into lanes (Kafka partitions): each lane's records come in position order,
//! and each lane's event-time progress holds the frontier back until the lane is caught up.

use crate::action::Position;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The whole feed, shared by every worker.
pub trait Feed: Send + Sync + std::fmt::Debug {
    /// Opens worker `index`'s part of the feed (of `peers` workers). The source polls it
    /// without blocking, backing off while it is idle. A lane in `resume` (lane -> next
    /// offset, from a restored checkpoint) is read from there; the others from the feed's
    /// configured start.
    fn open(
        &self,
        index: usize,
        peers: usize,
        resume: &BTreeMap<i32, i64>,
    ) -> Result<Box<dyn FeedReader>, String>;

    /// Writes a rejected record to the feed's dead-letter output. Called by the audit writer
    /// before the rejection's epoch completes; the feed must make the write durable before it
    /// commits the record's position.
    fn dead_letter(&self, position: Position, reason: &str, record: &[u8]);
}

/// One worker's part of a feed.
pub trait FeedReader: Send {
    /// The lanes this reader reads: each holds the frontier back from the start until it has
    /// a record or is caught up.
    fn lanes(&self) -> Vec<i32>;

    /// The next record, its bytes in `record`.
    fn poll(&mut self, record: &mut Vec<u8>) -> Polled;

    /// Every record of `lane` up to and including `offset` has had all its effects (audit
    /// written, provider call finished, dead-lettered): its position may be committed.
    fn completed(&mut self, done: &[(i32, i64)]);

    /// The run ends: commit what was completed, synchronously.
    fn close(&mut self);
}

/// What a poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// A record of `lane` at `offset`; `timestamp_ms` is the feed's own time for it (the Kafka
    /// timestamp), the event time of an action without `created_at`.
    Record {
        lane: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
    },
    /// `lane` has no more records for now: it no longer holds the frontier back.
    CaughtUp { lane: i32 },
    /// Nothing now; the feed wakes the source when something arrives.
    Pending,
    /// The feed has ended (drained and quiet, when the run asked for that).
    Ended,
}

/// A feed given to a run.
pub type SharedFeed = Arc<dyn Feed>;
