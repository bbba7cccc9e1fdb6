//! The HTTP API as the engine's source: a [`Feed`] with one lane whose records are the actions
//! dispatch handlers push over a channel. The lane never ends while a sender lives; dropping
//! every sender (shutdown, or a reload that replaces the engine) ends the feed, and the engine
//! then finishes what it holds and returns.
//!
//! In a cluster every process serves its own requests: process `p`'s feed is lane `p`, read by
//! its first worker, so the engine can write an action's audit records in the process that
//! received it (`RunConfig::audit_at_entry`), where the dispatch waits for its answer.

use acteon_engine::action::Position;
use acteon_engine::feed::{Feed, FeedReader, Polled};
use acteon_engine::time::wall_clock_ms;
use std::sync::Mutex;
use tokio::sync::mpsc::{self, error::TryRecvError};

/// Actions waiting for the engine; a full channel makes dispatch handlers wait (backpressure).
pub const CHANNEL_CAPACITY: usize = 65_536;

/// One action as JSON bytes, as the source decodes it.
pub type ActionBytes = Vec<u8>;

#[derive(Debug)]
pub struct ApiFeed {
    /// Taken by worker `reader`, the only worker reading the lane.
    receiver: Mutex<Option<mpsc::Receiver<ActionBytes>>>,
    /// The lane: this process's index in its cluster (0 alone). HTTP requests to one process
    /// have a single arrival order.
    lane: i32,
    /// The global index of this process's first worker.
    reader: usize,
}

impl ApiFeed {
    /// The feed of process `process`, whose first worker is `reader`, and the sender dispatch
    /// handlers push actions into.
    pub fn new(process: usize, reader: usize) -> (ApiFeed, mpsc::Sender<ActionBytes>) {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let feed = ApiFeed {
            receiver: Mutex::new(Some(receiver)),
            lane: i32::try_from(process).unwrap_or(i32::MAX),
            reader,
        };
        (feed, sender)
    }
}

impl Feed for ApiFeed {
    fn open(
        &self,
        index: usize,
        _peers: usize,
        _resume: &std::collections::BTreeMap<i32, i64>,
    ) -> Result<Box<dyn FeedReader>, String> {
        let receiver = match index == self.reader {
            true => self
                .receiver
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
            false => None,
        };
        Ok(Box::new(ApiReader {
            lane: self.lane,
            receiver,
            next_offset: 0,
            caught_up: true,
        }))
    }

    fn dead_letter(&self, position: Position, reason: &str, _record: &[u8]) {
        // Dispatch validates bodies before they reach the feed, and a rejection is audited and
        // answered to the client: there is no dead-letter destination to write to.
        tracing::warn!(
            ?position,
            reason,
            "an API action was rejected by the engine"
        );
    }
}

struct ApiReader {
    lane: i32,
    /// `None` on every worker but the reader: such a reader has no lane and ends at once.
    receiver: Option<mpsc::Receiver<ActionBytes>>,
    next_offset: i64,
    /// Whether the lane was reported caught up since its last record (reported once, since
    /// the source polls again straight after a `CaughtUp`).
    caught_up: bool,
}

impl FeedReader for ApiReader {
    fn lanes(&self) -> Vec<i32> {
        match self.receiver {
            Some(_) => vec![self.lane],
            None => Vec::new(),
        }
    }

    fn poll(&mut self, record: &mut Vec<u8>) -> Polled {
        let Some(receiver) = self.receiver.as_mut() else {
            return Polled::Ended;
        };
        match receiver.try_recv() {
            Ok(bytes) => {
                *record = bytes;
                let offset = self.next_offset;
                self.next_offset += 1;
                self.caught_up = false;
                Polled::Record {
                    lane: self.lane,
                    offset,
                    timestamp_ms: Some(wall_clock_ms()),
                }
            }
            Err(TryRecvError::Empty) if !self.caught_up => {
                self.caught_up = true;
                Polled::CaughtUp { lane: self.lane }
            }
            Err(TryRecvError::Empty) => Polled::Pending,
            Err(TryRecvError::Disconnected) => Polled::Ended,
        }
    }

    fn completed(&mut self, _done: &[(i32, i64)]) {
        // Nothing to commit: a request is answered once its decision is audited.
    }

    fn close(&mut self) {}
}
