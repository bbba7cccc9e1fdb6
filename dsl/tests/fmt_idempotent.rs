//! The formatter over every script in the repository: formatting twice changes nothing, every
//! comment survives, and the formatted script compiles to the same plan.

use acteon_dsl::fmt::format;
use acteon_dsl::source::FileId;
use acteon_dsl::syntax::parse;
use acteon_dsl::{compile_file, compile_str};
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() && !name.starts_with('.') && name != "target" {
            scripts(&path, out);
        } else if name.ends_with(".acteon") {
            out.push(path);
        }
    }
}

fn repository_scripts() -> Vec<PathBuf> {
    let mut out = Vec::new();
    scripts(&workspace_root(), &mut out);
    out.sort();
    assert!(
        !out.is_empty(),
        "no .acteon files found under {}",
        workspace_root().display()
    );
    out
}

fn comment_texts(text: &str, path: &Path) -> Vec<String> {
    let file = parse(FileId(0), path, text).unwrap();
    file.comments
        .iter()
        .map(|c| c.text.trim_end().to_string())
        .collect()
}

/// The formatted text, after checking it is a fixed point and keeps every comment.
fn format_checked(path: &Path, text: &str) -> Option<String> {
    let file = parse(FileId(0), path, text).ok()?;
    let once = format(&file, text);
    let reparsed = parse(FileId(0), path, &once).unwrap_or_else(|d| {
        panic!(
            "{}: formatted text does not parse: {}\n{once}",
            path.display(),
            d.message
        )
    });
    let twice = format(&reparsed, &once);
    assert_eq!(
        once,
        twice,
        "{}: formatting is not idempotent",
        path.display()
    );
    assert_eq!(
        comment_texts(text, path),
        comment_texts(&once, path),
        "{}: comments changed",
        path.display()
    );
    Some(once)
}

#[test]
fn every_repository_script_formats_idempotently_to_the_same_plan() {
    let mut formatted = 0;
    for path in repository_scripts() {
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(once) = format_checked(&path, &text) else {
            // The checker's fixtures include scripts that do not parse on purpose.
            continue;
        };
        formatted += 1;
        let Some(plan) = compile_file(&path).plan else {
            continue;
        };
        let compiled = compile_str(&path, &once);
        let Some(after) = compiled.plan.clone() else {
            panic!(
                "{}: formatted script does not compile:\n{}",
                path.display(),
                compiled.render_diagnostics()
            );
        };
        assert_eq!(
            comparable(plan),
            comparable(after),
            "{}: plan changed",
            path.display()
        );
    }
    assert!(formatted > 0);
}

#[test]
fn the_seed_pipeline_is_canonical() {
    let dir = workspace_root().join("pipelines/aws-event-pipeline");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "acteon") {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = parse(FileId(0), &path, &text).unwrap();
            let formatted = format(&file, &text);
            if formatted != text {
                panic!(
                    "{} is not canonical; formatted:\n{formatted}",
                    path.display()
                );
            }
        }
    }
}

/// A plan without source positions: `without_origins` keeps the tests' lines, which formatting
/// is free to move.
fn comparable(plan: acteon_dsl::plan::Plan) -> acteon_dsl::plan::Plan {
    let mut plan = plan.without_origins();
    for test in &mut plan.tests {
        test.line = 0;
    }
    plan
}
