//! The pest parser over `grammar/acteon.pest`, and the walk from its pairs into the [`ast`].
//!
//! The walk relies on the grammar for the shape of each pair (which children exist, in which
//! order); anything the grammar cannot rule out (numbers out of range, invalid escapes, nesting
//! deep enough to exhaust the stack) is a diagnostic.

// A syntax error is the one `Err` of a file's parse, made once per file: a diagnostic with
// its labels and fix inline is simpler for every caller than a boxed one.
#![allow(clippy::result_large_err)]

use super::ast::*;
use crate::diagnostic::{Code, Diagnostic, Edit, Fix};
use crate::source::FileId;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;
use serde_json::Value;
use std::path::Path as FsPath;

#[derive(Parser)]
#[grammar = "../../grammar/acteon.pest"]
struct ActeonParser;

/// Deeper nesting of parentheses, brackets, braces or `not`s is refused: pest and the walk below
/// recurse once per level, and arbitrary input must not overflow the stack.
pub const MAX_NESTING: usize = 64;

/// pest's generated code and the walk below take tens of kilobytes of stack per nesting level
/// in unoptimized builds: more than a 2 MiB test thread holds at [`MAX_NESTING`] levels.
const PARSER_STACK_BYTES: usize = 16 << 20;

/// Parses one file. `path` is recorded in the AST as given.
pub fn parse(file: FileId, path: &FsPath, text: &str) -> Result<File, Diagnostic> {
    check_nesting(file, text)?;
    // Without it pest reports the rules it expected but not the punctuation (`=`, `}`, ...).
    pest::set_error_detail(true);
    std::thread::scope(|scope| {
        let parser = std::thread::Builder::new()
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, || parse_checked(file, path, text));
        match parser {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: the current stack is enough for all but the deepest input.
            Err(_) => parse_checked(file, path, text),
        }
    })
}

/// Parses a file whose nesting is within [`MAX_NESTING`].
fn parse_checked(file: FileId, path: &FsPath, text: &str) -> Result<File, Diagnostic> {
    let mut pairs =
        ActeonParser::parse(Rule::file, text).map_err(|e| syntax_error(file, text, e))?;
    let root = pairs
        .next()
        .expect("the grammar's `file` rule always produces one pair");
    let comments = root
        .clone()
        .into_inner()
        .flatten()
        .filter(|p| p.as_rule() == Rule::COMMENT)
        .map(|p| Comment {
            text: p.as_str().to_string(),
            span: span(&p),
        })
        .collect();
    let walker = Walker { file };
    let items = children(root)
        .filter(|p| p.as_rule() == Rule::item)
        .map(|p| walker.item(first(p)))
        .collect::<Result<_, _>>()?;
    Ok(File {
        path: path.to_path_buf(),
        items,
        comments,
    })
}

/// Scans brackets outside strings, comments and regexes, the way the grammar reads them.
fn check_nesting(file: FileId, text: &str) -> Result<(), Diagnostic> {
    enum Mode {
        Code,
        Str,
        Regex,
        Comment,
    }
    let mut mode = Mode::Code;
    let mut depth = 0usize;
    let mut escaped = false;
    for (offset, c) in text.char_indices() {
        match mode {
            Mode::Code => match c {
                '"' => mode = Mode::Str,
                '/' => mode = Mode::Regex,
                '#' => mode = Mode::Comment,
                '(' | '[' | '{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err(Diagnostic::new(
                            Code::Syntax,
                            file,
                            offset..offset + 1,
                            format!("nesting deeper than {MAX_NESTING} levels"),
                        )
                        .with_hint("split the expression or value into flatter parts"));
                    }
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
            Mode::Str | Mode::Regex if escaped => escaped = false,
            Mode::Str | Mode::Regex if c == '\\' => escaped = true,
            Mode::Str if c == '"' || c == '\n' => mode = Mode::Code,
            Mode::Regex if c == '/' || c == '\n' => mode = Mode::Code,
            Mode::Comment if c == '\n' => mode = Mode::Code,
            Mode::Str | Mode::Regex | Mode::Comment => {}
        }
    }
    Ok(())
}

