//! The status of every chain a run has started, shared between the chain operators (which
//! write it) and whoever reads it while the dataflow runs (the HTTP API, tests, benchmarks);
//! and cancellation, which travels the other way.
//!
//! A cancel request is noted here and every chain operator is woken; the operator owning the
//! chain ends it at its next activation.

use crate::provider::CallResult;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use timely::scheduling::SyncActivator;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainState {
    Running,
    /// The current step runs a sub-chain (`sub_chain` names it).
    WaitingForSubChain,
    Completed,
    Failed,
    TimedOut,
    Cancelled,
}

impl ChainState {
    pub fn is_finished(self) -> bool {
        !matches!(self, ChainState::Running | ChainState::WaitingForSubChain)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainStatus {
    pub chain_id: String,
    pub chain: String,
    /// The action that started the chain (for a sub-chain, its root's action).
    pub action_id: String,
    /// For a sub-chain: the chain whose step runs it.
    pub parent: Option<String>,
    pub state: ChainState,
    /// The step running now; after the end, the last step that ran.
    pub current_step: Option<String>,
    pub sub_chain: Option<String>,
    /// The steps that ran, in order (branches followed).
    pub path: Vec<String>,
    /// Each finished step's result, by step name.
    pub results: BTreeMap<String, CallResult>,
    /// Why the chain failed, timed out or was cancelled.
    pub error: Option<String>,
    /// Wall clock, Unix microseconds.
    pub started_at_us: i64,
    pub finished_at_us: Option<i64>,
}

/// Shared by cloning: every clone sees the same chains.
#[derive(Clone, Default)]
pub struct ChainStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Forget a chain's status as soon as it ends (`acteon run`: nothing reads ended chains,
    /// and a long run must not grow with them).
    running_only: bool,
    statuses: RwLock<HashMap<String, ChainStatus>>,
    cancels: Mutex<HashSet<String>>,
    /// One per chain operator (one per worker), woken by a cancel request.
    operators: Mutex<Vec<SyncActivator>>,
}

impl std::fmt::Debug for ChainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainStore")
            .field("chains", &self.read().len())
            .finish_non_exhaustive()
    }
}

impl ChainStore {
    /// Keeps every chain's status, ended ones until [`ChainStore::forget_finished`].
    pub fn new() -> ChainStore {
        ChainStore::default()
    }

    /// Keeps which chains are running (so they can be cancelled) and nothing else: no step
    /// progress, and an ended chain's status is dropped at once.
    pub fn running_only() -> ChainStore {
        ChainStore {
            inner: Arc::new(Inner {
                running_only: true,
                ..Inner::default()
            }),
        }
    }

    pub fn status(&self, chain_id: &str) -> Option<ChainStatus> {
        self.read().get(chain_id).cloned()
    }

    /// Every chain's status, sorted by chain id.
    pub fn statuses(&self) -> Vec<ChainStatus> {
        let mut all: Vec<ChainStatus> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.chain_id.cmp(&b.chain_id));
        all
    }

    /// Asks for a running chain to be cancelled (its running sub-chain with it); `false` when
    /// no such chain is running. The chain ends as `chain_cancelled` once its operator runs,
    /// unless it ends otherwise first.
    pub fn cancel(&self, chain_id: &str) -> bool {
        let running = self
            .read()
            .get(chain_id)
            .is_some_and(|s| !s.state.is_finished());
        if running {
            lock(&self.inner.cancels).insert(chain_id.to_owned());
            for operator in lock(&self.inner.operators).iter() {
                // An operator whose dataflow has ended has no chain to cancel.
                let _ = operator.activate();
            }
        }
        running
    }

    /// Forgets the chains that finished before `before_us` (wall clock, Unix microseconds):
    /// the cleanup of finished chains. Returns how many were forgotten.
    pub fn forget_finished(&self, before_us: i64) -> usize {
        let mut statuses = self.write();
        let before = statuses.len();
        statuses.retain(|_, s| s.finished_at_us.is_none_or(|at| at >= before_us));
        before - statuses.len()
    }

    pub(crate) fn register(&self, operator: SyncActivator) {
        lock(&self.inner.operators).push(operator);
    }

    /// The requested cancels among the chains `owns` accepts, taken out of the requests.
    pub(crate) fn take_cancels(&self, owns: impl Fn(&str) -> bool) -> Vec<String> {
        let mut cancels = lock(&self.inner.cancels);
        if cancels.is_empty() {
            return Vec::new();
        }
        let mine: Vec<String> = cancels.iter().filter(|id| owns(id)).cloned().collect();
        for id in &mine {
            cancels.remove(id);
        }
        mine
    }

    pub(crate) fn insert(&self, status: ChainStatus) {
        self.write().insert(status.chain_id.clone(), status);
    }

    pub(crate) fn update(&self, chain_id: &str, change: impl FnOnce(&mut ChainStatus)) {
        if self.inner.running_only {
            return;
        }
        if let Some(status) = self.write().get_mut(chain_id) {
            change(status);
        }
    }

    /// Chain `chain_id` has ended: `change` records how, unless ended chains are not kept.
    pub(crate) fn finish(&self, chain_id: &str, change: impl FnOnce(&mut ChainStatus)) {
        match self.inner.running_only {
            true => {
                self.write().remove(chain_id);
            }
            false => {
                if let Some(status) = self.write().get_mut(chain_id) {
                    change(status);
                }
            }
        }
        self.forget_cancel(chain_id);
    }

    /// A chain that has ended needs no cancel any more.
    fn forget_cancel(&self, chain_id: &str) {
        let mut cancels = lock(&self.inner.cancels);
        if !cancels.is_empty() {
            cancels.remove(chain_id);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, ChainStatus>> {
        // A panicking writer leaves whole entries behind: the map stays readable.
        self.inner
            .statuses
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, ChainStatus>> {
        self.inner
            .statuses
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
