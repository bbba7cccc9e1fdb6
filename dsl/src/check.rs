//! Name resolution and every semantic check of a loaded [`Program`], all errors in one pass.
//!
//! One module per concern:
//! - [`names`]: the program's symbols, duplicate names, unresolved references.
//! - [`conditions`]: field paths and regexes in rule conditions and step branches.
//! - [`quantities`]: durations that must not be zero, counts that must be at least one.
//! - [`cron`]: five-field cron expressions.
//! - [`settings`]: the `key = value` blocks, per block kind; blocks that may appear once.
//! - [`templates`]: `{{...}}` references in step payloads.
//! - [`chains`]: step cycles through branches and `next`, sub-chain recursion.
//! - [`fallbacks`]: breaker fallbacks that lead back to where they started.
//! - [`reachability`]: rules that can never fire, and rule attributes.
//! - [`test_cases`]: outcome names and input files of the script's tests.
//! - [`graph`]: cycle finding shared by chains and fallbacks.

mod chains;
mod conditions;
mod cron;
mod fallbacks;
mod graph;
mod names;
mod quantities;
mod reachability;
mod settings;
mod templates;
mod test_cases;

use crate::diagnostic::Diagnostic;
use crate::load::Program;
use crate::source::FileId;
use crate::syntax::ast::{Item, ScopeDecl, Span};
use names::Symbols;

/// Every error and warning about `program`, in the order the checks find them. Syntax and
/// include errors are in `program.diagnostics`, not here.
pub fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let symbols = Symbols::collect(program, &mut out);
    let cx = Context { program, symbols };
    names::check_references(&cx, &mut out);
    conditions::check(&cx, &mut out);
    quantities::check(&cx, &mut out);
    settings::check(&cx, &mut out);
    templates::check(&cx, &mut out);
    chains::check(&cx, &mut out);
    fallbacks::check(&cx, &mut out);
    reachability::check(&cx, &mut out);
    test_cases::check(&cx, &mut out);
    out
}

/// What every check reads: the program and its resolved names.
struct Context<'p> {
    program: &'p Program,
    symbols: Symbols<'p>,
}

impl<'p> Context<'p> {
    fn items(&self) -> Vec<(FileId, &'p Item)> {
        self.program.items()
    }

    /// The file's `scope`: the first one written (a second is an error of its own).
    fn scope(&self, file: FileId) -> Option<&'p ScopeDecl> {
        self.program
            .file(file)
            .ast
            .items
            .iter()
            .find_map(|item| match item {
                Item::Scope(scope) => Some(scope),
                _ => None,
            })
    }

    fn text(&self, file: FileId) -> &'p str {
        &self.program.sources.file(file).text
    }
}

/// Where a span is, for a hint read next to a diagnostic in `from`: "line 12", or
/// "safety.acteon:12" when it is in another file.
fn place(program: &Program, from: FileId, file: FileId, span: &Span) -> String {
    let source = program.sources.file(file);
    let (line, _) = source.line_col(span.start);
    if from == file {
        format!("line {line}")
    } else {
        format!("{}:{line}", source.display_path())
    }
}

/// "did you mean `x`?" when a candidate is close to `name`.
fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    crate::diagnostic::did_you_mean(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The span of `value[range]` inside the string literal at `span`, when the literal is written
/// without escapes (so byte offsets in the value are offsets in the source); else the literal.
fn span_in_string(text: &str, span: &Span, value: &str, range: std::ops::Range<usize>) -> Span {
    let inner = span.start + 1..span.end.saturating_sub(1);
    if text.get(inner.clone()) == Some(value) {
        inner.start + range.start..inner.start + range.end
    } else {
        span.clone()
    }
}
