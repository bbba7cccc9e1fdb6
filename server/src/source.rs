//! The script's own source (a Kafka topic) read beside the HTTP API, in the same dataflow:
//! [`ServedFeed`] joins a generation's [`ApiFeed`] and the source's feed, lane by lane (API
//! lanes are below zero, the source's partitions at or above it).
//!
//! A reload hands the source from one generation to the next without skipping or deciding a
//! record twice: the new generation opens its consumers only once every worker of the old one
//! has stopped reading, finished the records it read and committed them ([`Baton`]); it then
//! reads each partition from where the old one stopped (a partition no generation has read
//! from starts where the script says). The old generation stops reading the source when its
//! API lanes end, which is when the new one has taken over the requests.

use crate::feed::ApiFeed;
use acteon_engine::action::Position;
use acteon_engine::feed::{Feed, FeedReader, Polled, SyncActivator};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The longest a retiring generation waits, as it closes, for the one before it to hand the
/// source over (only a generation retired before it ever read the source waits at all).
const HAND_OVER_WAIT: Duration = Duration::from_secs(60);

/// How long after a failed attempt the source's consumers are opened again.
const REOPEN_AFTER: Duration = Duration::from_secs(2);

/// The script's source across generations: the feed, and the baton the next generation waits
/// for.
#[derive(Debug)]
pub struct ScriptSource {
    feed: Arc<dyn Feed>,
    latest: Mutex<Arc<Baton>>,
}

impl ScriptSource {
    pub fn new(feed: Arc<dyn Feed>) -> ScriptSource {
        ScriptSource {
            feed,
            latest: Mutex::new(Arc::new(Baton::handed_over(BTreeMap::new()))),
        }
    }

    /// The source part of a new generation running `workers` workers in this process: it
    /// reads once the generation before it has handed over.
    pub fn next_generation(&self, workers: usize) -> SourcePart {
        let outbound = Arc::new(Baton::new(workers));
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let inbound = std::mem::replace(&mut *latest, Arc::clone(&outbound));
        SourcePart {
            feed: Arc::clone(&self.feed),
            inbound,
            outbound,
        }
    }

    /// A generation that did not start never reads: the next one takes over from the one
    /// before it.
    pub fn abandon(&self, part: &SourcePart) {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::ptr_eq(&latest, &part.outbound) {
            *latest = Arc::clone(&part.inbound);
        }
    }
}

/// Where each partition's next record is, once every worker of a generation has stopped
/// reading the source and committed what it read.
#[derive(Debug)]
pub struct Baton {
    /// Workers of the generation still reading (or yet to close).
    remaining: AtomicUsize,
    positions: Mutex<BTreeMap<i32, i64>>,
    done: Condvar,
}

impl Baton {
    fn new(workers: usize) -> Baton {
        Baton {
            remaining: AtomicUsize::new(workers.max(1)),
            positions: Mutex::new(BTreeMap::new()),
            done: Condvar::new(),
        }
    }

    fn handed_over(positions: BTreeMap<i32, i64>) -> Baton {
        Baton {
            remaining: AtomicUsize::new(0),
            positions: Mutex::new(positions),
            done: Condvar::new(),
        }
    }

    fn is_handed_over(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }

