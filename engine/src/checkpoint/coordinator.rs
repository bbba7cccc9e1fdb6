//! The run's checkpoint coordinator, shared by every worker of the process.
//!
//! Every `interval` it requests a checkpoint at an epoch `E` above every source's capability
//! (taken under the same lock the sources take to move their capabilities, so no operator can
//! have passed `E` yet). Each source cuts when its capability passes `E`: its feed positions,
//! and the records it read at `E` or later. Each stateful operator saves its state once its
//! input frontier passes `E`, before it decides anything of a later time. The checkpoint is
//! complete when every participant's part is in and the audit of every time before `E` is
//! written (the probe behind the audit writer passed `E`); a writer thread then stores it, and
//! only then may the feed commit the checkpoint's positions.

use super::restore::Restored;
use super::store::{
    load_latest, Checkpoint, CheckpointError, Layout, Manifest, StateStore, FORMAT,
};
use crate::time::{wall_clock_ms, Epochs};
use std::collections::BTreeMap;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Checkpoints kept in the store: the newest and two to fall back to.
pub const KEEP: usize = 3;

/// Checkpoints requested and not yet complete, at most.
const MAX_OUTSTANDING: usize = 4;

/// Feed positions: lane -> next offset to read.
pub type Positions = BTreeMap<i32, i64>;

pub struct Checkpointer {
    interval: Duration,
    epochs: Epochs,
    workers: usize,
    layout: Layout,
    restored: Option<Restored>,
    progress: Mutex<Progress>,
    writer: Mutex<Option<(Sender<Checkpoint>, JoinHandle<()>)>>,
    /// The positions of the newest stored checkpoint, and how many were stored.
    durable: Arc<Mutex<(u64, Positions)>>,
}

struct Progress {
    /// Each worker's source capability; `None` once its input ended.
    caps: Vec<Option<u64>>,
    participants: usize,
    built: usize,
    requests: BTreeMap<u64, Request>,
    last_request: Instant,
    next_sequence: u64,
}

#[derive(Default)]
struct Request {
    parts: BTreeMap<String, Vec<u8>>,
    positions: Positions,
    audited: bool,
}

impl Checkpointer {
    /// Loads the newest good checkpoint of `store` (reporting any it skips), and starts the
    /// writer thread.
    pub fn open(
        store: Arc<dyn StateStore>,
        interval: Duration,
        epochs: Epochs,
        workers: usize,
        layout: Layout,
    ) -> Result<Checkpointer, CheckpointError> {
        let next_sequence = store.sequences()?.first().map_or(1, |s| s + 1);
        let restored = load_latest(store.as_ref())?.map(|checkpoint| {
            tracing::warn!(
                sequence = checkpoint.manifest.sequence,
                epoch = checkpoint.manifest.epoch,
                bytes = checkpoint.size(),
                "restoring the state of a checkpoint"
            );
            Restored::new(checkpoint, &layout)
        });
        let start = restored.as_ref().map_or(0, Restored::epoch);
        let durable = Arc::new(Mutex::new((0, Positions::new())));
        let (sender, checkpoints) = mpsc::channel::<Checkpoint>();
        let stored = Arc::clone(&durable);
        let writer = std::thread::spawn(move || {
            for checkpoint in checkpoints {
                let started = Instant::now();
                let saved = store.save(&checkpoint).and_then(|()| store.prune(KEEP));
                match saved {
                    Ok(()) => {
                        tracing::info!(
                            sequence = checkpoint.manifest.sequence,
                            epoch = checkpoint.manifest.epoch,
                            bytes = checkpoint.size(),
                            ms = started.elapsed().as_millis() as u64,
                            "checkpoint stored"
                        );
                        if let Ok(mut durable) = stored.lock() {
                            durable.0 += 1;
                            durable.1 = checkpoint.manifest.positions;
                        }
                    }
                    Err(error) => tracing::error!(%error, "checkpoint not stored"),
                }
            }
        });
        Ok(Checkpointer {
            interval,
            epochs,
            workers,
            layout,
            restored,
            progress: Mutex::new(Progress {
                caps: vec![Some(start); workers],
                participants: 0,
                built: 0,
                requests: BTreeMap::new(),
                last_request: Instant::now(),
                next_sequence,
            }),
            writer: Mutex::new(Some((sender, writer))),
            durable,
        })
    }

