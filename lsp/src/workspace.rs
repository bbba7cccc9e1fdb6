//! Which script a document belongs to, and the analysis of that script.
//!
//! A file like `routing.acteon` names providers that `pipeline.acteon` declares: checked on
//! its own it would be full of unknown names. So a document is analysed as part of the script
//! whose root includes it, the way `acteon check DIR/*.acteon` checks each root once: among
//! the `.acteon` files of its directory, the one that includes it (directly or not) and that
//! no other includes. A document nothing includes is its own root.

use crate::documents::{canonical, Documents};
use crate::index::Index;
use acteon_dsl::diagnostic::json::Report;
use acteon_dsl::source::FileId;
use acteon_dsl::{compile_str_with, Compiled};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A directory with more scripts than this is not searched for roots (only the documents
/// open in it are): the search reads every file of the directory on each change.
const MAX_SCRIPTS_PER_DIRECTORY: usize = 256;
/// How deep includes are followed while looking for a root.
const MAX_INCLUDE_DEPTH: usize = 32;

/// One compiled script and what the requests read from it.
pub struct Analysis {
    pub root: PathBuf,
    pub compiled: Compiled,
    pub index: Index,
    /// One per diagnostic, in the same order.
    pub reports: Vec<Report>,
    /// The canonical path of each file of the program, by `FileId`.
    paths: Vec<PathBuf>,
}

impl Analysis {
    pub fn new(root: &Path, documents: &Documents) -> Analysis {
        let text = documents.read(root).unwrap_or_default();
        let read = |path: &Path| documents.read(path);
        let compiled = compile_str_with(root, &text, &read);
        let index = Index::build(&compiled.program);
        let reports = compiled
            .diagnostics
            .iter()
            .map(|d| Report::new(d, &compiled.program.sources))
            .collect();
        let paths = compiled
            .program
            .sources
            .files()
            .map(|(_, f)| canonical(&f.path))
            .collect();
        Analysis {
            root: root.to_path_buf(),
            compiled,
            index,
            reports,
            paths,
        }
    }

    pub fn file_id(&self, path: &Path) -> Option<FileId> {
        self.paths
            .iter()
            .position(|p| p == path)
            .map(|i| FileId(i as u32))
    }

    pub fn path(&self, file: FileId) -> &Path {
        &self.paths[file.0 as usize]
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.compiled.program.sources.file(file).text
    }
}

/// The root of the script `document` belongs to.
pub fn root_of(document: &Path, documents: &Documents) -> PathBuf {
    let Some(dir) = document.parent() else {
        return document.to_path_buf();
    };
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "acteon"))
        .take(MAX_SCRIPTS_PER_DIRECTORY + 1)
        .map(|p| canonical(&p))
        .collect();
    if candidates.len() > MAX_SCRIPTS_PER_DIRECTORY {
        candidates.clear();
    }
    candidates.extend(
        documents
            .paths()
            .filter(|p| p.parent() == Some(dir))
            .cloned(),
    );
    candidates.sort();
    candidates.dedup();
    candidates.retain(|c| c != document);

    let mut includes = Includes::new(documents);
    // A file the document includes back is on a cycle with it (an error of its own): the
    // document is then its own root, as `acteon check DOCUMENT` would have it.
    let below = includes.reachable(document);
    let containing: Vec<&PathBuf> = candidates
        .iter()
        .filter(|c| !below.contains(*c) && includes.reachable(c).contains(document))
        .collect();
    // The outermost: one that no other containing candidate includes.
    let outermost = containing.iter().find(|c| {
        !containing
            .iter()
            .any(|other| other != *c && includes.reachable(other).contains(**c))
    });
    outermost.map_or_else(|| document.to_path_buf(), |c| (*c).clone())
}

/// Which files each file includes, read by a line scan (`include "x"` on its own line, as
/// `acteon fmt` writes it): enough to find a root, which the real loader then compiles.
struct Includes<'d> {
    documents: &'d Documents,
    direct: HashMap<PathBuf, Vec<PathBuf>>,
}

impl<'d> Includes<'d> {
    fn new(documents: &'d Documents) -> Includes<'d> {
        Includes {
            documents,
            direct: HashMap::new(),
        }
    }

    fn direct(&mut self, file: &Path) -> Vec<PathBuf> {
        if let Some(known) = self.direct.get(file) {
            return known.clone();
        }
        let dir = file.parent().unwrap_or(Path::new(""));
        let text = self.documents.read(file).unwrap_or_default();
        let found: Vec<PathBuf> = text
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix("include"))
            .filter_map(|rest| {
                let rest = rest.trim_start().strip_prefix('"')?;
                Some(canonical(&dir.join(&rest[..rest.find('"')?])))
            })
            .collect();
        self.direct.insert(file.to_path_buf(), found.clone());
        found
    }

    /// Every file `file` includes, directly or not.
    fn reachable(&mut self, file: &Path) -> HashSet<PathBuf> {
        let mut seen = HashSet::new();
        let mut frontier = vec![file.to_path_buf()];
        for _ in 0..MAX_INCLUDE_DEPTH {
            let mut next = Vec::new();
            for f in frontier {
                for included in self.direct(&f) {
                    if seen.insert(included.clone()) {
                        next.push(included);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        seen
    }
}
