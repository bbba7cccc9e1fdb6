//! Errors and warnings about a script: a stable code, a span, a message and a hint.
//!
//! Rendered as
//! ```text
//! pipeline.acteon:12:18: error[E0101]: unknown provider `alert-fanot`
//!    |
//! 12 |   then reroute alert-fanot
//!    |                ^^^^^^^^^^^
//!    = hint: did you mean `alert-fanout`?
//! ```

use crate::source::{FileId, SourceMap};
use crate::syntax::ast::Span;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// Stable diagnostic codes; the README's language reference lists what each means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    Syntax,
    IncludeMissing,
    IncludeCycle,
    UnknownProvider,
    UnknownChain,
    UnknownStep,
    DuplicateName,
    BadFieldPath,
    BadRegex,
    BadDuration,
    BadCount,
    BadCron,
    StepCycle,
    SubChainRecursion,
    FallbackCycle,
    BadTemplateReference,
    MalformedTemplate,
    UnknownSetting,
    MissingSetting,
    BadSettingValue,
    Repeated,
    UnknownOutcome,
    BadTestInput,
    UnreachableRule,
    ModifyUnreachable,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "E0001",
            Code::IncludeMissing => "E0002",
            Code::IncludeCycle => "E0003",
            Code::UnknownProvider => "E0101",
            Code::UnknownChain => "E0102",
            Code::UnknownStep => "E0103",
            Code::DuplicateName => "E0104",
            Code::BadFieldPath => "E0105",
            Code::BadRegex => "E0201",
            Code::BadDuration => "E0202",
            Code::BadCount => "E0203",
            Code::BadCron => "E0204",
            Code::StepCycle => "E0301",
            Code::SubChainRecursion => "E0302",
            Code::FallbackCycle => "E0303",
            Code::BadTemplateReference => "E0401",
            Code::MalformedTemplate => "E0402",
            Code::UnknownSetting => "E0501",
            Code::MissingSetting => "E0502",
            Code::BadSettingValue => "E0503",
            Code::Repeated => "E0504",
            Code::UnknownOutcome => "E0601",
            Code::BadTestInput => "E0602",
            Code::UnreachableRule => "W0001",
            Code::ModifyUnreachable => "W0002",
        }
    }

    pub fn severity(self) -> Severity {
        if self.as_str().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub file: FileId,
    pub span: Span,
    /// What to do about it; "did you mean `x`?" where a near name exists.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            file,
            span,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// `FILE:LINE:COL: error[CODE]: message`, the source line, a caret under the span, the hint.
    pub fn render(&self, sources: &SourceMap) -> String {
        let file = sources.file(self.file);
        let (line, col) = file.line_col(self.span.start);
        let text = file.line_text(line);
        let severity = match self.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!(
            "{}:{}:{}: {}[{}]: {}\n",
            file.display_path(),
            line,
            col,
            severity,
            self.code.as_str(),
            self.message
        );
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        // The caret covers the span on its first line, at least one column.
        let span_chars = file.text[self.span.start..self.span.end.min(file.text.len())]
            .lines()
            .next()
            .map(|s| s.chars().count())
            .unwrap_or(0)
            .max(1);
        let caret_start = text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect::<String>();
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{line} | {text}");
        let _ = writeln!(out, "{pad} | {caret_start}{}", "^".repeat(span_chars));
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{pad} = hint: {hint}");
        }
        out
    }
}

/// The closest of `candidates` to `name`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (name.len().max(c.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