fn syntax_error(file: FileId, text: &str, error: pest::error::Error<Rule>) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let (found, end) = found_at(text, pos);
    let mut diagnostic =
        Diagnostic::new(Code::Syntax, file, pos..end, format!("unexpected {found}"));
    let mut expected: Vec<String> = Vec::new();
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        expected.extend(
            positives
                .iter()
                .filter(|rule| !matches!(rule, Rule::COMMENT | Rule::WHITESPACE))
                .map(|rule| describe(*rule)),
        );
    }
    // Keywords and values are rules, reported above. Of the bare tokens only separators and
    // closers add anything: openers (`[`, `{`, `"`) start values already named.
    if let Some(attempts) = error.parse_attempts().filter(|a| a.max_position == pos) {
        expected.extend(
            attempts
                .expected_tokens()
                .iter()
                .map(|token| token.to_string())
                .filter(|token| ["=", ":", ",", ")", "]", "}"].contains(&token.as_str()))
                .map(|token| format!("`{token}`")),
        );
    }
    let mut unique: Vec<String> = Vec::new();
    for word in expected {
        if !unique.contains(&word) {
            unique.push(word);
        }
    }
    if !unique.is_empty() {
        diagnostic = diagnostic.with_hint(format!("expected {}", one_of(&unique)));
    }
    let wants_priority = matches!(
        &error.variant,
        ErrorVariant::ParsingError { positives, .. } if positives.contains(&Rule::kw_priority)
    );
    if wants_priority {
        diagnostic = diagnostic.with_fix(missing_priority(file, text, pos));
    }
    diagnostic
}

/// A rule without its priority: insert the priority of the rule written above it (ties run in
/// source order, so the rule keeps its place), or 10 for the first rule of the file.
fn missing_priority(file: FileId, text: &str, pos: usize) -> Fix {
    let above = text[..pos]
        .match_indices("priority")
        .filter_map(|(at, word)| {
            let digits = text[at + word.len()..pos].trim_start();
            let end = digits
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
                .map_or(digits.len(), |(i, _)| i);
            digits[..end].parse::<i64>().ok()
        })
        .last()
        .unwrap_or(10);
    Fix {
        title: format!("add `priority {above}`"),
        edits: vec![Edit {
            file,
            span: pos..pos,
            replacement: format!("priority {above} "),
        }],
    }
}

/// The token at `pos` as a message would name it, and where it ends.
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = text.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        return ("end of file".to_string(), pos);
    };
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if is_word(c) {
        let len = rest.find(|c| !is_word(c)).unwrap_or(rest.len());
        return (format!("`{}`", &rest[..len]), pos + len);
    }
    let shown = match c {
        '\n' | '\r' => "end of line".to_string(),
        ' ' | '\t' => "whitespace".to_string(),
        c if c.is_control() => format!("character {:?}", c),
        c => format!("`{c}`"),
    };
    (shown, pos + c.len_utf8())
}

fn one_of(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Readable words for what the parser was looking for.
fn describe(rule: Rule) -> String {
    let text = match rule {
        Rule::EOI => "end of file",
        Rule::file | Rule::item => {
            "an item (`rule`, `provider`, `chain`, `table`, `include`, `test`, ...)"
        }
        Rule::name => "a name",
        Rule::string => "a string",
        Rule::int => "an integer",
        Rule::number => "a number",
        Rule::duration => "a duration such as `60s`",
        Rule::boolean => "`true` or `false`",
        Rule::null => "`null`",
        Rule::literal => "a value",
        Rule::list => "a list such as `[\"a\", \"b\"]`",
        Rule::json_value => "a JSON value",
        Rule::json_object => "a JSON object `{ ... }`",
        Rule::json_member => "a JSON member `\"key\": value`",
        Rule::json_array => "a JSON array",
        Rule::template_value => "a JSON value or a row's value",
        Rule::template_object => "a JSON object `{ ... }`",
        Rule::template_member => "a JSON member `\"key\": value`",
        Rule::template_array => "a JSON array",
        Rule::row_ref | Rule::row_value | Rule::template_row => {
            "a row's value such as `devices[payload.device_id].max_temp`"
        }
        Rule::default_op => "`??`",
        Rule::block => "a settings block `{ key = value ... }`",
        Rule::setting => "a setting `key = value`",
        Rule::path | Rule::setting_path => "a field path such as `payload.value`",
        Rule::path_segment | Rule::path_index => "a key or an index after `.`",
        Rule::regex => "a regex such as `/^temp-\\d+$/`",
        Rule::compare_op | Rule::op_compare | Rule::branch_compare => {
            "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)"
        }
        Rule::expr | Rule::or_expr | Rule::and_expr | Rule::not_expr => "a condition",
        Rule::paren => "`(`",
        Rule::cond_test => "a test such as `payload.value > 85`",
        Rule::action => {
            "an action (`suppress`, `deny`, `allow`, `reroute`, `chain`, `modify`, `dedup`, \
             `throttle`, `group` or `schedule`)"
        }
        Rule::attribute => "an attribute such as `@allow(unreachable)`",
        Rule::attribute_args => "`(`",
        _ => return keyword_of(rule),
    };
    text.to_string()
}

/// Rules that stand for one keyword: `kw_then` is `then`, `op_contains` is `contains`, ...
fn keyword_of(rule: Rule) -> String {
    let word = match rule {
        Rule::chain_decl | Rule::act_chain => "chain",
        Rule::test_decl => "test",
        Rule::rule_decl => "rule",
        Rule::test_action => "action",
        Rule::test_input => "input",
        Rule::expect_calls | Rule::expect_outcome => "expect",
        Rule::step_call => "call",
        Rule::step_run => "run",
        Rule::branch => "if",
        Rule::branch_contains => "contains",
        Rule::branch_exists => "exists",
        Rule::by_clause => "by",
        Rule::max_clause => "max",
        Rule::to_clause => "to",
        Rule::timeout_clause => "timeout",
        Rule::source_kafka => "kafka",
        Rule::source_file => "file",
        Rule::source_stdin => "stdin",
        Rule::table_decl => "table",
        Rule::table_kafka => "kafka",
        _ => {
            let name = format!("{rule:?}");
            let word = ["kw_", "op_", "act_"]
                .iter()
                .find_map(|prefix| name.strip_prefix(prefix))
                .unwrap_or(&name);
            return format!("`{word}`");
        }
    };
    format!("`{word}`")
}

fn span(pair: &Pair<Rule>) -> Span {
    pair.as_span().start()..pair.as_span().end()
}

/// The children of a pair, without the comments the grammar keeps.
fn children(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| p.as_rule() != Rule::COMMENT)
}