    /// The next position of every partition read so far, by any generation.
    fn positions(&self) -> BTreeMap<i32, i64> {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits (at most `limit`) until handed over; whether it was.
    fn wait(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        while !self.is_handed_over() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            positions = self
                .done
                .wait_timeout(positions, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// One worker has stopped reading: `positions` are the next records of what it read.
    fn hand_over(&self, positions: &BTreeMap<i32, i64>) {
        let mut all = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        for (&lane, &next) in positions {
            let at = all.entry(lane).or_insert(next);
            *at = (*at).max(next);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_all();
        }
    }
}

/// A generation's share of the script's source.
#[derive(Debug, Clone)]
pub struct SourcePart {
    feed: Arc<dyn Feed>,
    /// Handed over by the generation before.
    inbound: Arc<Baton>,
    /// Handed over by this generation when it ends.
    outbound: Arc<Baton>,
}

/// A generation's feed: its API lanes, and the script's source when it has one.
#[derive(Debug)]
pub struct ServedFeed {
    api: ApiFeed,
    source: Option<SourcePart>,
}

impl ServedFeed {
    pub fn new(api: ApiFeed, source: Option<SourcePart>) -> ServedFeed {
        ServedFeed { api, source }
    }
}

impl Feed for ServedFeed {
    fn open(
        &self,
        index: usize,
        peers: usize,
        resume: &BTreeMap<i32, i64>,
    ) -> Result<Box<dyn FeedReader>, String> {
        let api = self.api.open(index, peers, resume)?;
        let Some(part) = &self.source else {
            return Ok(api);
        };
        Ok(Box::new(ServedReader {
            api,
            api_ended: false,
            source: SourceReader::Waiting { since: None },
            part: part.clone(),
            worker: (index, peers),
            next: BTreeMap::new(),
            completed: BTreeMap::new(),
            source_first: false,
            handed_over: false,
        }))
    }

    fn dead_letter(&self, position: Position, reason: &str, record: &[u8]) {
        match (&self.source, position) {
            (Some(part), Position::Kafka { .. }) => part.feed.dead_letter(position, reason, record),
            _ => self.api.dead_letter(position, reason, record),
        }
    }

    fn commits(&self) -> bool {
        // The source's positions are committed once their effects are done.
        self.source.is_some()
    }
}

/// The source's reader in one worker, opened once the generation before has handed over.
enum SourceReader {
    /// Not handed over yet, or an attempt to open failed at `since`.
    Waiting {
        since: Option<Instant>,
    },
    /// Being opened on a thread of its own (opening looks up partitions on the broker).
    Opening(mpsc::Receiver<Result<Box<dyn FeedReader>, String>>),
    Reading(Box<dyn FeedReader>),
}

/// One worker's part of a [`ServedFeed`]: its API lane and its share of the source's
/// partitions, taken in turns.
struct ServedReader {
    api: Box<dyn FeedReader>,
    /// The generation has been replaced (or the server stops): its source reading stops too.
    api_ended: bool,
    source: SourceReader,
    part: SourcePart,
    worker: (usize, usize),
    /// Per partition read, the offset of its next record.
    next: BTreeMap<i32, i64>,
    /// Per partition, the offset after the last record whose effects are all done.
    completed: BTreeMap<i32, i64>,
    /// Whose turn it is to be polled first.
    source_first: bool,
    handed_over: bool,
}

impl ServedReader {
    /// The source's next record, opening its reader when it may.
    fn poll_source(&mut self, record: &mut Vec<u8>) -> Polled {
        match &mut self.source {
            SourceReader::Waiting { since } => {
                let retry = since.is_none_or(|at| at.elapsed() >= REOPEN_AFTER);
                if retry && self.part.inbound.is_handed_over() {
                    self.next = self.part.inbound.positions();
                    self.completed = self.next.clone();
                    let (sent, opened) = mpsc::channel();
                    let (feed, resume) = (Arc::clone(&self.part.feed), self.next.clone());
                    let (index, peers) = self.worker;
                    std::thread::spawn(move || {
                        let _ = sent.send(feed.open(index, peers, &resume));
                    });
                    self.source = SourceReader::Opening(opened);
                }
                Polled::Pending
            }
            SourceReader::Opening(opened) => match opened.try_recv() {
                Ok(Ok(reader)) => {
                    self.source = SourceReader::Reading(reader);
                    Polled::Pending
                }
                Ok(Err(error)) => {
                    tracing::error!(%error, "the script's source cannot be read; trying again");
                    self.source = SourceReader::Waiting {
                        since: Some(Instant::now()),
                    };
                    Polled::Pending
                }
                Err(mpsc::TryRecvError::Empty) => Polled::Pending,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.source = SourceReader::Waiting {
                        since: Some(Instant::now()),
                    };
                    Polled::Pending
                }
            },
            SourceReader::Reading(reader) => match reader.poll(record) {
                Polled::Record {
                    lane,
                    offset,
                    timestamp_ms,
                } => {
                    self.next.insert(lane, offset + 1);
                    Polled::Record {
                        lane,
                        offset,
                        timestamp_ms,
                    }
                }
                // Served, the source never ends by itself.
                Polled::Ended => Polled::Pending,
                other => other,
            },
        }
    }

    /// Hands the source over to the next generation (once), from `positions` on.
    fn hand_over(&mut self, positions: BTreeMap<i32, i64>) {
        if self.handed_over {
            return;
        }
        self.handed_over = true;
        if !matches!(self.source, SourceReader::Reading(_))
            && !self.part.inbound.wait(HAND_OVER_WAIT)
        {
            tracing::error!(
                "the previous generation did not hand the source over; the next one reads on"
            );
        }
        // What this worker did not read stays where the generation before left it.
        let mut all = self.part.inbound.positions();
        all.extend(positions);
        self.part.outbound.hand_over(&all);
    }
}

impl FeedReader for ServedReader {
    fn lanes(&self) -> Vec<i32> {
        let mut lanes = self.api.lanes();
        if let SourceReader::Reading(reader) = &self.source {
            lanes.extend(reader.lanes());
        }
        lanes
    }

    fn poll(&mut self, record: &mut Vec<u8>) -> Polled {
        if !self.api_ended {
            self.source_first = !self.source_first;
            if self.source_first {
                match self.poll_source(record) {
                    Polled::Pending => {}
                    other => return other,
                }
            }
            match self.api.poll(record) {
                Polled::Ended => self.api_ended = true,
                Polled::Pending => {}
                other => return other,
            }
        }
        if self.api_ended {
            return Polled::Ended;
        }
        if self.source_first {
            return Polled::Pending;
        }
        self.poll_source(record)
    }

    fn wake_with(&mut self, activator: SyncActivator) -> bool {
        // The API wakes its source; the script's source is read at the source's ticks.
        self.api.wake_with(activator)
    }

    fn completed(&mut self, done: &[(i32, i64)]) {
        if let SourceReader::Reading(reader) = &mut self.source {
            let source: Vec<(i32, i64)> = done.iter().copied().filter(|(l, _)| *l >= 0).collect();
            for &(lane, offset) in &source {
                self.completed.insert(lane, offset + 1);
            }
            reader.completed(&source);
        }
    }

    fn close(&mut self) {
        self.api.close();
        if let SourceReader::Reading(reader) = &mut self.source {
            reader.close();
        }
        // Closed once every effect is done: everything read is complete.
        self.hand_over(self.next.clone());
    }
}

impl Drop for ServedReader {
    /// A reader dropped without closing (the dataflow failed) still lets the next generation
    /// read: after what was complete, so a record may be decided again, never skipped.
    fn drop(&mut self) {
        self.hand_over(self.completed.clone());
    }
}
