//! The checkpoint as stored: a manifest (JSON) and one binary part per operator and worker,
//! each part with its length and CRC-32 in the manifest, and the store interface.

use acteon_dsl::plan::{Plan, Quota, RuleAction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the checkpoint layout; a checkpoint of another version is not restored.
pub const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint store {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("checkpoint {sequence} is corrupt: {reason}")]
    Corrupt { sequence: u64, reason: String },
    #[error("checkpoint state cannot be encoded: {0}")]
    Encode(String),
    /// A store that is not a file system (a database) failed; `store` names it.
    #[error("checkpoint store {store}: {reason}")]
    Store { store: String, reason: String },
}

/// A rule as the checkpoint knows it: state is restored to a rule of the same name and action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleIdentity {
    pub name: String,
    pub action: RuleAction,
}

/// The plan's stateful identities, in the plan's order (state refers to rules by index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub rules: Vec<RuleIdentity>,
    pub quotas: Vec<Quota>,
}

impl Layout {
    pub fn of(plan: &Plan) -> Layout {
        Layout {
            rules: plan
                .rules
                .iter()
                .map(|rule| RuleIdentity {
                    name: rule.name.clone(),
                    action: rule.action.clone(),
                })
                .collect(),
            quotas: plan.quotas.clone(),
        }
    }
}

/// A part's place in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartEntry {
    pub name: String,
    pub bytes: u64,
    pub crc32: u32,
}

/// What a checkpoint holds besides its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Increases by one per checkpoint of a store.
    pub sequence: u64,
    /// The timely epoch (milliseconds) the state is taken at.
    pub epoch: u64,
    pub workers: usize,
    pub written_at_ms: i64,
    pub layout: Layout,
    /// Per feed lane (Kafka partition): the next offset to read.
    pub positions: BTreeMap<i32, i64>,
    pub parts: Vec<PartEntry>,
}

/// A whole checkpoint in memory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub manifest: Manifest,
    /// Part name (`<operator>/<worker>`) -> bytes.
    pub parts: BTreeMap<String, Vec<u8>>,
}

impl Checkpoint {
    /// Fills in the manifest's part entries from the parts.
    pub fn seal(mut self) -> Checkpoint {
        self.manifest.parts = self
            .parts
            .iter()
            .map(|(name, bytes)| PartEntry {
                name: name.clone(),
                bytes: bytes.len() as u64,
                crc32: crc32fast::hash(bytes),
            })
            .collect();
        self
    }

    /// Every part is there, with its length and checksum; the format is this one.
    pub fn verify(&self) -> Result<(), CheckpointError> {
        let corrupt = |reason: String| CheckpointError::Corrupt {
            sequence: self.manifest.sequence,
            reason,
        };
        if self.manifest.format != FORMAT {
            return Err(corrupt(format!("format {}", self.manifest.format)));
        }
        for entry in &self.manifest.parts {
            let bytes = self
                .parts
                .get(&entry.name)
                .ok_or_else(|| corrupt(format!("part {} is missing", entry.name)))?;
            if bytes.len() as u64 != entry.bytes || crc32fast::hash(bytes) != entry.crc32 {
                return Err(corrupt(format!("part {} fails its checksum", entry.name)));
            }
        }
        Ok(())
    }

    /// The size of the parts, in bytes.
    pub fn size(&self) -> u64 {
        self.parts.values().map(|p| p.len() as u64).sum()
    }
}

/// Where checkpoints are kept. `save` is atomic: a checkpoint is either wholly there or absent.
pub trait StateStore: Send + Sync + std::fmt::Debug {
    fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError>;
    /// The sequences of the stored checkpoints, newest first.
    fn sequences(&self) -> Result<Vec<u64>, CheckpointError>;
    /// One checkpoint, verified.
    fn load(&self, sequence: u64) -> Result<Checkpoint, CheckpointError>;
    /// Removes all but the newest `keep` checkpoints.
    fn prune(&self, keep: usize) -> Result<(), CheckpointError>;
}

/// The newest checkpoint that loads and verifies; each one that does not is reported and
/// skipped, so a corrupt or partial newest checkpoint falls back to the previous one.
pub fn load_latest(store: &dyn StateStore) -> Result<Option<Checkpoint>, CheckpointError> {
    for sequence in store.sequences()? {
        match store.load(sequence) {
            Ok(checkpoint) => return Ok(Some(checkpoint)),
            Err(error) => {
                tracing::warn!(%error, "checkpoint skipped; trying the previous one");
            }
        }
    }
    Ok(None)
}

/// Encodes a part's state (bincode with variable-length integers: small numbers take a byte).
pub fn encode<T: Serialize>(state: &T) -> Result<Vec<u8>, CheckpointError> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .serialize(state)
        .map_err(|e| CheckpointError::Encode(e.to_string()))
}

/// Decodes a verified part's state.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, CheckpointError> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .deserialize(bytes)
        .map_err(|e| CheckpointError::Encode(e.to_string()))
}