fn first(pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    children(pair)
        .next()
        .expect("the grammar gives this rule at least one child")
}

/// Takes the next child; the grammar guarantees it is there.
fn take<'i>(it: &mut impl Iterator<Item = Pair<'i, Rule>>) -> Pair<'i, Rule> {
    it.next().expect("the grammar guarantees this child")
}

/// Takes the next child when it is of `rule`.
fn take_if<'i, I>(it: &mut std::iter::Peekable<I>, rule: Rule) -> Option<Pair<'i, Rule>>
where
    I: Iterator<Item = Pair<'i, Rule>>,
{
    it.next_if(|p| p.as_rule() == rule)
}

struct Walker {
    file: FileId,
}

type Parsed<T> = Result<T, Diagnostic>;

impl Walker {
    fn error(&self, span: Span, message: impl Into<String>, hint: &str) -> Diagnostic {
        Diagnostic::new(Code::Syntax, self.file, span, message).with_hint(hint)
    }

    fn item(&self, pair: Pair<Rule>) -> Parsed<Item> {
        let item_span = span(&pair);
        let rule = pair.as_rule();
        let mut it = children(pair).peekable();
        Ok(match rule {
            Rule::scope => {
                take(&mut it);
                let mut namespace = None;
                let mut tenant = None;
                while let Some(keyword) = it.next() {
                    let value = Some(self.string(take(&mut it))?);
                    if keyword.as_rule() == Rule::kw_namespace {
                        namespace = value;
                    } else {
                        tenant = value;
                    }
                }
                Item::Scope(ScopeDecl {
                    namespace,
                    tenant,
                    span: item_span,
                })
            }
            Rule::include => {
                take(&mut it);
                Item::Include(IncludeDecl {
                    path: self.string(take(&mut it))?,
                    span: item_span,
                })
            }
            Rule::source => {
                take(&mut it);
                let choice = take(&mut it);
                let choice_rule = choice.as_rule();
                let mut inner = children(choice).skip(1);
                let kind = match choice_rule {
                    Rule::source_kafka => {
                        SourceKind::Kafka(self.block(take(&mut inner), &item_span)?)
                    }
                    Rule::source_file => SourceKind::File(self.string(take(&mut inner))?),
                    _ => SourceKind::Stdin,
                };
                Item::Source(SourceDecl {
                    kind,
                    span: item_span,
                })
            }
            Rule::table_decl => {
                take(&mut it);
                let name = self.name(take(&mut it));
                take(&mut it);
                let key = self.name(take(&mut it));
                take(&mut it);
                let from = take(&mut it);
                let source = match from.as_rule() {
                    Rule::table_kafka => TableSourceDecl::Kafka(
                        self.block(take(&mut children(from).skip(1)), &item_span)?,
                    ),
                    _ => TableSourceDecl::File(self.string(from)?),
                };
                Item::Table(TableDecl {
                    name,
                    key,
                    source,
                    span: item_span,
                })
            }
            Rule::provider => {
                take(&mut it);
                let name = self.name(take(&mut it));
                let kind = self.name(take(&mut it));
                let settings = it.next().map(|b| self.block(b, &item_span)).transpose()?;
                Item::Provider(ProviderDecl {
                    name,
                    kind,
                    settings,
                    span: item_span,
                })
            }
            Rule::rule_decl => Item::Rule(self.rule(it, item_span)?),
            Rule::chain_decl => Item::Chain(self.chain(it, item_span)?),
            Rule::breakers => {
                take(&mut it);
                Item::Breakers(self.block(take(&mut it), &item_span)?)
            }
            Rule::breaker => {
                take(&mut it);
                Item::Breaker(BreakerDecl {
                    provider: self.name(take(&mut it)),
                    settings: self.block(take(&mut it), &item_span)?,
                    span: item_span,
                })
            }
            Rule::quota => {
                take(&mut it);
                let tenant = self.string(take(&mut it))?;
                let limit = self.int(take(&mut it))?;
                take(&mut it);
                let per = self.duration(take(&mut it))?;
                let on_exceed = match take(&mut it).as_rule() {
                    Rule::kw_block => QuotaMode::Block,
                    _ => QuotaMode::Warn,
                };
                Item::Quota(QuotaDecl {
                    tenant,
                    limit,
                    per,
                    on_exceed,
                    span: item_span,
                })
            }
            Rule::retention => {
                take(&mut it);
                Item::Retention(RetentionDecl {
                    tenant: self.string(take(&mut it))?,
                    settings: self.block(take(&mut it), &item_span)?,
                    span: item_span,
                })
            }
            Rule::recurring => {
                take(&mut it);
                Item::Recurring(RecurringDecl {
                    name: self.name(take(&mut it)),
                    settings: self.block(take(&mut it), &item_span)?,
                    span: item_span,
                })
            }
            Rule::audit => {
                take(&mut it);
                Item::Audit(self.block(take(&mut it), &item_span)?)
            }
            Rule::background => {
                take(&mut it);
                Item::Background(self.block(take(&mut it), &item_span)?)
            }
            _ => Item::Test(self.test(it, item_span)?),
        })
    }

