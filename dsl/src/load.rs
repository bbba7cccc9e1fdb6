//! Loading a script: read the root file, parse it, follow its `include`s (relative to the
//! including file), and collect syntax and include errors. The result is a [`Program`]: every
//! file's AST plus the order in which their items are evaluated.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceMap};
use crate::syntax::ast::{File, Item};
use std::collections::HashMap;

/// All files of one script.
#[derive(Debug, Clone)]
pub struct Program {
    pub sources: SourceMap,
    /// Indexed by `FileId.0`. A file that failed to parse has no items.
    pub files: Vec<ParsedFile>,
    pub root: FileId,
    /// Syntax and include errors found while loading.
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub id: FileId,
    pub ast: File,
    /// For each `include` item (by its index in `ast.items`), the file it loaded; missing,
    /// unreadable or cyclic includes have no entry.
    pub includes: HashMap<usize, FileId>,
}

impl Program {
    pub fn file(&self, id: FileId) -> &ParsedFile {
        &self.files[id.0 as usize]
    }

    /// Every item in source order, an include replaced in place by the included file's items
    /// (the `include` item itself comes first). This is the order ties in priority keep.
    pub fn items(&self) -> Vec<(FileId, &Item)> {
        let mut out = Vec::new();
        self.push_items(self.root, &mut out);
        out
    }

    fn push_items<'a>(&'a self, id: FileId, out: &mut Vec<(FileId, &'a Item)>) {
        let file = self.file(id);
        for (index, item) in file.ast.items.iter().enumerate() {
            out.push((id, item));
            if let Some(&included) = file.includes.get(&index) {
                self.push_items(included, out);
            }
        }
    }
}
