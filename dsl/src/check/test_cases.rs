//! The script's tests: outcome names, and input files (relative to the script) that must
//! exist and be readable. Their lines need not be JSON: malformed lines are a way to test
//! `rejected`.

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

/// E0602 is for an input file that cannot be read at all. Lines that are not JSON are
/// allowed: a test may feed malformed lines on purpose to see them `rejected`.
fn input(cx: &Context, file: FileId, path: &Str, out: &mut Vec<Diagnostic>) {
    let resolved = cx.relative(file, &path.value);
    let problem = match std::fs::metadata(&resolved) {
        Ok(meta) if meta.is_dir() => Some("it is a directory".to_string()),
        Ok(_) => std::fs::File::open(&resolved).err().map(|e| e.to_string()),
        Err(error) => Some(error.to_string()),
    };
    if let Some(problem) = problem {
        out.push(
            Diagnostic::new(
                Code::BadTestInput,
                file,
                path.span.clone(),
                format!("cannot read test input `{}`: {problem}", resolved.display()),
            )
            .with_hint("the path is relative to the script that names it"),
        );
    }
}
