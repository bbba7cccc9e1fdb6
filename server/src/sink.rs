//! Where `acteon serve` sends the engine's audit: [`ServerSink`] keeps every record in the
//! in-memory store (read by `GET /v1/audit`), counts it for `/metrics`, answers the dispatch
//! request waiting for that action's decision, and forwards the line to the script's own audit
//! destination (DynamoDB, a file, a topic). One sink serves every engine generation, so the audit and
//! the waiting requests survive a reload. Every record is also offered to live subscribers
//! ([`ServerSink::subscribe`]: the console's live tail); with none, that costs nothing.

use crate::metrics::Metrics;
use acteon_dsl::plan::Outcome;
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::audit::sink::RecordSink;
use acteon_engine::audit::store::AuditStore;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, oneshot};

/// Records kept for a live subscriber that reads slower than they come; past that it misses
/// some (and is told how many).
pub const TAIL_CAPACITY: usize = 4096;

#[derive(Debug)]
pub struct ServerSink {
    store: AuditStore,
    metrics: Arc<Metrics>,
    /// Per action id, the requests waiting for its decision, oldest first.
    waiters: Mutex<HashMap<String, VecDeque<oneshot::Sender<AuditRecord>>>>,
    forward: Option<Arc<dyn RecordSink>>,
    /// Every record as it is written, to whoever listens.
    tail: broadcast::Sender<Arc<AuditRecord>>,
}

impl ServerSink {
    pub fn new(
        store: AuditStore,
        metrics: Arc<Metrics>,
        forward: Option<Arc<dyn RecordSink>>,
    ) -> ServerSink {
        ServerSink {
            store,
            metrics,
            waiters: Mutex::new(HashMap::new()),
            forward,
            tail: broadcast::channel(TAIL_CAPACITY).0,
        }
    }

    /// Every record written from now on, in written order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AuditRecord>> {
        self.tail.subscribe()
    }

    /// Registers interest in the next deciding record of `action_id`; call it before the
    /// action is sent, so the decision cannot be written before anyone waits for it.
    pub fn wait_for(&self, action_id: &str) -> oneshot::Receiver<AuditRecord> {
        let (sender, receiver) = oneshot::channel();
        self.lock_waiters()
            .entry(action_id.to_owned())
            .or_default()
            .push_back(sender);
        receiver
    }

    /// Stops waiting for `action_id` (the request gave up): drops closed waiters.
    pub fn forget(&self, action_id: &str) {
        let mut waiters = self.lock_waiters();
        if let Some(queue) = waiters.get_mut(action_id) {
            queue.retain(|w| !w.is_closed());
            if queue.is_empty() {
                waiters.remove(action_id);
            }
        }
    }

    fn lock_waiters(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<oneshot::Sender<AuditRecord>>>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a record decides its action (the answer to a dispatch), rather than reporting a
/// chain's progress, which carries the starting action's id too.
fn decides(outcome: Outcome) -> bool {
    !matches!(
        outcome,
        Outcome::ChainStepCompleted
            | Outcome::ChainStepFailed
            | Outcome::ChainCompleted
            | Outcome::ChainFailed
            | Outcome::ChainTimedOut
            | Outcome::ChainCancelled
    )
}

impl RecordSink for ServerSink {
    fn write(&self, record: &AuditRecord, line: &[u8]) {
        if let Some(forward) = &self.forward {
            forward.write(record, line);
        }
        let record = record.clone();
        self.metrics.observe(&record);
        if self.tail.receiver_count() > 0 {
            // No subscriber left between the check and the send is no error worth a word.
            let _ = self.tail.send(Arc::new(record.clone()));
        }
        let waiter = match decides(record.outcome) {
            true => {
                let mut waiters = self.lock_waiters();
                let waiter = waiters
                    .get_mut(&*record.action_id)
                    .and_then(VecDeque::pop_front);
                if waiters
                    .get(&*record.action_id)
                    .is_some_and(VecDeque::is_empty)
                {
                    waiters.remove(&*record.action_id);
                }
                waiter
            }
            false => None,
        };
        // Stored before the answer goes out: a client reading the audit next finds it.
        let answer = waiter.map(|w| (w, record.clone()));
        self.store.append([record]);
        if let Some((waiter, record)) = answer {
            // The request may have given up (timeout, client gone): nothing to answer then.
            let _ = waiter.send(record);
        }
    }

    fn finish(&self) -> Result<(), String> {
        match &self.forward {
            Some(forward) => forward.finish(),
            None => Ok(()),
        }
    }
}
