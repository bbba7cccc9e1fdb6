//! Errors and warnings about a script: a stable code, a primary span with a label, secondary
//! labelled spans elsewhere (the first declaration beside a duplicate, the rule that makes
//! another unreachable, the includes of a cycle), a hint, and a fix where exactly one exists.
//!
//! Rendered as
//! ```text
//! routing.acteon:7:16: error[E0101]: unknown provider `alert-fanot`
//!  --> routing.acteon:7:16
//!   |
//! 7 |   then reroute alert-fanot
//!   |                ^^^^^^^^^^^ not declared
//!   = hint: did you mean `alert-fanout`?
//! ```
//! The first line is the one scripts and tests match; the rest is for people.
//!
//! Submodules:
//! - [`render`]: the text above, with long lines cut around the caret and optional colour.
//! - [`json`]: [`json::Report`], the serialisable form that `acteon check --format json`
//!   prints and the language server publishes, so the two cannot disagree.
//! - [`explain`]: the long explanation of each code, with an example (`acteon explain --code`).

pub mod explain;
pub mod json;
pub mod render;

use crate::source::{FileId, SourceMap};
use crate::syntax::ast::Span;

pub use render::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Stable diagnostic codes; `docs/diagnostics.md` (generated from [`explain`]) says what each
/// means.
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
    UnknownTable,
    BadTableKey,
    UnknownRowField,
    BadTableFile,
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
    /// Every code, in the order of their numbers.
    pub const ALL: [Code; 29] = [
        Code::Syntax,
        Code::IncludeMissing,
        Code::IncludeCycle,
        Code::UnknownProvider,
        Code::UnknownChain,
        Code::UnknownStep,
        Code::DuplicateName,
        Code::BadFieldPath,
        Code::UnknownTable,
        Code::BadTableKey,
        Code::UnknownRowField,
        Code::BadTableFile,
        Code::BadRegex,
        Code::BadDuration,
        Code::BadCount,
        Code::BadCron,
        Code::StepCycle,
        Code::SubChainRecursion,
        Code::FallbackCycle,
        Code::BadTemplateReference,
        Code::MalformedTemplate,
        Code::UnknownSetting,
        Code::MissingSetting,
        Code::BadSettingValue,
        Code::Repeated,
        Code::UnknownOutcome,
        Code::BadTestInput,
        Code::UnreachableRule,
        Code::ModifyUnreachable,
    ];

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
            Code::UnknownTable => "E0106",
            Code::BadTableKey => "E0107",
            Code::UnknownRowField => "E0108",
            Code::BadTableFile => "E0109",
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

    /// The code written as `E0101` (any case).
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn severity(self) -> Severity {
        if self.as_str().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

/// A span that explains the primary one, with what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

/// The one change that resolves a diagnostic, for editors to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// What applying it does: "replace with `alert-fanout`".
    pub title: String,
    pub edits: Vec<Edit>,
}

/// Replace `span` of `file` with `replacement` (an empty span inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub file: FileId,
    pub span: Span,
    pub replacement: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub file: FileId,
    pub span: Span,
    /// Printed beside the primary span's carets: what is wrong right there.
    pub label: Option<String>,
    /// Other places the reader needs to see, each with its own label.
    pub secondary: Vec<Label>,
    /// What to do about it; "did you mean `x`?" where a near name exists.
    pub hint: Option<String>,
    /// Set only where the hint has exactly one mechanical fix.
    pub fix: Option<Fix>,
}

impl Diagnostic {
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            file,
            span,
            label: None,
            secondary: Vec::new(),
            hint: None,
            fix: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn with_secondary(
        mut self,
        file: FileId,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.secondary.push(Label {
            file,
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_fix(mut self, fix: Fix) -> Diagnostic {
        self.fix = Some(fix);
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// The plain text form (no colour): header, `-->` line, the labelled source lines, hint.
    pub fn render(&self, sources: &SourceMap) -> String {
        render::render(self, sources, Style::PLAIN)
    }

    /// [`Diagnostic::render`], coloured when `style` says so.
    pub fn render_styled(&self, sources: &SourceMap, style: Style) -> String {
        render::render(self, sources, style)
    }
}

/// The hint for a likely typo. [`attach_did_you_mean_fixes`] reads hints of this form back, so
/// this is the one place that writes them.
pub fn did_you_mean_hint(candidate: &str) -> String {
    format!("did you mean `{candidate}`?")
}

/// The candidate of a hint made by [`did_you_mean_hint`].
fn did_you_mean_candidate(hint: &str) -> Option<&str> {
    let candidate = hint.strip_prefix("did you mean `")?.strip_suffix("`?")?;
    (!candidate.contains('`')).then_some(candidate)
}

/// Gives every "did you mean" diagnostic the fix that writes the near name in place of the
/// misspelt one. Done once, after every check, rather than at each of the dozen places that
/// suggest a name; a primary span that is not the bare name (a template reference written
/// with escapes points at its whole string) gets no fix.
pub fn attach_did_you_mean_fixes(sources: &SourceMap, diagnostics: &mut [Diagnostic]) {
    for diagnostic in diagnostics.iter_mut().filter(|d| d.fix.is_none()) {
        let Some(candidate) = diagnostic.hint.as_deref().and_then(did_you_mean_candidate) else {
            continue;
        };
        let text = &sources.file(diagnostic.file).text;
        let written = text.get(diagnostic.span.clone()).unwrap_or("");
        let bare = !written.is_empty()
            && written != candidate
            && !written.contains(|c: char| c.is_whitespace() || c == '"');
        if bare {
            diagnostic.fix = Some(Fix {
                title: format!("replace `{written}` with `{candidate}`"),
                edits: vec![Edit {
                    file: diagnostic.file,
                    span: diagnostic.span.clone(),
                    replacement: candidate.to_string(),
                }],
            });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_and_numbers_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
            assert!(seen.insert(code.as_str()));
        }
        assert_eq!(Code::parse("e0101"), Some(Code::UnknownProvider));
        assert_eq!(Code::parse("E9999"), None);
    }

    #[test]
    fn a_did_you_mean_hint_becomes_a_replacement() {
        let mut sources = SourceMap::default();
        let file = sources.add("t.acteon", "then reroute alert-fanot\n".to_string());
        let mut diagnostics = vec![
            Diagnostic::new(Code::UnknownProvider, file, 13..24, "unknown provider")
                .with_hint(did_you_mean_hint("alert-fanout")),
            Diagnostic::new(Code::UnknownProvider, file, 0..4, "other")
                .with_hint("declared: `a`, `b`"),
        ];
        attach_did_you_mean_fixes(&sources, &mut diagnostics);
        let fix = diagnostics[0].fix.as_ref().expect("a fix");
        assert_eq!(fix.edits[0].span, 13..24);
        assert_eq!(fix.edits[0].replacement, "alert-fanout");
        assert!(diagnostics[1].fix.is_none());
    }
}
