//! Feeds: live sources of records outside the engine (a Kafka topic), read by the source
//! operator, which decodes each record once, stamps it with an epoch, and tells the feed when
//! every effect of its records is done so the feed can commit their positions.
//!
//! A feed is split into lanes (Kafka partitions): each lane's records come in position order,
//! and each lane's event-time progress holds the frontier back until the lane is caught up.

use crate::action::{Action, Position};
use crate::control::GroupFlush;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
pub use timely::scheduling::SyncActivator;

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

    /// Whether the feed commits positions once their effects are done (Kafka): the audit is
    /// then flushed, and its sink finished, before an epoch counts as written. A feed that
    /// commits nothing (the HTTP API) lets the writer go on without waiting for its sink.
    fn commits(&self) -> bool {
        true
    }
}

/// One worker's part of a feed.
pub trait FeedReader: Send {
    /// The lanes this reader reads: each holds the frontier back from the start until it has
    /// a record or is caught up.
    fn lanes(&self) -> Vec<i32>;

    /// The next record, its bytes in `record`.
    fn poll(&mut self, record: &mut Vec<u8>) -> Polled;

    /// Gives the reader its source's activator, to wake it when records arrive (from any
    /// thread; see [`Wakeup`]); returns whether it will. A reader that does not is polled
    /// with a backoff.
    fn wake_with(&mut self, _activator: SyncActivator) -> bool {
        false
    }

    /// Every record of `lane` up to and including `offset` has had all its effects (audit
    /// written, provider call finished, dead-lettered): its position may be committed.
    fn completed(&mut self, done: &[(i32, i64)]);

    /// The run ends: commit what was completed, synchronously.
    fn close(&mut self);
}

/// What a poll found.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// A record of `lane` at `offset`; `timestamp_ms` is the feed's own time for it (the Kafka
    /// timestamp), the event time of an action without `created_at`.
    Record {
        lane: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
    },
    /// An action the feed decoded itself (with the plan's decoder, at its position): the HTTP
    /// API checks each body as it takes it, so it is not decoded twice.
    Decoded {
        lane: i32,
        offset: i64,
        action: Box<Action>,
    },
    /// Flush the waiting groups the request names, now.
    FlushGroups(GroupFlush),
    /// `lane` has no more records for now: it no longer holds the frontier back.
    CaughtUp { lane: i32 },
    /// Nothing now; the feed wakes the source when something arrives.
    Pending,
    /// The feed has ended (drained and quiet, when the run asked for that).
    Ended,
}

/// A feed given to a run.
pub type SharedFeed = Arc<dyn Feed>;

/// Wakes a source whose feed has records again, from the threads that put them there; costs
/// an atomic swap while the source is awake. The reader calls [`Wakeup::sleeping`] when it
/// finds nothing and then looks once more before it reports [`Polled::Pending`], so a record
/// sent between the two is never left waiting for the next tick.
#[derive(Debug, Default)]
pub struct Wakeup {
    activator: OnceLock<SyncActivator>,
    asleep: AtomicBool,
}

impl Wakeup {
    /// The source to wake: set once, by the reader, when its source is built.
    pub fn attach(&self, activator: SyncActivator) {
        let _ = self.activator.set(activator);
    }

    /// The reader found nothing and is about to look a last time before the source sleeps.
    pub fn sleeping(&self) {
        self.asleep.store(true, Ordering::SeqCst);
    }

    /// The reader found something after all.
    pub fn awake(&self) {
        self.asleep.store(false, Ordering::SeqCst);
    }

    /// After sending a record: wakes the source if it sleeps.
    pub fn wake(&self) {
        if self.asleep.swap(false, Ordering::SeqCst) {
            if let Some(activator) = self.activator.get() {
                // The dataflow has ended: nothing is left to wake.
                let _ = activator.activate();
            }
        }
    }
}
