//! The serialisable form of a diagnostic: what `acteon check --format json` prints (one object
//! per line) and what the language server turns into the protocol's diagnostics. Both build it
//! with [`Report::new`], so an editor and the command line always say the same thing.
//!
//! Positions are given twice: byte offsets into the file's text (what a program that has the
//! text needs) and 1-based lines and columns in characters (what a person or a script reads).

use super::{Diagnostic, Edit, Severity};
use crate::source::{FileId, SourceMap};
use crate::syntax::ast::Span;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    /// The primary span's file, as the script named it.
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The primary span first, then the secondary ones.
    pub spans: Vec<ReportSpan>,
    pub hint: Option<String>,
    pub fix: Option<ReportFix>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSpan {
    #[serde(flatten)]
    pub at: Location,
    pub primary: bool,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFix {
    pub title: String,
    pub edits: Vec<ReportEdit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportEdit {
    #[serde(flatten)]
    pub at: Location,
    pub replacement: String,
}

/// A span of one file. The end is exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub byte_start: usize,
    pub byte_end: usize,
    pub line_start: usize,
    pub column_start: usize,
    pub line_end: usize,
    pub column_end: usize,
}

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "error" => Ok(Severity::Error),
            "warning" => Ok(Severity::Warning),
            other => Err(serde::de::Error::unknown_variant(
                other,
                &["error", "warning"],
            )),
        }
    }
}

impl Report {
    pub fn new(d: &Diagnostic, sources: &SourceMap) -> Report {
        let primary = location(sources, d.file, &d.span);
        let mut spans = vec![ReportSpan {
            at: primary.clone(),
            primary: true,
            label: d.label.clone(),
        }];
        spans.extend(d.secondary.iter().map(|l| ReportSpan {
            at: location(sources, l.file, &l.span),
            primary: false,
            label: Some(l.message.clone()),
        }));
        Report {
            code: d.code.as_str().to_string(),
            severity: d.severity(),
            message: d.message.clone(),
            file: primary.file,
            line: primary.line_start,
            column: primary.column_start,
            spans,
            hint: d.hint.clone(),
            fix: d.fix.as_ref().map(|fix| ReportFix {
                title: fix.title.clone(),
                edits: fix
                    .edits
                    .iter()
                    .map(
                        |Edit {
                             file,
                             span,
                             replacement,
                         }| ReportEdit {
                            at: location(sources, *file, span),
                            replacement: replacement.clone(),
                        },
                    )
                    .collect(),
            }),
        }
    }

    /// One line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a report always serialises")
    }
}

fn location(sources: &SourceMap, file: FileId, span: &Span) -> Location {
    let source = sources.file(file);
    let end = span.end.clamp(span.start, source.text.len());
    let (line_start, column_start) = source.line_col(span.start);
    let (line_end, column_end) = source.line_col(end);
    Location {
        file: source.display_path(),
        byte_start: span.start,
        byte_end: end,
        line_start,
        column_start,
        line_end,
        column_end,
    }
}
