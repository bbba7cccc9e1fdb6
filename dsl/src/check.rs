//! Name resolution and every semantic check of a loaded [`Program`], all errors in one pass.
//!
//! One module per concern:
//! - [`names`]: the program's symbols, duplicate names, unresolved references.
//! - [`conditions`]: field paths and regexes in rule conditions and step branches.
//! - [`quantities`]: durations that must not be zero, counts that must be at least one.
//! - [`cron`]: five-field cron expressions.
//! - [`settings`]: the `key = value` blocks, per block kind; blocks that may appear once. Its
//!   tables are also the public [`schema`] the language server completes from.
//! - [`tables`]: tables and the rows' values rules read (tables, keys, fields of file rows).
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
mod tables;
mod templates;
mod test_cases;

use crate::diagnostic::Diagnostic;
use crate::load::Program;
use crate::source::FileId;
use crate::syntax::ast::{Item, ScopeDecl, Span};
use names::Symbols;

pub use settings::schema;

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
    tables::check(&cx, &mut out);
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

    fn scope(&self, file: FileId) -> Option<&'p ScopeDecl> {
        self.program.file(file).scope()
    }

    fn text(&self, file: FileId) -> &'p str {
        &self.program.sources.file(file).text
    }

    /// A path written in `file`, joined to that file's directory.
    fn relative(&self, file: FileId, path: &str) -> std::path::PathBuf {
        let script = &self.program.sources.file(file).path;
        script
            .parent()
            .unwrap_or(std::path::Path::new(""))
            .join(path)
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

/// "did you mean `x`?" when a candidate is close to `name`, or is the one that `name` begins
/// (a key written short, like `topic` for `topic_arn`).
fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    near_name(name, candidates).map(crate::diagnostic::did_you_mean_hint)
}

