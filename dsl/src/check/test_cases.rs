//! The script's tests: outcome names, and input files (relative to the script) that must
//! exist and hold one JSON value per line.

use super::{suggestion, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::plan::Outcome;
use crate::source::FileId;
use crate::syntax::ast::{Item, Str, TestEntry};

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    for (file, item) in cx.items() {
        let Item::Test(test) = item else { continue };
        for entry in &test.entries {
            match entry {
                TestEntry::ExpectOutcome { outcome, .. }
                    if Outcome::from_name(&outcome.text).is_none() =>
                {
                    let names = Outcome::ALL.map(Outcome::name);
                    let hint = suggestion(&outcome.text, names)
                        .unwrap_or_else(|| format!("outcomes: {}", names.join(", ")));
                    out.push(
                        Diagnostic::new(
                            Code::UnknownOutcome,
                            file,
                            outcome.span.clone(),
                            format!("unknown outcome `{}`", outcome.text),
                        )
                        .with_hint(hint),
                    );
                }
                TestEntry::Input { path, .. } => input(cx, file, path, out),
                _ => {}
            }
        }
    }
}

fn input(cx: &Context, file: FileId, path: &Str, out: &mut Vec<Diagnostic>) {
    let script = &cx.program.sources.file(file).path;
    let resolved = script
        .parent()
        .unwrap_or(std::path::Path::new(""))
        .join(&path.value);
    let bad = |message: String, hint: &str| {
        Diagnostic::new(Code::BadTestInput, file, path.span.clone(), message).with_hint(hint)
    };
    let text = match std::fs::read_to_string(&resolved) {
        Ok(text) => text,
        Err(error) => {
            out.push(bad(
                format!("cannot read test input `{}`: {error}", resolved.display()),
                "the path is relative to the script that names it",
            ));
            return;
        }
    };
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let broken: Vec<(usize, serde_json::Error)> = lines
        .filter_map(|(n, l)| {
            serde_json::from_str::<serde_json::Value>(l)
                .err()
                .map(|e| (n + 1, e))
        })
        .collect();
    if let Some((line, error)) = broken.first() {
        let more = match broken.len() {
            1 => String::new(),
            n => format!(" (and {} more lines)", n - 1),
        };
        out.push(bad(
            format!("line {line} of `{}` is not JSON: {error}{more}", path.value),
            "a test input holds one JSON action per line",
        ));
    }
}
