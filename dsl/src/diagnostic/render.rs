//! A diagnostic as text, rustc-style:
//!
//! ```text
//! dup.acteon:5:10: error[E0104]: provider `alerts` is declared twice
//!  --> dup.acteon:5:10
//!   |
//! 4 | provider alerts log
//!   |          ------ first declared here
//! 5 | provider alerts log
//!   |          ^^^^^^ declared again here
//!   = hint: the first `alerts` is at line 4; rename one of them
//! ```
//!
//! The header line keeps the `FILE:LINE:COL: severity[CODE]: message` form that scripts read.
//! Lines of the primary span's file come first under `-->`; other files follow under `:::`.
//! Lines with a gap between them are separated by `...`. A source line longer than
//! [`MAX_SHOWN`] characters is cut to a window around its marks, so a 1 MB line prints as a
//! short one.

use super::{Diagnostic, Severity};
use crate::source::{FileId, SourceMap};
use crate::syntax::ast::Span;
use std::fmt::Write;

/// The most characters of a source line printed; longer lines are cut around the caret.
pub const MAX_SHOWN: usize = 100;
/// How much of a cut line is kept before the first mark.
const CONTEXT_BEFORE: usize = 40;
const ELLIPSIS: &str = "...";

/// Whether to colour the text with ANSI escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    pub const PLAIN: Style = Style { colour: false };
    pub const COLOUR: Style = Style { colour: true };

    /// Colour for a stream that is a terminal, unless `NO_COLOR` is set to something
    /// (<https://no-color.org>).
    pub fn for_terminal(is_terminal: bool) -> Style {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            colour: is_terminal && !no_colour,
        }
    }

    fn paint(self, escape: &str, text: &str) -> String {
        if self.colour && !text.is_empty() {
            format!("\x1b[{escape}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

const BOLD: &str = "1";
const RED: &str = "1;31";
const YELLOW: &str = "1;33";
const BLUE: &str = "1;34";
const CYAN: &str = "1;36";

/// One underlined span on one line.
struct Mark<'a> {
    line: usize,
    /// 0-based, in characters.
    column: usize,
    /// In characters, at least one.
    width: usize,
    label: Option<&'a str>,
    primary: bool,
}

pub(super) fn render(d: &Diagnostic, sources: &SourceMap, style: Style) -> String {
    let file = sources.file(d.file);
    let (line, col) = file.line_col(d.span.start);
    let (severity, colour) = match d.severity() {
        Severity::Error => ("error", RED),
        Severity::Warning => ("warning", YELLOW),
    };
    let mut out = format!(
        "{}:{line}:{col}: {}: {}\n",
        file.display_path(),
        style.paint(colour, &format!("{severity}[{}]", d.code.as_str())),
        style.paint(BOLD, &d.message),
    );

    // Marks grouped by file, the primary's file first, the others in the order they appear.
    let mut groups: Vec<(FileId, Vec<Mark>)> = vec![(d.file, Vec::new())];
    let spans = std::iter::once((d.file, &d.span, d.label.as_deref(), true)).chain(
        d.secondary
            .iter()
            .map(|l| (l.file, &l.span, Some(l.message.as_str()), false)),
    );
    for (file_id, span, label, primary) in spans {
        let mark = mark(sources, file_id, span, label, primary);
        match groups.iter_mut().find(|(f, _)| *f == file_id) {
            Some((_, marks)) => marks.push(mark),
            None => groups.push((file_id, vec![mark])),
        }
    }
    let gutter = groups
        .iter()
        .flat_map(|(_, marks)| marks.iter().map(|m| m.line.to_string().len()))
        .max()
        .unwrap_or(1);
    let pad = " ".repeat(gutter);
    let bar = style.paint(BLUE, "|");

    for (index, (file_id, marks)) in groups.iter_mut().enumerate() {
        let source = sources.file(*file_id);
        let (arrow, (l, c)) = if index == 0 {
            ("-->", (line, col))
        } else {
            let first = marks
                .iter()
                .min_by_key(|m| (m.line, m.column))
                .expect("a mark");
            (":::", (first.line, first.column + 1))
        };
        let _ = writeln!(
            out,
            "{pad}{} {}:{l}:{c}",
            style.paint(BLUE, arrow),
            source.display_path()
        );
        let _ = writeln!(out, "{pad} {bar}");
        marks.sort_by_key(|m| (m.line, !m.primary, m.column));
        let mut previous: Option<usize> = None;
        let mut at = 0;
        while at < marks.len() {
            let line = marks[at].line;
            let on_line: Vec<&Mark> = marks[at..].iter().take_while(|m| m.line == line).collect();
            at += on_line.len();
            if previous.is_some_and(|p| line > p + 1) {
                let _ = writeln!(out, "{}", style.paint(BLUE, ELLIPSIS));
            }
            previous = Some(line);
            let shown = Window::new(source.line_text(line), &on_line);
            let _ = writeln!(
                out,
                "{} {bar} {}",
                style.paint(BLUE, &format!("{line:>gutter$}")),
                shown.text
            );
            for mark in on_line {
                let (indent, width) = shown.place(mark);
                let (glyph, colour) = if mark.primary {
                    ("^", colour)
                } else {
                    ("-", BLUE)
                };
                let mut underline = glyph.repeat(width);
                if let Some(label) = mark.label {
                    underline = format!("{underline} {label}");
                }
                let _ = writeln!(
                    out,
                    "{pad} {bar} {indent}{}",
                    style.paint(colour, &underline)
                );
            }
        }
    }
    if let Some(hint) = &d.hint {
        let _ = writeln!(out, "{pad} {} {hint}", style.paint(CYAN, "= hint:"));
    }
    out
}

fn mark<'a>(
    sources: &SourceMap,
    file: FileId,
    span: &Span,
    label: Option<&'a str>,
    primary: bool,
) -> Mark<'a> {
    let source = sources.file(file);
    let (line, col) = source.line_col(span.start);
    // The mark covers the span on its first line, at least one column.
    let end = span.end.min(source.text.len()).max(span.start);
    let width = source
        .text
        .get(span.start.min(end)..end)
        .and_then(|s| s.lines().next())
        .map(|s| s.chars().count())
        .unwrap_or(0)
        .max(1);
    Mark {
        line,
        column: col - 1,
        width,
        label,
        primary,
    }
}

