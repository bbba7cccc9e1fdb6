//! Where `acteon serve` sends the engine's audit: [`ServerSink`] keeps every record in the
//! in-memory store (read by `GET /v1/audit`), folds it into the state views (`/v1/events`,
//! `/v1/groups`), counts it for `/metrics`, and forwards the line
//! to the script's own audit destination (DynamoDB, a file, a topic). One sink serves every
//! engine generation, so the audit survives a reload. Every record is also offered to live
//! subscribers ([`ServerSink::subscribe`]: the console's live tail); with none, that costs
//! nothing. Dispatches are not answered from here: the engine answers each as its decision is
//! made ([`crate::waiting`]).

use crate::metrics::Metrics;
use crate::views::StateViews;
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::audit::sink::RecordSink;
use acteon_engine::audit::store::AuditStore;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Records kept for a live subscriber that reads slower than they come; past that it misses
/// some (and is told how many).
pub const TAIL_CAPACITY: usize = 4096;

#[derive(Debug)]
pub struct ServerSink {
    store: AuditStore,
    views: Arc<StateViews>,
    metrics: Arc<Metrics>,
    forward: Option<Arc<dyn RecordSink>>,
    /// Every record as it is written, to whoever listens.
    tail: broadcast::Sender<Arc<AuditRecord>>,
}

impl ServerSink {
    pub fn new(
        store: AuditStore,
        views: Arc<StateViews>,
        metrics: Arc<Metrics>,
        forward: Option<Arc<dyn RecordSink>>,
    ) -> ServerSink {
        ServerSink {
            store,
            views,
            metrics,
            forward,
            tail: broadcast::channel(TAIL_CAPACITY).0,
        }
    }

    /// Every record written from now on, in written order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AuditRecord>> {
        self.tail.subscribe()
    }
}

impl RecordSink for ServerSink {
    fn write(&self, record: &AuditRecord, line: &[u8]) {
        if let Some(forward) = &self.forward {
            forward.write(record, line);
        }
        self.metrics.observe(record);
        self.views.observe(record);
        if self.tail.receiver_count() > 0 {
            // No subscriber left between the check and the send is no error worth a word.
            let _ = self.tail.send(Arc::new(record.clone()));
        }
        self.store.append([record.clone()]);
    }

    fn finish(&self) -> Result<(), String> {
        match &self.forward {
            Some(forward) => forward.finish(),
            None => Ok(()),
        }
    }
}
