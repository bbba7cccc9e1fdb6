//! The HTTP API as the engine's source: a [`Feed`] with one lane per worker of this process,
//! so every worker reads requests. Dispatch handlers decode each body with the generation's
//! decoder (a body that is not an action is the client's error, answered 400 before it gets
//! here), give it its request token, and push it onto a lane ([`ApiLanes::send`]), round-robin;
//! the push wakes the lane's source if it sleeps, so an idle server decides a request at once
//! instead of at its next tick.
//!
//! A lane never ends while a sender lives; dropping every sender (shutdown, or a reload that
//! replaces the engine) ends the feed, and the engine then finishes what it holds and returns.
//! Lanes are numbered below zero (lane `-1 - w` is worker `w`'s) so they never meet a Kafka
//! source's partitions in the same dataflow.

use acteon_engine::action::{api_token, Action};
use acteon_engine::control::GroupFlush;
use acteon_engine::feed::{Feed, FeedReader, Polled, SyncActivator, Wakeup};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{self, error::TryRecvError};

/// Requests (single actions or batches) waiting in one lane; a full lane makes dispatch
/// handlers wait (backpressure).
pub const LANE_CAPACITY: usize = 4096;

/// What goes down a lane: a request's actions, or a request to flush waiting groups (sent
/// down every lane: any worker may hold a group it names).
#[derive(Debug)]
pub enum Request {
    Actions(Vec<Action>),
    FlushGroups(GroupFlush),
}

/// The feed the engine reads: one receiving end per worker of this process.
#[derive(Debug)]
pub struct ApiFeed {
    /// Taken by the worker each belongs to, once.
    receivers: Mutex<Vec<Option<mpsc::Receiver<Request>>>>,
    wakeups: Vec<Arc<Wakeup>>,
    /// The global index of this process's first worker.
    first_worker: usize,
}

/// The sending ends, shared by every dispatch handler of a generation.
#[derive(Debug)]
pub struct ApiLanes {
    lanes: Vec<Lane>,
    next: AtomicUsize,
    first_worker: usize,
    /// Request sequence numbers, unique to the server (every generation takes from it).
    sequence: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Lane {
    sender: mpsc::Sender<Request>,
    wakeup: Arc<Wakeup>,
}

/// A lane picked for one request: the tokens of its actions name the lane's worker.
pub struct Picked<'a> {
    lanes: &'a ApiLanes,
    index: usize,
}

impl Picked<'_> {
    /// The token of a new request in this lane.
    pub fn token(&self) -> u64 {
        let sequence = self.lanes.sequence.fetch_add(1, Ordering::Relaxed);
        api_token(self.lanes.first_worker + self.index, sequence)
    }

    /// Sends actions (decoded with this lane's tokens) to the engine and wakes the lane's
    /// worker; `Err` when the generation has ended.
    pub async fn send(self, actions: Vec<Action>) -> Result<(), Ended> {
        let lane = &self.lanes.lanes[self.index];
        lane.sender
            .send(Request::Actions(actions))
            .await
            .map_err(|_| Ended)?;
        lane.wakeup.wake();
        Ok(())
    }
}

/// The generation's feed has ended (a reload retired it, or the server is stopping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended;

/// The feed of a process whose first worker is `first_worker` and which runs `workers`
/// workers, and its sending ends; `sequence` numbers requests across generations.
pub fn api_feed(
    first_worker: usize,
    workers: usize,
    sequence: Arc<AtomicU64>,
) -> (ApiFeed, ApiLanes) {
    let mut receivers = Vec::with_capacity(workers);
    let mut lanes = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        let (sender, receiver) = mpsc::channel(LANE_CAPACITY);
        receivers.push(Some(receiver));
        lanes.push(Lane {
            sender,
            wakeup: Arc::new(Wakeup::default()),
        });
    }
    let feed = ApiFeed {
        receivers: Mutex::new(receivers),
        wakeups: lanes.iter().map(|l| Arc::clone(&l.wakeup)).collect(),
        first_worker,
    };
    let lanes = ApiLanes {
        lanes,
        next: AtomicUsize::new(0),
        first_worker,
        sequence,
    };
    (feed, lanes)
}