/// The part of a source line that is printed, and where its characters start.
struct Window {
    text: String,
    /// The characters of the line before the window.
    from: usize,
    /// The characters of the window itself.
    chars: Vec<char>,
    /// Columns taken by the leading ellipsis.
    offset: usize,
}

impl Window {
    fn new(line: &str, marks: &[&Mark]) -> Window {
        let count = line.chars().count();
        if count <= MAX_SHOWN {
            return Window {
                text: line.to_string(),
                from: 0,
                chars: line.chars().collect(),
                offset: 0,
            };
        }
        let first = marks.iter().map(|m| m.column).min().unwrap_or(0);
        let from = first.saturating_sub(CONTEXT_BEFORE).min(count - MAX_SHOWN);
        let to = from + MAX_SHOWN;
        let chars: Vec<char> = line.chars().skip(from).take(MAX_SHOWN).collect();
        let mut text = String::new();
        if from > 0 {
            text.push_str(ELLIPSIS);
        }
        text.extend(chars.iter());
        if to < count {
            text.push_str(ELLIPSIS);
        }
        Window {
            text,
            from,
            chars,
            offset: if from > 0 { ELLIPSIS.len() } else { 0 },
        }
    }

    /// The indentation before a mark (tabs kept, so the mark lines up under a tab) and its
    /// width, both within the window.
    fn place(&self, mark: &Mark) -> (String, usize) {
        let start = mark.column.saturating_sub(self.from).min(self.chars.len());
        let indent: String = " ".repeat(self.offset)
            + &self.chars[..start]
                .iter()
                .map(|&c| if c == '\t' { '\t' } else { ' ' })
                .collect::<String>();
        let room = self.chars.len().saturating_sub(start).max(1);
        (indent, mark.width.min(room))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Code, Diagnostic};

    #[test]
    fn colour_is_added_only_when_asked() {
        let mut sources = SourceMap::default();
        let file = sources.add("t.acteon", "rule r priority 1 then reroute x\n".to_string());
        let d = Diagnostic::new(Code::UnknownProvider, file, 31..32, "unknown provider `x`")
            .with_label("not declared")
            .with_hint("declare it");
        let plain = render(&d, &sources, Style::PLAIN);
        assert!(!plain.contains('\x1b'));
        let coloured = render(&d, &sources, Style::COLOUR);
        assert!(
            coloured.contains("\x1b[1;31merror[E0101]\x1b[0m"),
            "{coloured}"
        );
        assert!(
            coloured.contains("\x1b[1;31m^ not declared\x1b[0m"),
            "{coloured}"
        );
        // Without its escapes, the coloured text is the plain one.
        let stripped: String = coloured
            .split('\x1b')
            .enumerate()
            .map(|(i, part)| match i {
                0 => part,
                _ => part.split_once('m').map_or(part, |(_, rest)| rest),
            })
            .collect();
        assert_eq!(stripped, plain);
    }
}
