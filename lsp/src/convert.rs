//! The checker's reports as the protocol's diagnostics, and their fixes as code actions.
//!
//! Each published diagnostic carries its whole [`Report`] in `data`: the object
//! `acteon check --format json` prints for it. Its range, message, code and related spans are
//! read from that report, so they cannot differ from the command line's.

use crate::documents::path_to_uri;
use crate::lines::LineIndex;
use crate::workspace::Analysis;
use acteon_dsl::diagnostic::json::{Location, Report};
use acteon_dsl::diagnostic::Severity;
use lsp_types::{
    CodeAction, CodeActionKind, DiagnosticRelatedInformation, DiagnosticSeverity, DiagnosticTag,
    NumberOrString, TextEdit, Uri, WorkspaceEdit,
};
use std::collections::HashMap;
use std::path::Path;

/// The diagnostics of the analysis, by the file their primary span is in.
pub fn diagnostics(analysis: &Analysis) -> HashMap<&Path, Vec<lsp_types::Diagnostic>> {
    let mut out: HashMap<&Path, Vec<lsp_types::Diagnostic>> = HashMap::new();
    for path in analysis.paths() {
        out.entry(path.as_path()).or_default();
    }
    for (diagnostic, report) in analysis.compiled.diagnostics.iter().zip(&analysis.reports) {
        let path = analysis.path(diagnostic.file);
        out.entry(path)
            .or_default()
            .push(to_lsp(analysis, diagnostic.file, report));
    }
    out
}

fn to_lsp(
    analysis: &Analysis,
    file: acteon_dsl::source::FileId,
    report: &Report,
) -> lsp_types::Diagnostic {
    let primary = &report.spans[0].at;
    let message = match &report.hint {
        Some(hint) => format!("{}\nhint: {hint}", report.message),
        None => report.message.clone(),
    };
    let related = report.spans[1..]
        .iter()
        .filter_map(|span| {
            let (uri, range) = place(analysis, &span.at)?;
            Some(DiagnosticRelatedInformation {
                location: lsp_types::Location::new(uri, range),
                message: span.label.clone().unwrap_or_default(),
            })
        })
        .collect::<Vec<_>>();
    lsp_types::Diagnostic {
        range: LineIndex::new(analysis.text(file)).range(&(primary.byte_start..primary.byte_end)),
        severity: Some(match report.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(report.code.clone())),
        code_description: None,
        source: Some("acteon".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        // A rule that can never fire is dead code: editors grey it out.
        tags: report
            .code
            .starts_with('W')
            .then(|| vec![DiagnosticTag::UNNECESSARY]),
        data: Some(serde_json::to_value(report).expect("a report serialises")),
    }
}

/// Where a report's location is, as a URI and a range; the file is found by the path the
/// report names (as the program's source map has it).
fn place(analysis: &Analysis, at: &Location) -> Option<(Uri, lsp_types::Range)> {
    let (id, source) = analysis
        .compiled
        .program
        .sources
        .files()
        .find(|(_, f)| f.display_path() == at.file)?;
    let range = LineIndex::new(&source.text).range(&(at.byte_start..at.byte_end));
    Some((path_to_uri(analysis.path(id)), range))
}

/// The quick fixes of the diagnostics in `path` whose primary span meets `range` (bytes).
// `WorkspaceEdit` keys its edits by `Uri`, whose parsed form caches parts of itself in cells;
// its hash and equality are those of the text, which never changes.
#[allow(clippy::mutable_key_type)]
pub fn code_actions(
    analysis: &Analysis,
    path: &Path,
    range: std::ops::Range<usize>,
) -> Vec<CodeAction> {
    let mut out = Vec::new();
    for (diagnostic, report) in analysis.compiled.diagnostics.iter().zip(&analysis.reports) {
        if analysis.path(diagnostic.file) != path {
            continue;
        }
        let span = &diagnostic.span;
        let meets = span.start <= range.end && range.start <= span.end;
        let Some(fix) = report.fix.as_ref().filter(|_| meets) else {
            continue;
        };
        let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
        for edit in &fix.edits {
            if let Some((uri, range)) = place(analysis, &edit.at) {
                changes
                    .entry(uri)
                    .or_default()
                    .push(TextEdit::new(range, edit.replacement.clone()));
            }
        }
        out.push(CodeAction {
            title: fix.title.clone(),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![to_lsp(analysis, diagnostic.file, report)]),
            edit: Some(WorkspaceEdit::new(changes)),
            command: None,
            is_preferred: Some(true),
            disabled: None,
            data: None,
        });
    }
    out
}
