//! A source's cut: where its input stood when its capability passed a checkpoint's epoch.
//!
//! The source keeps the records it emitted at or after its capability (on the event clock, an
//! action's epoch can be ahead of the capability): when the capability passes a checkpoint's
//! epoch `E`, those at `E` or later are not in the operators' state of `E`, so the cut carries
//! them, to be emitted again at start, with the positions read so far.

use super::coordinator::{Participant, Positions};
use super::restore::Restored;
use super::store::encode;
use crate::action::Position;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A record read and emitted at `time` that a checkpoint at or before `time` does not cover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub time: u64,
    pub position: Position,
    /// The event time of an action without `created_at`, as it was when read.
    pub default_ms: i64,
    pub record: Vec<u8>,
}

/// A feed lane in a cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneCut {
    pub lane: i32,
    /// The next offset to read; `None` when nothing was read from it.
    pub next: Option<i64>,
    pub max_seen: Option<i64>,
    /// It had no record waiting: it does not hold the frontier back after a restore until
    /// its next record comes.
    pub caught_up: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceCut {
    pub max_seen: Option<i64>,
    /// Lines of a JSON-lines input read so far.
    pub lines: u64,
    pub lanes: Vec<LaneCut>,
    pub pending: Vec<Pending>,
}

impl SourceCut {
    /// The cut a worker resumes from: with a feed, the lanes it reads (from whichever worker
    /// read them before) and their pending records; with lines, its own earlier cut (the same
    /// number of workers is needed, as each worker's share of the lines depends on it).
    pub fn resume(
        restored: &Restored,
        worker: usize,
        peers: usize,
        lanes: Option<&[i32]>,
    ) -> SourceCut {
        let cuts = restored.parts::<SourceCut>("source");
        match lanes {
            Some(mine) => {
                let mut resumed = SourceCut::default();
                for (_, cut) in cuts {
                    resumed
                        .lanes
                        .extend(cut.lanes.into_iter().filter(|l| mine.contains(&l.lane)));
                    resumed.pending.extend(cut.pending.into_iter().filter(|p| {
                        matches!(p.position, Position::Kafka { partition, .. } if mine.contains(&partition))
                    }));
                }
                resumed.max_seen = resumed.lanes.iter().filter_map(|l| l.max_seen).max();
                resumed.pending.sort_by_key(|p| (p.time, p.position));
                resumed
            }
            None if restored.manifest.workers != peers => {
                tracing::warn!(
                    before = restored.manifest.workers,
                    now = peers,
                    "the input is read from its start: a lines input resumes only with the same number of workers"
                );
                SourceCut::default()
            }
            None => cuts
                .into_iter()
                .find(|(w, _)| *w == worker)
                .map(|(_, cut)| cut)
                .unwrap_or_default(),
        }
    }
}

/// The source's side of checkpoints.
pub struct SourceCheckpoints {
    participant: Participant,
    worker: usize,
    /// Records emitted at or after the capability, by time.
    ahead: BTreeMap<u64, Vec<Pending>>,
    /// How many stored checkpoints the feed has been told of.
    durable: u64,
}

impl SourceCheckpoints {
    pub fn new(participant: Participant, worker: usize) -> SourceCheckpoints {
        SourceCheckpoints {
            participant,
            worker,
            ahead: BTreeMap::new(),
            durable: 0,
        }
    }

    pub fn emitted(&mut self, pending: Pending) {
        self.ahead.entry(pending.time).or_default().push(pending);
    }

    /// The capability moves to `to` (`None`: the input ended): cuts for every checkpoint
    /// epoch it passes, `cut` giving the positions read so far.
    pub fn advance(&mut self, to: Option<u64>, cut: impl Fn() -> SourceCut) {
        for epoch in self.participant.checkpointer().advance(self.worker, to) {
            let mut at = cut();
            at.pending = self
                .ahead
                .range(epoch..)
                .flat_map(|(_, p)| p.iter().cloned())
                .collect();
            let positions = at
                .lanes
                .iter()
                .filter_map(|l| Some((l.lane, l.next?)))
                .collect();
            self.participant.cut(epoch, encode(&at), positions);
        }
        if let Some(to) = to {
            self.ahead = self.ahead.split_off(&to);
        }
    }

    /// The positions of a checkpoint stored since the last call: the feed may commit them.
    pub fn newly_durable(&mut self) -> Option<Positions> {
        let (stored, positions) = self.participant.checkpointer().durable();
        (stored > self.durable).then(|| {
            self.durable = stored;
            positions
        })
    }
}
