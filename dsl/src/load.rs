//! Loading a script: read the root file, parse it, follow its `include`s (relative to the
//! including file), and collect syntax and include errors. The result is a [`Program`]: every
//! file's AST plus the order in which their items are evaluated.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceMap};
use crate::syntax::ast::{File, Item, ScopeDecl, Span, Str};
use crate::syntax::parse;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

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

impl ParsedFile {
    /// The file's `scope`: the first one written (a second is an error of its own).
    pub fn scope(&self) -> Option<&ScopeDecl> {
        self.ast.items.iter().find_map(|item| match item {
            Item::Scope(scope) => Some(scope),
            _ => None,
        })
    }
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

/// Reads a file's text by its canonical path. The command line reads the disk; the language
/// server reads the editor's unsaved text of the files that are open.
pub type Reader<'r> = &'r dyn Fn(&Path) -> std::io::Result<String>;

fn read_disk(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// Loads the script rooted at `path`. A root that cannot be read is reported like a missing
/// include, at the start of an empty file.
pub fn load_file(path: &Path) -> Program {
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(path, &text),
        Err(error) => {
            let mut loader = Loader::new(&read_disk);
            let root = loader.add(path, String::new(), None, None);
            loader.diagnostics.push(
                Diagnostic::new(
                    Code::IncludeMissing,
                    root,
                    0..0,
                    format!("cannot read `{}`: {error}", path.display()),
                )
                .with_hint("check the path of the script"),
            );
            loader.finish(root)
        }
    }
}

/// Loads a script whose root file's text is given; its includes are read from disk, relative
/// to `path`'s directory.
pub fn load_str(path: &Path, text: &str) -> Program {
    load_str_with(path, text, &read_disk)
}

/// [`load_str`], with included files read by `read`.
pub fn load_str_with(path: &Path, text: &str, read: Reader) -> Program {
    let mut loader = Loader::new(read);
    let canonical = std::fs::canonicalize(path).ok();
    let root = loader.add(path, text.to_string(), canonical, None);
    loader.finish(root)
}

struct Loader<'r> {
    read: Reader<'r>,
    sources: SourceMap,
    files: Vec<ParsedFile>,
    diagnostics: Vec<Diagnostic>,
    /// Canonical paths of every file loaded so far, to refuse a second include of one.
    loaded: HashSet<PathBuf>,
    /// Canonical paths of the files whose includes are being followed, root first, each with
    /// the include that brought it in (none for the root), to point along a cycle.
    stack: Vec<(PathBuf, Option<(FileId, Span)>)>,
    /// The include that first brought in each file, to point at beside a second one.
    first_include: HashMap<PathBuf, (FileId, Span)>,
}

impl<'r> Loader<'r> {
    fn new(read: Reader<'r>) -> Loader<'r> {
        Loader {
            read,
            sources: SourceMap::default(),
            files: Vec::new(),
            diagnostics: Vec::new(),
            loaded: HashSet::new(),
            stack: Vec::new(),
            first_include: HashMap::new(),
        }
    }

    /// Parses a file and, depth first, everything it includes. `canonical` is `None` for a root
    /// given as text that does not exist on disk.
    fn add(
        &mut self,
        display: &Path,
        text: String,
        canonical: Option<PathBuf>,
        via: Option<(FileId, Span)>,
    ) -> FileId {
        let id = self.sources.add(display, text);
        let parsed = parse(id, display, &self.sources.file(id).text);
        let ast = parsed.unwrap_or_else(|diagnostic| {
            self.diagnostics.push(diagnostic);
            File {
                path: display.to_path_buf(),
                items: Vec::new(),
                comments: Vec::new(),
            }
        });
        let includes: Vec<(usize, Str)> = ast
            .items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| match item {
                Item::Include(include) => Some((index, include.path.clone())),
                _ => None,
            })
            .collect();
        self.files.push(ParsedFile {
            id,
            ast,
            includes: HashMap::new(),
        });
        if let Some(canonical) = &canonical {
            self.loaded.insert(canonical.clone());
            if let Some(via) = &via {
                self.first_include.insert(canonical.clone(), via.clone());
            }
            self.stack.push((canonical.clone(), via));
        }
        let dir = display.parent().unwrap_or(Path::new(""));
        for (index, include) in includes {
            if let Some(included) = self.include(id, dir, &include) {
                self.files[id.0 as usize].includes.insert(index, included);
            }
        }
        if canonical.is_some() {
            self.stack.pop();
        }
        id
    }

    fn include(&mut self, from: FileId, dir: &Path, include: &Str) -> Option<FileId> {
        let display = dir.join(&include.value);
        let error = |code, message: String, hint: &str| {
            Diagnostic::new(code, from, include.span.clone(), message).with_hint(hint)
        };
        let read = std::fs::canonicalize(&display)
            .and_then(|canonical| Ok(((self.read)(&canonical)?, canonical)));
        let (text, canonical) = match read {
            Ok(read) => read,
            Err(e) => {
                self.diagnostics.push(error(
                    Code::IncludeMissing,
                    format!("cannot read included file `{}`: {e}", display.display()),
                    "include paths are relative to the including file",
                ));
                return None;
            }
        };
        if let Some(start) = self.stack.iter().position(|(p, _)| *p == canonical) {
            let mut diagnostic = error(
                Code::IncludeCycle,
                format!(
                    "`{}` includes itself through this include",
                    display.display()
                ),
                "remove one include of the cycle",
            )
            .with_label("closes the cycle");
            // The includes from the file that starts the cycle down to this one.
            for (_, via) in &self.stack[start + 1..] {
                if let Some((file, span)) = via {
                    diagnostic = diagnostic.with_secondary(*file, span.clone(), "included here");
                }
            }
            self.diagnostics.push(diagnostic);
            return None;
        }
        if self.loaded.contains(&canonical) {
            let mut diagnostic = error(
                Code::IncludeCycle,
                format!("`{}` is already included", display.display()),
                "include each file once",
            )
            .with_label("included again here");
            if let Some((file, span)) = self.first_include.get(&canonical) {
                diagnostic = diagnostic.with_secondary(*file, span.clone(), "first included here");
            }
            self.diagnostics.push(diagnostic);
            return None;
        }
        let via = Some((from, include.span.clone()));
        Some(self.add(&display, text, Some(canonical), via))
    }

    fn finish(self, root: FileId) -> Program {
        Program {
            sources: self.sources,
            files: self.files,
            root,
            diagnostics: self.diagnostics,
        }
    }
}
