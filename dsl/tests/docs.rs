//! The documentation against the code:
//! - every ` ```acteon ` example in `docs/` (and the README) is checked: a plain one must check
//!   clean on its own, `acteon fragment` must parse, `acteon expect=CODE[,CODE]` must get
//!   exactly those codes. Each is written to `example.acteon` in an empty directory first,
//!   beside the files of the ` ```LANG file=NAME ` blocks before it in the same section (a
//!   table's rows).
//! - `docs/diagnostics.md` is generated from the explanations of the codes
//!   (`UPDATE_DOCS=1 cargo test -p acteon-dsl --test docs` rewrites it), and every code has one
//!   with an example that gets it.
//! - no tracked file names a `.md` file that does not exist in the repository.

use acteon_dsl::diagnostic::explain::{book_chapter, explanation};
use acteon_dsl::diagnostic::Code;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One fenced example: where it is, its info string, its text, and the files written beside it.
struct Example {
    at: String,
    info: String,
    text: String,
    files: Vec<(String, String)>,
}

fn examples(name: &str, markdown: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        match &mut open {
            None => {
                if line.starts_with('#') {
                    files.clear();
                }
                if let Some(info) = line.trim_start().strip_prefix("```") {
                    open = Some((index + 1, info.trim().to_string(), String::new()));
                }
            }
            Some((start, info, text)) => {
                if line.trim_start().starts_with("```") {
                    let file = info
                        .split_whitespace()
                        .find_map(|word| word.strip_prefix("file="));
                    if let Some(file) = file {
                        files.push((file.to_string(), std::mem::take(text)));
                    } else if info.split_whitespace().next() == Some("acteon") {
                        out.push(Example {
                            at: format!("{name}:{start}"),
                            info: info.clone(),
                            text: std::mem::take(text),
                            files: files.clone(),
                        });
                    }
                    open = None;
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    out
}

/// Checks an example as its info string says; the problem, if any.
fn check(example: &Example) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &example.files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let path = dir.path().join("example.acteon");
    std::fs::write(&path, &example.text).unwrap();
    let compiled = acteon_dsl::compile_file(&path);
    let codes: Vec<&str> = compiled
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    let rendered = compiled.render_diagnostics();
    let mut words = example.info.split_whitespace().skip(1);
    match words.next() {
        None if codes.is_empty() => Ok(()),
        None => Err(format!("should check clean:\n{rendered}")),
        Some("fragment") => match codes.contains(&"E0001") {
            false => Ok(()),
            true => Err(format!("should parse:\n{rendered}")),
        },
        Some(expect) => {
            let wanted: BTreeSet<&str> = expect
                .strip_prefix("expect=")
                .ok_or_else(|| format!("unknown annotation `{expect}`"))?
                .split(',')
                .collect();
            let got: BTreeSet<&str> = codes.iter().copied().collect();
            match got == wanted {
                true => Ok(()),
                false => Err(format!("should get {wanted:?}, got:\n{rendered}")),
            }
        }
    }
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let mut dirs = vec![repo().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_acteon_example_in_the_docs_checks_as_marked() {
    let mut failures = Vec::new();
    let mut count = 0;
    for file in markdown_files() {
        let name = file
            .strip_prefix(repo())
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for example in examples(&name, &text) {
            count += 1;
            if let Err(problem) = check(&example) {
                failures.push(format!("{} ({}): {problem}", example.at, example.info));
            }
        }
    }
    assert!(count >= 40, "only {count} examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_code_is_explained_with_an_example_that_gets_it() {
    for code in Code::ALL {
        let text = explanation(code);
        let examples = examples(code.as_str(), text);
        let own = format!("acteon expect={}", code.as_str());
        assert!(
            examples.iter().any(|e| e.info == own),
            "{} has no `{own}` example",
            code.as_str()
        );
        for example in &examples {
            check(example).unwrap_or_else(|p| panic!("{} ({}): {p}", example.at, example.info));
        }
    }
}

#[test]
fn the_diagnostics_chapter_is_generated_from_the_explanations() {
    let path = repo().join("docs/diagnostics.md");
    let generated = book_chapter();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == generated,
        "docs/diagnostics.md is out of date: run `UPDATE_DOCS=1 cargo test -p acteon-dsl --test docs`"
    );
}

/// The files of the repository: git's list when this is a checkout, else every file below the
/// root but build output.
fn tracked_files() -> Vec<PathBuf> {
    let git = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(repo())
        .output();
    if let Some(out) = git
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty())
    {
        return out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect();
    }
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(repo().join(&dir)).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().to_string();
            if [".git", "target", "node_modules", ".infra"].contains(&name.as_str()) {
                continue;
            }
            let path = dir.join(&name);
            if entry.file_type().unwrap().is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Every Markdown file name a text names (a word ending in `.md`), with its line.
fn named_markdown(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for (at, _) in line.match_indices(".md") {
            let after = line[at + 3..].chars().next();
            if after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let start = line[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_-./".contains(c)))
                .map_or(0, |i| i + 1);
            let name = &line[start..at + 3];
            let before = &line[..start];
            let is_url = before.ends_with("://") || before.ends_with(':') && name.starts_with("//");
            let stem_ends_in_a_word = line[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if stem_ends_in_a_word && !is_url {
                out.push((index + 1, name.to_string()));
            }
        }
    }
    out
}

#[test]
fn every_markdown_file_a_tracked_file_names_exists() {
    let files = tracked_files();
    let known: BTreeSet<PathBuf> = files.iter().cloned().collect();
    let basenames: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.file_name())
        .map(|n| n.to_string_lossy().to_string())
        .collect();
    let mut missing = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(repo().join(file)) else {
            continue; // not text
        };
        let dir = file.parent().unwrap_or(Path::new(""));
        for (line, name) in named_markdown(&text) {
            // Relative to the file that names it, or to the root of the repository.
            let candidates = [normalise(&dir.join(&name)), normalise(Path::new(&name))];
            let exists = candidates
                .iter()
                .any(|c| known.contains(c) || repo().join(c).is_file())
                || (!name.contains('/') && basenames.contains(&name));
            if !exists {
                missing.push(format!("{}:{line}: `{name}`", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named but not in the repository:\n{}",
        missing.join("\n")
    );
}

/// `a/b/../c` as `a/c`.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn markdown_names_are_found_in_text() {
    // Written in two pieces, so that this file does not name a missing file itself.
    let text = concat!(
        "see DESIGN",
        ".md, [x](../docs/language.md#values) and https://x.org/a.md; not a.mdx\n"
    );
    let found = named_markdown(text);
    let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, [concat!("DESIGN", ".md"), "../docs/language.md"]);
}
