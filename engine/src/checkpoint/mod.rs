//! Durable state: checkpoints of every stateful operator, aligned with the feed's positions.
//!
//! A checkpoint is taken at an epoch `E`: every operator's state after every action of a time
//! before `E` was decided and audited, and before any of a later time was; each source's cut
//! (the feed positions it has read, and the records it read that belong to `E` or later); and
//! the plan's rule table, so a changed script keeps the state of the rules it kept.
//!
//! - [`store`]: the checkpoint, its manifest and checksums, and the [`store::StateStore`] trait.
//! - [`directory`]: the local-directory store (atomic rename, checksums, pruning). The
//!   DynamoDB store, for deployments without a shared disk, is `acteon_aws::state`.
//! - [`coordinator`]: the run's [`coordinator::Checkpointer`]: requests epochs, collects the
//!   parts of every worker's operators, and hands complete checkpoints to a writer thread.
//! - [`cut`]: a source's cut: feed positions and the records read ahead of its capability.
//! - [`restore`]: a loaded checkpoint mapped onto the current plan (rules kept, dropped).

pub mod coordinator;
pub mod cut;
pub mod directory;
pub mod restore;
pub mod store;

pub use coordinator::{Checkpointer, Participant};
pub use directory::DirectoryStore;
pub use restore::Restored;
pub use store::{Checkpoint, CheckpointError, Manifest, StateStore};