    /// The checkpoint this run started from.
    pub fn restored(&self) -> Option<&Restored> {
        self.restored.as_ref()
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers an operator of worker `worker` whose part every checkpoint needs.
    pub fn participant(self: &Arc<Self>, operator: &str, worker: usize) -> Participant {
        self.progress().participants += 1;
        Participant {
            checkpointer: Arc::clone(self),
            name: format!("{operator}/{worker}"),
            taken: self.restored.as_ref().map_or(0, Restored::epoch),
        }
    }

    /// A worker has built its dataflow (and registered its participants).
    pub fn built(&self) {
        self.progress().built += 1;
    }

    /// Worker `worker`'s source moves its capability to `to` (`None`: its input ended).
    /// Returns the requested epochs its capability passed, for which it must cut; may request
    /// the next checkpoint.
    pub fn advance(&self, worker: usize, to: Option<u64>) -> Vec<u64> {
        let mut progress = self.progress();
        let from = progress.caps[worker].unwrap_or(u64::MAX);
        progress.caps[worker] = to;
        let to = to.unwrap_or(u64::MAX);
        let due = progress
            .requests
            .range(from.saturating_add(1)..=to)
            .map(|(&epoch, _)| epoch)
            .collect();
        let ready = progress.built == self.workers
            && progress.requests.len() < MAX_OUTSTANDING
            && progress.last_request.elapsed() >= self.interval;
        let caps: Option<Vec<u64>> = progress.caps.iter().copied().collect();
        if let (true, Some(caps)) = (ready, caps) {
            let highest = caps.into_iter().max().unwrap_or(0);
            let requested = progress.requests.keys().next_back().copied().unwrap_or(0);
            let epoch = (self.epochs.of(highest as i64) + self.epochs.length_ms())
                .max(requested + self.epochs.length_ms());
            progress.requests.insert(epoch, Request::default());
            progress.last_request = Instant::now();
            tracing::debug!(epoch, "checkpoint requested");
        }
        due
    }

    /// Marks the requested epochs that `passed` says the audit has passed.
    pub fn audited(&self, passed: impl Fn(u64) -> bool) {
        let mut progress = self.progress();
        for (&epoch, request) in progress.requests.iter_mut() {
            if !request.audited && passed(epoch) {
                request.audited = true;
            }
        }
        self.complete(&mut progress);
    }

    /// How many checkpoints were stored, and the positions of the newest.
    pub fn durable(&self) -> (u64, Positions) {
        self.durable.lock().map(|d| d.clone()).unwrap_or_default()
    }

    fn add(
        &self,
        epoch: u64,
        name: &str,
        part: Result<Vec<u8>, CheckpointError>,
        positions: Positions,
    ) {
        let mut progress = self.progress();
        match part {
            Ok(bytes) => {
                if let Some(request) = progress.requests.get_mut(&epoch) {
                    request.parts.insert(name.to_owned(), bytes);
                    request.positions.extend(positions);
                }
                self.complete(&mut progress);
            }
            Err(error) => {
                tracing::error!(%error, part = name, epoch, "checkpoint abandoned");
                progress.requests.remove(&epoch);
            }
        }
    }

    /// Hands the oldest requested checkpoints to the writer, in epoch order, while each has
    /// every part and is audited.
    fn complete(&self, progress: &mut Progress) {
        while let Some(entry) = progress.requests.first_entry() {
            let request = entry.get();
            if !request.audited || request.parts.len() < progress.participants {
                return;
            }
            let (epoch, request) = entry.remove_entry();
            self.store(progress, epoch, request);
        }
    }

    fn store(&self, progress: &mut Progress, epoch: u64, request: Request) {
        let sequence = progress.next_sequence;
        progress.next_sequence += 1;
        let checkpoint = Checkpoint {
            manifest: Manifest {
                format: FORMAT,
                sequence,
                epoch,
                workers: self.workers,
                written_at_ms: wall_clock_ms(),
                layout: self.layout.clone(),
                positions: request.positions,
                parts: Vec::new(),
            },
            parts: request.parts,
        }
        .seal();
        if let Ok(writer) = self.writer.lock() {
            if let Some((sender, _)) = writer.as_ref() {
                let _ = sender.send(checkpoint);
            }
        }
    }

    /// Waits until every complete checkpoint is stored.
    pub fn finish(&self) {
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some((sender, handle)) = writer {
            drop(sender);
            let _ = handle.join();
        }
    }
}

/// One operator of one worker, as the coordinator sees it.
pub struct Participant {
    checkpointer: Arc<Checkpointer>,
    name: String,
    /// The newest epoch this participant saved its part for.
    taken: u64,
}

impl Participant {
    pub fn restored(&self) -> Option<&Restored> {
        self.checkpointer.restored()
    }

    pub fn checkpointer(&self) -> &Checkpointer {
        &self.checkpointer
    }

    /// The operator is about to decide times at `upto` (or its input frontier passed
    /// `upto`): saves `snapshot(E)` for every requested epoch `E <= upto` not yet saved.
    /// Called before deciding anything at `upto`, so the part holds the state of the times
    /// before `E` only. Returns the newest epoch saved now, if any.
    pub fn reach(
        &mut self,
        upto: u64,
        mut snapshot: impl FnMut(u64) -> Result<Vec<u8>, CheckpointError>,
    ) -> Option<u64> {
        let mut saved = None;
        for epoch in self.due(upto) {
            self.checkpointer
                .add(epoch, &self.name, snapshot(epoch), Positions::new());
            self.taken = epoch;
            saved = Some(epoch);
        }
        saved
    }

    /// A source's cut at `epoch`, with the feed positions it covers.
    pub fn cut(
        &mut self,
        epoch: u64,
        part: Result<Vec<u8>, CheckpointError>,
        positions: Positions,
    ) {
        self.checkpointer.add(epoch, &self.name, part, positions);
        self.taken = self.taken.max(epoch);
    }

    fn due(&self, upto: u64) -> Vec<u64> {
        if upto <= self.taken {
            return Vec::new();
        }
        self.checkpointer
            .progress()
            .requests
            .range(self.taken + 1..=upto)
            .map(|(&epoch, _)| epoch)
            .collect()
    }
}