    fn rule<'i>(&self, it: impl Iterator<Item = Pair<'i, Rule>>, span_: Span) -> Parsed<RuleDecl> {
        let mut it = it.peekable();
        let mut attributes = Vec::new();
        while let Some(attribute) = take_if(&mut it, Rule::attribute) {
            let attribute_span = span(&attribute);
            let mut inner = children(attribute);
            let name = self.name(take(&mut inner));
            let args = inner
                .next()
                .map(|args| children(args).map(|a| self.name(a)).collect())
                .unwrap_or_default();
            attributes.push(Attribute {
                name,
                args,
                span: attribute_span,
            });
        }
        take(&mut it);
        let name = self.name(take(&mut it));
        take(&mut it);
        let priority = self.int(take(&mut it))?;
        let condition = match take_if(&mut it, Rule::kw_when) {
            Some(_) => Some(self.expr(take(&mut it), 0)?),
            None => None,
        };
        take(&mut it);
        let action = self.action(first(take(&mut it)))?;
        Ok(RuleDecl {
            attributes,
            name,
            priority,
            condition,
            action,
            span: span_,
        })
    }

    /// `depth` counts the enclosing parentheses and `not`s.
    fn expr(&self, pair: Pair<Rule>, depth: usize) -> Parsed<Expr> {
        let pair_span = span(&pair);
        if depth > MAX_NESTING {
            return Err(self.error(
                pair_span,
                format!("condition nested deeper than {MAX_NESTING} levels"),
                "split the condition into flatter parts",
            ));
        }
        match pair.as_rule() {
            Rule::expr => self.expr(first(pair), depth),
            Rule::or_expr | Rule::and_expr => {
                let rule = pair.as_rule();
                let operands = children(pair)
                    .filter(|p| !matches!(p.as_rule(), Rule::kw_or | Rule::kw_and))
                    .map(|p| self.expr(p, depth))
                    .collect::<Parsed<Vec<_>>>()?;
                Ok(match (operands.len(), rule) {
                    (1, _) => operands.into_iter().next().expect("one operand"),
                    (_, Rule::or_expr) => Expr::Or(operands, pair_span),
                    _ => Expr::And(operands, pair_span),
                })
            }
            Rule::not_expr => {
                let parts: Vec<_> = children(pair).collect();
                let (operand, nots) = parts.split_last().expect("a not_expr has an operand");
                let end = pair_span.end;
                let mut expr = self.expr(operand.clone(), depth + nots.len())?;
                for not in nots.iter().rev() {
                    expr = Expr::Not(Box::new(expr), not.as_span().start()..end);
                }
                Ok(expr)
            }
            Rule::paren => Ok(Expr::Paren(
                Box::new(self.expr(first(pair), depth + 1)?),
                pair_span,
            )),
            _ => Ok(Expr::Test(self.cond_test(pair)?)),
        }
    }

    fn cond_test(&self, pair: Pair<Rule>) -> Parsed<Test> {
        let test_span = span(&pair);
        let mut it = children(pair);
        let field = take(&mut it);
        let field = match field.as_rule() {
            Rule::row_value => Operand::Row(self.row_value(field)?),
            _ => Operand::Field(self.path(field)?),
        };
        let op = take(&mut it);
        let op_rule = op.as_rule();
        let mut operands = children(op);
        let head = take(&mut operands);
        let op = match op_rule {
            Rule::op_compare => {
                let value = take(&mut operands);
                let value = match value.as_rule() {
                    Rule::row_value => Comparand::Row(self.row_value(value)?),
                    _ => Comparand::Literal(self.literal(value)?),
                };
                TestOp::Compare(compare_op(&head), value)
            }
            Rule::op_in => TestOp::In(self.literal(take(&mut operands))?),
            Rule::op_contains => TestOp::Contains(self.literal(take(&mut operands))?),
            Rule::op_starts_with => TestOp::StartsWith(self.literal(take(&mut operands))?),
            Rule::op_ends_with => TestOp::EndsWith(self.literal(take(&mut operands))?),
            Rule::op_matches => TestOp::Matches(regex(take(&mut operands))),
            _ => TestOp::Exists,
        };
        Ok(Test {
            field,
            op,
            span: test_span,
        })
    }

    fn action(&self, pair: Pair<Rule>) -> Parsed<Action> {
        let action_span = span(&pair);
        let rule = pair.as_rule();
        let mut it = children(pair).skip(1).peekable();
        let kind = match rule {
            Rule::act_suppress => ActionKind::Suppress,
            Rule::act_deny => ActionKind::Deny,
            Rule::act_allow => ActionKind::Allow,
            Rule::act_reroute => ActionKind::Reroute(self.name(take(&mut it))),
            Rule::act_chain => ActionKind::Chain(self.name(take(&mut it))),
            Rule::act_modify => ActionKind::Modify(self.json(take(&mut it))?),
            Rule::act_dedup => {
                take(&mut it);
                ActionKind::Dedup {
                    within: self.duration(take(&mut it))?,
                    by: self.clause_path(&mut it)?,
                }
            }
            Rule::act_throttle => {
                let limit = self.int(take(&mut it))?;
                take(&mut it);
                ActionKind::Throttle {
                    limit,
                    per: self.duration(take(&mut it))?,
                    by: self.clause_path(&mut it)?,
                }
            }
            Rule::act_group => {
                take(&mut it);
                let mut by = Vec::new();
                while let Some(path) = take_if(&mut it, Rule::path) {
                    by.push(self.path(path)?);
                }
                take(&mut it);
                let wait = self.duration(take(&mut it))?;
                let max = match take_if(&mut it, Rule::max_clause) {
                    Some(clause) => Some(self.int(children(clause).nth(1).expect("max N"))?),
                    None => None,
                };
                let to = take_if(&mut it, Rule::to_clause).map(|clause| self.to_clause(clause));
                ActionKind::Group { by, wait, max, to }
            }
            _ => {
                take(&mut it);
                ActionKind::Schedule {
                    after: self.duration(take(&mut it))?,
                }
            }
        };
        Ok(Action {
            kind,
            span: action_span,
        })
    }

    fn clause_path<'i, I>(&self, it: &mut std::iter::Peekable<I>) -> Parsed<Option<Path>>
    where
        I: Iterator<Item = Pair<'i, Rule>>,
    {
        match take_if(it, Rule::by_clause) {
            Some(clause) => Ok(Some(self.path(children(clause).nth(1).expect("by PATH"))?)),
            None => Ok(None),
        }
    }

    fn to_clause(&self, clause: Pair<Rule>) -> Name {
        self.name(children(clause).nth(1).expect("to NAME"))
    }

    fn chain<'i>(
        &self,
        it: impl Iterator<Item = Pair<'i, Rule>>,
        span_: Span,
    ) -> Parsed<ChainDecl> {
        let mut it = it.skip(1).peekable();
        let name = self.name(take(&mut it));
        let timeout = match take_if(&mut it, Rule::timeout_clause) {
            Some(clause) => Some(self.duration(children(clause).nth(1).expect("timeout D"))?),
            None => None,
        };
        let steps = it.map(|step| self.step(step)).collect::<Parsed<_>>()?;
        Ok(ChainDecl {
            name,
            timeout,
            steps,
            span: span_,
        })
    }

    fn step(&self, pair: Pair<Rule>) -> Parsed<StepDecl> {
        let step_span = span(&pair);
        let mut it = children(pair).skip(1);
        let name = self.name(take(&mut it));
        let run_pair = take(&mut it);
        let run_rule = run_pair.as_rule();
        let mut run_parts = children(run_pair).skip(1);
        let run = if run_rule == Rule::step_call {
            StepRun::Call {
                provider: self.name(take(&mut run_parts)),
                action_type: self.name(take(&mut run_parts)),
                payload: self.json(take(&mut run_parts))?,
            }
        } else {
            StepRun::Run {
                chain: self.name(take(&mut run_parts)),
            }
        };
        let mut step = StepDecl {
            name,
            run,
            branches: Vec::new(),
            next: None,
            on_failure: None,
            retry: None,
            span: step_span,
        };
        for clause in it {
            let clause_span = span(&clause);
            let rule = clause.as_rule();
            let mut parts = children(clause).skip(1);
            match rule {
                Rule::branch => step.branches.push(self.branch(parts, clause_span)?),
                Rule::next => step.next = Some(self.name(take(&mut parts))),
                Rule::on_failure => {
                    let mode = match take(&mut parts).as_rule() {
                        Rule::kw_abort => OnFailureMode::Abort,
                        Rule::kw_skip => OnFailureMode::Skip,
                        _ => OnFailureMode::Dlq,
                    };
                    step.on_failure = Some(OnFailureDecl {
                        mode,
                        span: clause_span,
                    });
                }
                _ => {
                    let count = self.int(take(&mut parts))?;
                    let backoff = match parts.nth(1) {
                        Some(d) => Some(self.duration(d)?),
                        None => None,
                    };
                    step.retry = Some(RetryDecl {
                        count,
                        backoff,
                        span: clause_span,
                    });
                }
            }
        }
        Ok(step)
    }

    fn branch<'i>(
        &self,
        mut it: impl Iterator<Item = Pair<'i, Rule>>,
        span_: Span,
    ) -> Parsed<BranchDecl> {
        let field = self.path(take(&mut it))?;
        let op_pair = take(&mut it);
        let op_rule = op_pair.as_rule();
        let mut operands = children(op_pair);
        let head = take(&mut operands);
        let (op, value) = match op_rule {
            Rule::branch_compare => (
                BranchOpDecl::Compare(compare_op(&head)),
                Some(self.literal(take(&mut operands))?),
            ),
            Rule::branch_contains => (
                BranchOpDecl::Contains,
                Some(self.literal(take(&mut operands))?),
            ),
            _ => (BranchOpDecl::Exists, None),
        };
        let target = self.name(it.nth(1).expect("then STEP"));
        Ok(BranchDecl {
            field,
            op,
            value,
            target,
            span: span_,
        })
    }

    fn test<'i>(&self, it: impl Iterator<Item = Pair<'i, Rule>>, span_: Span) -> Parsed<TestDecl> {
        let mut it = it.skip(1);
        let name = self.string(take(&mut it))?;
        let mut entries = Vec::new();
        for entry in it {
            let entry_span = span(&entry);
            let rule = entry.as_rule();
            let mut parts = children(entry).skip(1).peekable();
            entries.push(match rule {
                Rule::test_action => {
                    let at = match take_if(&mut parts, Rule::kw_at) {
                        Some(_) => Some(self.string(take(&mut parts))?),
                        None => None,
                    };
                    TestEntry::Action {
                        at,
                        json: self.json(take(&mut parts))?,
                        span: entry_span,
                    }
                }
                Rule::test_input => TestEntry::Input {
                    path: self.string(take(&mut parts))?,
                    span: entry_span,
                },
                Rule::expect_calls => {
                    let count = self.int(take(&mut parts))?;
                    TestEntry::ExpectCalls {
                        count,
                        provider: self.name(take(&mut parts.skip(2))),
                        span: entry_span,
                    }
                }
                _ => {
                    let action_id = self.string(take(&mut parts))?;
                    let outcome = self.name(take(&mut parts));
                    let to =
                        take_if(&mut parts, Rule::to_clause).map(|clause| self.to_clause(clause));
                    let rule = parts.nth(1).map(|name| self.name(name));
                    TestEntry::ExpectOutcome {
                        action_id,
                        outcome,
                        to,
                        rule,
                        span: entry_span,
                    }
                }
            });
        }
        Ok(TestDecl {
            name,
            entries,
            span: span_,
        })
    }

    /// Every block's span runs from the keyword that opens its item (the AST's contract).
    fn block(&self, pair: Pair<Rule>, item_span: &Span) -> Parsed<Block> {
        let end = pair.as_span().end();
        let settings = children(pair)
            .map(|setting| {
                let setting_span = span(&setting);
                let mut it = children(setting);
                let key = self.name(take(&mut it));
                let value = take(&mut it);
                let value = match value.as_rule() {
                    Rule::setting_path => Literal {
                        span: span(&value),
                        kind: LiteralKind::Path(self.path(value)?),
                    },
                    _ => self.literal(value)?,
                };
                Ok(Setting {
                    key,
                    value,
                    span: setting_span,
                })
            })
            .collect::<Parsed<_>>()?;
        Ok(Block {
            settings,
            span: item_span.start..end,
        })
    }

    fn literal(&self, pair: Pair<Rule>) -> Parsed<Literal> {
        let pair = if pair.as_rule() == Rule::literal {
            first(pair)
        } else {
            pair
        };
        let literal_span = span(&pair);
        let kind = match pair.as_rule() {
            Rule::string => LiteralKind::String(self.string(pair)?.value),
            Rule::duration => {
                let duration = self.duration(pair)?;
                LiteralKind::Duration {
                    ms: duration.ms,
                    text: duration.text,
                }
            }
            Rule::number => LiteralKind::Number(self.number(&pair)?),
            Rule::boolean => LiteralKind::Bool(pair.as_str() == "true"),
            Rule::null => LiteralKind::Null,
            Rule::list => LiteralKind::List(
                children(pair)
                    .map(|item| self.literal(item))
                    .collect::<Parsed<_>>()?,
            ),
            Rule::json_object => LiteralKind::Object(self.json_value(pair)?),
            _ => LiteralKind::Name(pair.as_str().to_string()),
        };
        Ok(Literal {
            kind,
            span: literal_span,
        })
    }

    /// Inline JSON, or a template (a `modify` patch, a step's payload) whose rows' values are
    /// collected with where they stand.
    fn json(&self, pair: Pair<Rule>) -> Parsed<Json> {
        let mut rows = Vec::new();
        let mut at = Vec::new();
        Ok(Json {
            span: span(&pair),
            value: self.template(pair, &mut at, &mut rows)?,
            rows,
        })
    }

    fn template(
        &self,
        pair: Pair<Rule>,
        at: &mut Vec<PathSegmentKind>,
        rows: &mut Vec<JsonRow>,
    ) -> Parsed<Value> {
        let pair = if matches!(pair.as_rule(), Rule::json_value | Rule::template_value) {
            first(pair)
        } else {
            pair
        };
        Ok(match pair.as_rule() {
            Rule::template_object => {
                let mut object = serde_json::Map::new();
                for member in children(pair) {
                    let mut it = children(member);
                    let key = self.string(take(&mut it))?.value;
                    at.push(PathSegmentKind::Key(key.clone()));
                    let value = self.template(take(&mut it), at, rows);
                    at.pop();
                    object.insert(key, value?);
                }
                Value::Object(object)
            }
            Rule::template_array => {
                let mut items = Vec::new();
                for (index, item) in children(pair).enumerate() {
                    at.push(PathSegmentKind::Index(index));
                    let value = self.template(item, at, rows);
                    at.pop();
                    items.push(value?);
                }
                Value::Array(items)
            }
            Rule::template_row => {
                let row_span = span(&pair);
                let mut it = children(pair);
                let row = self.row_ref(take(&mut it))?;
                let default = match it.nth(1) {
                    Some(default) => Some(literal_of_json(
                        self.json_value(default.clone())?,
                        span(&default),
                    )),
                    None => None,
                };
                rows.push(JsonRow {
                    at: at.clone(),
                    value: RowValue {
                        row,
                        default,
                        span: row_span,
                    },
                });
                Value::Null
            }
            _ => self.json_value(pair)?,
        })
    }

    fn json_value(&self, pair: Pair<Rule>) -> Parsed<Value> {
        let pair = if pair.as_rule() == Rule::json_value {
            first(pair)
        } else {
            pair
        };
        Ok(match pair.as_rule() {
            Rule::json_object => {
                let mut object = serde_json::Map::new();
                for member in children(pair) {
                    let mut it = children(member);
                    let key = self.string(take(&mut it))?.value;
                    object.insert(key, self.json_value(take(&mut it))?);
                }
                Value::Object(object)
            }
            Rule::json_array => Value::Array(
                children(pair)
                    .map(|item| self.json_value(item))
                    .collect::<Parsed<_>>()?,
            ),
            Rule::string => Value::String(self.string(pair)?.value),
            Rule::number => Value::Number(self.number(&pair)?),
            Rule::boolean => Value::Bool(pair.as_str() == "true"),
            _ => Value::Null,
        })
    }

    fn name(&self, pair: Pair<Rule>) -> Name {
        Name {
            text: pair.as_str().to_string(),
            span: span(&pair),
        }
    }

    /// The grammar admits exactly JSON's escapes, so JSON decodes them; a lone surrogate
    /// (`"\ud800"`) is the one thing it still refuses.
    fn string(&self, pair: Pair<Rule>) -> Parsed<Str> {
        let string_span = span(&pair);
        let value = serde_json::from_str::<String>(pair.as_str()).map_err(|_| {
            self.error(
                string_span.clone(),
                "invalid escape in string",
                "`\\u` escapes must form valid UTF-16 (a high surrogate needs its low one)",
            )
        })?;
        Ok(Str {
            value,
            span: string_span,
        })
    }

    fn number(&self, pair: &Pair<Rule>) -> Parsed<serde_json::Number> {
        serde_json::from_str(pair.as_str()).map_err(|_| {
            self.error(
                span(pair),
                format!("number `{}` is out of range", pair.as_str()),
                "numbers must fit a 64-bit float",
            )
        })
    }

    fn int(&self, pair: Pair<Rule>) -> Parsed<Int> {
        let value = pair.as_str().parse::<i64>().map_err(|_| {
            self.error(
                span(&pair),
                format!("integer `{}` is out of range", pair.as_str()),
                "integers must fit in 64 bits",
            )
        })?;
        Ok(Int {
            value,
            span: span(&pair),
        })
    }

    fn duration(&self, pair: Pair<Rule>) -> Parsed<Duration> {
        let text = pair.as_str();
        let unit_at = text
            .find(|c: char| !c.is_ascii_digit())
            .expect("a duration has a unit");
        let unit_ms: u64 = match &text[unit_at..] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => 86_400_000,
        };
        let ms = text[..unit_at]
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_ms))
            .ok_or_else(|| {
                self.error(
                    span(&pair),
                    format!("duration `{text}` is out of range"),
                    "durations must fit in 64 bits of milliseconds",
                )
            })?;
        Ok(Duration {
            ms,
            text: text.to_string(),
            span: span(&pair),
        })
    }

    fn path(&self, pair: Pair<Rule>) -> Parsed<Path> {
        let path_span = span(&pair);
        let mut it = children(pair);
        let root = self.name(take(&mut it));
        let segments = it
            .map(|segment| self.segment(segment))
            .collect::<Parsed<_>>()?;
        Ok(Path {
            root,
            segments,
            span: path_span,
        })
    }

    fn segment(&self, pair: Pair<Rule>) -> Parsed<PathSegment> {
        let segment = first(pair);
        let segment_span = span(&segment);
        let kind = match segment.as_rule() {
            Rule::path_index => PathSegmentKind::Index(segment.as_str().parse().map_err(|_| {
                self.error(
                    segment_span.clone(),
                    format!("index `{}` is out of range", segment.as_str()),
                    "list indexes must fit in 64 bits",
                )
            })?),
            Rule::string => PathSegmentKind::QuotedKey(self.string(segment)?.value),
            _ => PathSegmentKind::Key(segment.as_str().to_string()),
        };
        Ok(PathSegment {
            kind,
            span: segment_span,
        })
    }

    fn row_ref(&self, pair: Pair<Rule>) -> Parsed<RowRef> {
        let row_span = span(&pair);
        let mut it = children(pair);
        let table = self.name(take(&mut it));
        let key = self.path(take(&mut it))?;
        let field = it
            .map(|segment| self.segment(segment))
            .collect::<Parsed<_>>()?;
        Ok(RowRef {
            table,
            key,
            field,
            span: row_span,
        })
    }

    fn row_value(&self, pair: Pair<Rule>) -> Parsed<RowValue> {
        let value_span = span(&pair);
        let mut it = children(pair);
        let row = self.row_ref(take(&mut it))?;
        let default = it.nth(1).map(|d| self.literal(d)).transpose()?;
        Ok(RowValue {
            row,
            default,
            span: value_span,
        })
    }
}