/// The candidate [`suggestion`] suggests.
fn near_name<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let prefixed = || {
        let mut longer = candidates
            .iter()
            .filter(|c| name.len() >= 3 && c.starts_with(name));
        match (longer.next(), longer.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    };
    crate::diagnostic::did_you_mean(name, candidates.iter().copied()).or_else(prefixed)
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

/// The checks against hand-built trees; `tests/diagnostics.rs` runs them on parsed scripts.
#[cfg(test)]
mod tests {
    use super::check;
    use crate::diagnostic::Code;
    use crate::load::{ParsedFile, Program};
    use crate::source::{FileId, SourceMap};
    use crate::syntax::ast::*;
    use std::collections::HashMap;

    /// Spans are found by searching the text, so the trees stay short to write.
    struct Text(&'static str);

    impl Text {
        fn span(&self, token: &str, nth: usize) -> Span {
            let start = self.0.match_indices(token).nth(nth).expect(token).0;
            start..start + token.len()
        }

        fn name(&self, token: &str, nth: usize) -> Name {
            Name {
                text: token.to_string(),
                span: self.span(token, nth),
            }
        }

        fn int(&self, value: i64, nth: usize) -> Int {
            Int {
                value,
                span: self.span(&value.to_string(), nth),
            }
        }

        fn program(&self, items: Vec<Item>) -> Program {
            let mut sources = SourceMap::default();
            let id = sources.add("t.acteon", self.0.to_string());
            Program {
                sources,
                files: vec![ParsedFile {
                    id,
                    ast: File {
                        path: "t.acteon".into(),
                        items,
                        comments: Vec::new(),
                    },
                    includes: HashMap::new(),
                }],
                root: FileId(0),
                diagnostics: Vec::new(),
            }
        }
    }

    fn rule(t: &Text, name: &str, priority: i64, action: ActionKind) -> RuleDecl {
        RuleDecl {
            attributes: Vec::new(),
            name: t.name(name, 0),
            priority: t.int(priority, 0),
            condition: None,
            action: Action {
                kind: action,
                span: 0..0,
            },
            span: t.span(&format!("rule {name}"), 0),
        }
    }

    #[test]
    fn an_unknown_provider_gets_a_near_name() {
        let t = Text("provider alert-fanout log\nrule r priority 1 then reroute alert-fanot\n");
        let provider = ProviderDecl {
            name: t.name("alert-fanout", 0),
            kind: t.name("log", 0),
            settings: None,
            span: 0..25,
        };
        let reroute = ActionKind::Reroute(t.name("alert-fanot", 0));
        let program = t.program(vec![
            Item::Provider(provider),
            Item::Rule(rule(&t, "r", 1, reroute)),
        ]);
        let diagnostics = check(&program);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(
            diagnostics[0].render(&program.sources),
            "t.acteon:2:32: error[E0101]: unknown provider `alert-fanot`\n \
             --> t.acteon:2:32\n  |\n1 | provider alert-fanout log\n  |          ------------ \
             `alert-fanout` is declared here\n2 | rule r priority 1 then reroute alert-fanot\n  \
             |                                ^^^^^^^^^^^ not declared\n  \
             = hint: did you mean `alert-fanout`?\n"
        );
    }

    #[test]
    fn a_catch_all_shadows_later_rules_unless_allowed() {
        let t = Text("rule rest priority 20 then allow\nrule net priority 100 then suppress\n");
        let net = rule(&t, "net", 100, ActionKind::Suppress);
        let items = |net: RuleDecl| {
            vec![
                Item::Rule(rule(&t, "rest", 20, ActionKind::Allow)),
                Item::Rule(net),
            ]
        };
        let warned = check(&t.program(items(net.clone())));
        assert_eq!(
            warned.iter().map(|d| d.code).collect::<Vec<_>>(),
            [Code::UnreachableRule]
        );
        assert_eq!(warned[0].span, t.span("net", 0));

        let mut allowed = net;
        allowed.attributes.push(Attribute {
            name: t.name("allow", 0),
            args: vec![t.name("net", 0)],
            span: 0..0,
        });
        allowed.attributes[0].args[0].text = "unreachable".to_string();
        assert!(check(&t.program(items(allowed))).is_empty());
    }

    #[test]
    fn steps_that_loop_and_missing_steps_are_reported() {
        let t = Text("chain c { step a run c next b step b run c next a next zz }");
        let step = |name: &str, next: Name| StepDecl {
            name: t.name(name, 0),
            run: StepRun::Run {
                chain: t.name("c", 0),
            },
            branches: Vec::new(),
            next: Some(next),
            on_failure: None,
            retry: None,
            span: 0..0,
        };
        let chain = ChainDecl {
            name: t.name("c", 0),
            timeout: None,
            steps: vec![
                step("a", t.name("b", 0)),
                step("b", t.name("a", 0)),
                step("x", t.name("zz", 0)),
            ],
            span: 0..0,
        };
        let program = t.program(vec![Item::Chain(chain)]);
        let codes: Vec<Code> = check(&program).iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            [Code::UnknownStep, Code::StepCycle, Code::SubChainRecursion]
        );
    }

    #[test]
    fn provider_settings_are_checked_per_type() {
        let t = Text("provider q aws-sqs { queue = 1 region = 2 }");
        let setting = |key: &str, value: i64| Setting {
            key: t.name(key, 0),
            value: Literal {
                kind: LiteralKind::Number(value.into()),
                span: t.span(&value.to_string(), 0),
            },
            span: 0..0,
        };
        let provider = ProviderDecl {
            name: t.name("q", 0),
            kind: t.name("aws-sqs", 0),
            settings: Some(Block {
                settings: vec![setting("queue", 1), setting("region", 2)],
                span: 0..0,
            }),
            span: 0..0,
        };
        let diagnostics = check(&t.program(vec![Item::Provider(provider)]));
        let codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            [
                Code::UnknownSetting,
                Code::BadSettingValue,
                Code::MissingSetting
            ]
        );
        assert_eq!(
            diagnostics[0].hint.as_deref(),
            Some("did you mean `queue_url`?")
        );
    }
}
