//! Requests waiting for their decisions, by request token: the engine answers each from the
//! worker that decides it ([`acteon_engine::answers`]), so a request waits for its own decision
//! alone, not for its epoch's audit nor for other actions' deliveries.

use crate::dispatch::Decision;
use acteon_engine::answers::Answers;
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::time::wall_clock_ms;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Independent locks: requests register on the HTTP threads while workers answer.
const SHARDS: usize = 16;

#[derive(Debug, Default)]
pub struct Waiting {
    shards: [Mutex<FxHashMap<u64, oneshot::Sender<Decision>>>; SHARDS],
    /// The wall clock (ms) at the latest answer: reads of the audit wait until the dataflow
    /// has written past it ([`crate::dispatch::Dispatcher::settled`]).
    last_answer_ms: AtomicI64,
}

impl Waiting {
    /// Waits for the decision of the action sent with `token`; call it before the action is
    /// sent, so the decision cannot come before anyone waits for it.
    pub fn register(&self, token: u64) -> oneshot::Receiver<Decision> {
        let (sender, receiver) = oneshot::channel();
        self.shard(token).insert(token, sender);
        receiver
    }

    /// Stops waiting for `token` (the request gave up, or its action was never sent).
    pub fn forget(&self, token: u64) {
        self.shard(token).remove(&token);
    }

    /// Something was decided now that a later read must see (a group flushed on request).
    pub fn decided_now(&self) {
        self.last_answer_ms
            .fetch_max(wall_clock_ms(), Ordering::AcqRel);
    }

    /// The wall clock at the latest answer (0: none yet).
    pub fn last_answer_ms(&self) -> i64 {
        self.last_answer_ms.load(Ordering::Acquire)
    }

    fn shard(
        &self,
        token: u64,
    ) -> std::sync::MutexGuard<'_, FxHashMap<u64, oneshot::Sender<Decision>>> {
        // Tokens are sequential in their low bits: those spread requests over the shards.
        self.shards[token as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl Answers for Waiting {
    fn answer(&self, token: u64, record: &AuditRecord) {
        let Some(waiter) = self.shard(token).remove(&token) else {
            // Answered already (a later record of the same action), or given up.
            return;
        };
        self.decided_now();
        // The request may have gone (client closed): nothing to answer then.
        let _ = waiter.send(Decision::from(record));
    }
}