impl ApiLanes {
    /// Asks every worker of this process to flush the waiting groups `request` names; its
    /// tally must expect one answer per lane ([`ApiLanes::workers`]).
    pub async fn flush_groups(&self, request: GroupFlush) -> Result<(), Ended> {
        for lane in &self.lanes {
            lane.sender
                .send(Request::FlushGroups(request.clone()))
                .await
                .map_err(|_| Ended)?;
            lane.wakeup.wake();
        }
        Ok(())
    }

    /// The workers the lanes go to.
    pub fn workers(&self) -> usize {
        self.lanes.len()
    }

    /// The next lane, round-robin.
    pub fn pick(&self) -> Picked<'_> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        Picked { lanes: self, index }
    }
}

/// Lane `-1 - worker`: below every Kafka partition.
fn lane_of(worker: usize) -> i32 {
    -1 - i32::try_from(worker).unwrap_or(i32::MAX - 1)
}

impl Feed for ApiFeed {
    fn open(
        &self,
        index: usize,
        _peers: usize,
        _resume: &std::collections::BTreeMap<i32, i64>,
    ) -> Result<Box<dyn FeedReader>, String> {
        let local = index.checked_sub(self.first_worker);
        let receiver = local.and_then(|local| {
            self.receivers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(local)
                .and_then(Option::take)
        });
        Ok(Box::new(ApiReader {
            lane: lane_of(index),
            wakeup: local.and_then(|l| self.wakeups.get(l)).cloned(),
            receiver,
            taken: VecDeque::new(),
            next_offset: 0,
            caught_up: true,
        }))
    }

    fn dead_letter(&self, position: acteon_engine::action::Position, reason: &str, _record: &[u8]) {
        // Dispatch decodes bodies before they reach the feed, and answers a bad one 400: there
        // is no dead-letter destination to write to.
        tracing::warn!(
            ?position,
            reason,
            "an API action was rejected by the engine"
        );
    }

    fn commits(&self) -> bool {
        false
    }
}

struct ApiReader {
    lane: i32,
    /// `None` on a worker without a lane (none of this process's).
    receiver: Option<mpsc::Receiver<Request>>,
    wakeup: Option<Arc<Wakeup>>,
    /// The rest of the last request taken (a batch).
    taken: VecDeque<Action>,
    next_offset: i64,
    /// Whether the lane was reported caught up since its last record (reported once, since
    /// the source polls again straight after a `CaughtUp`).
    caught_up: bool,
}

impl ApiReader {
    fn decoded(&mut self, action: Action) -> Polled {
        let offset = self.next_offset;
        self.next_offset += 1;
        self.caught_up = false;
        Polled::Decoded {
            lane: self.lane,
            offset,
            action: Box::new(action),
        }
    }
}

impl FeedReader for ApiReader {
    fn lanes(&self) -> Vec<i32> {
        match self.receiver {
            Some(_) => vec![self.lane],
            None => Vec::new(),
        }
    }

    fn poll(&mut self, _record: &mut Vec<u8>) -> Polled {
        if let Some(action) = self.taken.pop_front() {
            return self.decoded(action);
        }
        let Some(receiver) = self.receiver.as_mut() else {
            return Polled::Ended;
        };
        let mut received = receiver.try_recv();
        if matches!(received, Err(TryRecvError::Empty)) && self.caught_up {
            // About to sleep: look once more after saying so, so that a request sent in
            // between wakes the source rather than waiting for its tick.
            if let Some(wakeup) = &self.wakeup {
                wakeup.sleeping();
                received = receiver.try_recv();
                if received.is_ok() {
                    wakeup.awake();
                }
            }
        }
        match received {
            Ok(Request::FlushGroups(request)) => Polled::FlushGroups(request),
            Ok(Request::Actions(actions)) => {
                self.taken = actions.into();
                match self.taken.pop_front() {
                    Some(action) => self.decoded(action),
                    None => Polled::Pending,
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

    fn wake_with(&mut self, activator: SyncActivator) -> bool {
        match &self.wakeup {
            Some(wakeup) => {
                wakeup.attach(activator);
                true
            }
            None => false,
        }
    }

    fn completed(&mut self, _done: &[(i32, i64)]) {
        // Nothing to commit: a request is answered once its action is decided.
    }

    fn close(&mut self) {}
}