/// A JSON value as the literal a row's default is kept as.
fn literal_of_json(value: Value, span: Span) -> Literal {
    let kind = match value {
        Value::String(s) => LiteralKind::String(s),
        Value::Number(n) => LiteralKind::Number(n),
        Value::Bool(b) => LiteralKind::Bool(b),
        Value::Null => LiteralKind::Null,
        Value::Array(items) => LiteralKind::List(
            items
                .into_iter()
                .map(|item| literal_of_json(item, span.clone()))
                .collect(),
        ),
        object => LiteralKind::Object(object),
    };
    Literal { kind, span }
}

fn compare_op(pair: &Pair<Rule>) -> CompareOp {
    match pair.as_str() {
        "==" => CompareOp::Eq,
        "!=" => CompareOp::Ne,
        "<" => CompareOp::Lt,
        "<=" => CompareOp::Le,
        ">" => CompareOp::Gt,
        _ => CompareOp::Ge,
    }
}

/// Only `\/` is the language's own escape; every other backslash pair belongs to the regex.
fn regex(pair: Pair<Rule>) -> Regex {
    let regex_span = span(&pair);
    let body = first(pair).as_str();
    let mut pattern = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('/') => pattern.push('/'),
                Some(other) => {
                    pattern.push('\\');
                    pattern.push(other);
                }
                None => pattern.push('\\'),
            }
        } else {
            pattern.push(c);
        }
    }
    Regex {
        pattern,
        span: regex_span,
    }
}
