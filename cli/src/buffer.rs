//! Sink buffer flags, and the audit destinations that can be down (a DynamoDB table, a Kafka
//! topic) wrapped in their buffers.

use acteon_engine::audit::buffer::{
    Acknowledge, Backpressure, BufferSettings, Destination, SinkBuffer, Storage, DEFAULT_BOUND,
};
use acteon_engine::audit::sink::RecordSink;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// With a buffer on disk, how long the end of a run waits for a destination that is down
/// before leaving the rest to the next run.
const DISK_DRAIN: Duration = Duration::from_secs(30);

/// While an audit destination (DynamoDB, a topic) is down, its records wait in a buffer: on
/// disk under --checkpoint-dir when there is one, else in memory (lost if the process dies).
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Sink buffers")]
pub struct BufferArgs {
    /// Records each audit destination's buffer holds while the destination is down; once one
    /// is full the input waits (a Kafka source stops fetching, the HTTP API answers 503 with
    /// Retry-After) until it is half empty. Nothing is dropped.
    #[arg(long, value_name = "RECORDS", default_value_t = DEFAULT_BOUND)]
    sink_buffer: usize,
}

/// The buffers of one process, and how they are made.
#[derive(Debug, Clone)]
pub struct Buffers {
    pub backpressure: Backpressure,
    settings: BufferSettings,
}

impl BufferArgs {
    /// Buffers in `dir/sink-buffers` (else in memory); `acknowledge`: when `finish` counts a
    /// record as written.
    pub fn buffers(&self, dir: Option<&Path>, acknowledge: Acknowledge) -> Buffers {
        Buffers {
            backpressure: Backpressure::new(),
            settings: BufferSettings {
                bound: self.sink_buffer.max(1),
                storage: match dir {
                    Some(dir) => Storage::Directory(dir.join("sink-buffers")),
                    None => Storage::Memory,
                },
                acknowledge,
            },
        }
    }
}

impl Buffers {
    /// `destination` behind a buffer of its own.
    pub fn sink(
        &self,
        destination: impl Destination + 'static,
    ) -> anyhow::Result<Arc<dyn RecordSink>> {
        let name = destination.name();
        let buffer = SinkBuffer::start(
            Arc::new(destination),
            self.settings.clone(),
            &self.backpressure,
        )
        .map_err(|e| anyhow::anyhow!("cannot open the sink buffer of {name}: {e}"))?;
        Ok(Arc::new(buffer))
    }

    /// At the end: waits for every buffer to drain; one on disk that cannot drain in time is
    /// left for the next run with the same checkpoint directory, and said so.
    pub fn drain(&self) {
        let on_disk = matches!(self.settings.storage, Storage::Directory(_));
        let left = self.backpressure.drain(on_disk.then_some(DISK_DRAIN));
        if let (true, Storage::Directory(dir)) = (left > 0, &self.settings.storage) {
            eprintln!(
                "warning: {left} audit records are still buffered in {} (their destination is down); \
                 the next start with this checkpoint directory delivers them",
                dir.display()
            );
        }
    }
}
