//! The local-directory store: `DIR/checkpoint-<sequence>/` holds `manifest.json` and one
//! `<operator>.<worker>.part` per part. A checkpoint is written into `DIR/.partial-<sequence>/`,
//! each file synced, then renamed into place, so a crash leaves either a whole checkpoint or a
//! partial directory that is never read (and is removed by the next prune).

use super::store::{Checkpoint, CheckpointError, Manifest, StateStore};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

const PREFIX: &str = "checkpoint-";
const PARTIAL: &str = ".partial-";
const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone)]
pub struct DirectoryStore {
    dir: PathBuf,
}

impl DirectoryStore {
    /// Creates the directory when it is missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<DirectoryStore, CheckpointError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        Ok(DirectoryStore { dir })
    }

    /// The directory of a stored checkpoint.
    pub fn path_of(&self, sequence: u64) -> PathBuf {
        self.dir.join(format!("{PREFIX}{sequence:010}"))
    }
}

fn io(path: &Path, source: std::io::Error) -> CheckpointError {
    CheckpointError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A part's file name: `/` in part names becomes `.`.
fn file_name(part: &str) -> String {
    format!("{}.part", part.replace('/', "."))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let mut file = File::create(path).map_err(|e| io(path, e))?;
    file.write_all(bytes).map_err(|e| io(path, e))?;
    file.sync_all().map_err(|e| io(path, e))
}

impl StateStore for DirectoryStore {
    fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let sequence = checkpoint.manifest.sequence;
        let partial = self.dir.join(format!("{PARTIAL}{sequence:010}"));
        if partial.exists() {
            fs::remove_dir_all(&partial).map_err(|e| io(&partial, e))?;
        }
        fs::create_dir_all(&partial).map_err(|e| io(&partial, e))?;
        for (name, bytes) in &checkpoint.parts {
            write_synced(&partial.join(file_name(name)), bytes)?;
        }
        let manifest = serde_json::to_vec_pretty(&checkpoint.manifest)
            .map_err(|e| CheckpointError::Encode(e.to_string()))?;
        write_synced(&partial.join(MANIFEST), &manifest)?;
        let target = self.path_of(sequence);
        fs::rename(&partial, &target).map_err(|e| io(&target, e))?;
        // The rename itself is durable once the directory is synced.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&self.dir, e))
    }

    fn sequences(&self) -> Result<Vec<u64>, CheckpointError> {
        let mut sequences: Vec<u64> = fs::read_dir(&self.dir)
            .map_err(|e| io(&self.dir, e))?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                name.to_str()?.strip_prefix(PREFIX)?.parse().ok()
            })
            .collect();
        sequences.sort_unstable_by(|a, b| b.cmp(a));
        Ok(sequences)
    }

    fn load(&self, sequence: u64) -> Result<Checkpoint, CheckpointError> {
        let dir = self.path_of(sequence);
        let corrupt = |reason: String| CheckpointError::Corrupt { sequence, reason };
        let text = fs::read(dir.join(MANIFEST)).map_err(|e| corrupt(format!("manifest: {e}")))?;
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| corrupt(format!("manifest: {e}")))?;
        if manifest.sequence != sequence {
            return Err(corrupt("the manifest names another sequence".into()));
        }
        let mut parts = BTreeMap::new();
        for entry in &manifest.parts {
            let bytes = fs::read(dir.join(file_name(&entry.name)))
                .map_err(|e| corrupt(format!("part {}: {e}", entry.name)))?;
            parts.insert(entry.name.clone(), bytes);
        }
        let checkpoint = Checkpoint { manifest, parts };
        checkpoint.verify()?;
        Ok(checkpoint)
    }

    fn prune(&self, keep: usize) -> Result<(), CheckpointError> {
        for sequence in self.sequences()?.into_iter().skip(keep) {
            let dir = self.path_of(sequence);
            fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        // Partial directories of checkpoints that were never completed.
        let newest = self.sequences()?.first().copied().unwrap_or(0);
        for entry in fs::read_dir(&self.dir).map_err(|e| io(&self.dir, e))? {
            let Ok(entry) = entry else { continue };
            let stale = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(PARTIAL)?.parse::<u64>().ok())
                .is_some_and(|s| s < newest);
            if stale {
                fs::remove_dir_all(entry.path()).map_err(|e| io(&entry.path(), e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::store::{load_latest, Layout, FORMAT};

    fn checkpoint(sequence: u64) -> Checkpoint {
        Checkpoint {
            manifest: Manifest {
                format: FORMAT,
                sequence,
                epoch: sequence * 100,
                workers: 1,
                written_at_ms: 0,
                layout: Layout {
                    rules: Vec::new(),
                    quotas: Vec::new(),
                },
                positions: [(0, 42)].into(),
                parts: Vec::new(),
            },
            parts: [("dedup/0".to_owned(), vec![1, 2, 3])].into(),
        }
        .seal()
    }

    #[test]
    fn saves_loads_prunes_and_falls_back_past_a_corrupt_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirectoryStore::open(dir.path()).unwrap();
        for sequence in 1..=4 {
            store.save(&checkpoint(sequence)).unwrap();
        }
        store.prune(3).unwrap();
        assert_eq!(store.sequences().unwrap(), [4, 3, 2]);
        let loaded = store.load(4).unwrap();
        assert_eq!(loaded.manifest.positions[&0], 42);
        assert_eq!(loaded.parts["dedup/0"], [1, 2, 3]);

        fs::write(store.path_of(4).join("dedup.0.part"), [9, 9, 9]).unwrap();
        assert!(matches!(
            store.load(4),
            Err(CheckpointError::Corrupt { sequence: 4, .. })
        ));
        fs::remove_file(store.path_of(3).join(MANIFEST)).unwrap();
        let latest = load_latest(&store).unwrap().unwrap();
        assert_eq!(latest.manifest.sequence, 2);
    }
}
