//! The canonical formatter (`acteon fmt`): one file's AST and its text back to text, in the one
//! layout every script shares.
//!
//! Layout: 2-space indentation; one blank line between top-level items (consecutive `include`s
//! stay together unless they were apart); inside blocks, a blank line only where the author left
//! one. Every comment survives: a comment is printed right before the first node that starts
//! after it, at that node's indentation, and a comment that ended a line after a node stays at
//! the end of that node's line. Names, durations and parentheses are printed as written, so the
//! formatted script lowers to the same plan.

mod expr;
/// A path as written (lowering turns a path-valued setting into text with it).
pub(crate) use expr::path as path_text;
mod json;

use crate::syntax::ast::{
    Block, ChainDecl, Comment, Expr, File, Item, OnFailureMode, ProviderDecl, QuotaMode, RuleDecl,
    SourceKind, Span, StepDecl, StepRun, TableSourceDecl, TestDecl, TestEntry,
};

/// Lines longer than this are broken where the layout allows (conditions, JSON, lists).
pub(crate) const MAX_WIDTH: usize = 100;

const INDENT: usize = 2;

/// A condition broken over lines continues this far past `when`, so that the `and`/`or`
/// operands stand out from the rule's own clauses.
const CONTINUATION: usize = 3;

/// The canonical text of `file`, whose source text is `text` (read for the blank lines and the
/// end-of-line comments the AST does not keep).
pub fn format(file: &File, text: &str) -> String {
    let mut printer = Printer {
        text,
        comments: &file.comments,
        next_comment: 0,
        out: String::new(),
        last_end: 0,
    };
    printer.items(&file.items);
    printer.finish()
}

/// Whether the author separated two things by a blank line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// Never (between a rule's or a step's clauses).
    None,
    /// Where the source had one.
    AsWritten,
    /// Always one (between top-level items, between steps).
    Always,
}

struct Printer<'a> {
    text: &'a str,
    comments: &'a [Comment],
    next_comment: usize,
    out: String,
    /// Where the last printed node or comment ended in the source: a blank line after it is the
    /// author's.
    last_end: usize,
}

impl Printer<'_> {
    fn items(&mut self, items: &[Item]) {
        for (i, item) in items.iter().enumerate() {
            let both_includes =
                i > 0 && matches!((&items[i - 1], item), (Item::Include(_), Item::Include(_)));
            let gap = if i == 0 || both_includes {
                Gap::AsWritten
            } else {
                Gap::Always
            };
            self.item(item, gap);
        }
    }

    fn finish(mut self) -> String {
        self.comments_before(usize::MAX, 0, Gap::AsWritten);
        self.out
    }

    fn item(&mut self, item: &Item, gap: Gap) {
        let span = item.span();
        let start = match item {
            Item::Rule(rule) => rule_start(rule),
            _ => span.start,
        };
        self.lead(start, 0, gap);
        match item {
            Item::Scope(scope) => {
                let mut line = "scope".to_string();
                if let Some(ns) = &scope.namespace {
                    line.push_str(&format!(" namespace {}", json::quote(&ns.value)));
                }
                if let Some(tenant) = &scope.tenant {
                    line.push_str(&format!(" tenant {}", json::quote(&tenant.value)));
                }
                self.line(0, &line);
            }
            Item::Include(include) => {
                self.line(0, &format!("include {}", json::quote(&include.path.value)))
            }
            Item::Source(source) => match &source.kind {
                SourceKind::Kafka(block) => self.block(0, "source kafka", block, span.start),
                SourceKind::File(path) => {
                    self.line(0, &format!("source file {}", json::quote(&path.value)))
                }
                SourceKind::Stdin => self.line(0, "source stdin"),
            },
            Item::Table(table) => {
                let head = format!("table {} key {} from", table.name.text, table.key.text);
                match &table.source {
                    TableSourceDecl::File(path) => {
                        self.line(0, &format!("{head} {}", json::quote(&path.value)))
                    }
                    TableSourceDecl::Kafka(block) => {
                        self.block(0, &format!("{head} kafka"), block, span.start)
                    }
                }
            }
            Item::Provider(provider) => self.provider(provider),
            Item::Rule(rule) => self.rule(rule),
            Item::Chain(chain) => self.chain(chain),
            Item::Breakers(block) => self.block(0, "breakers", block, span.start),
            Item::Breaker(breaker) => {
                let head = format!("breaker {}", breaker.provider.text);
                self.block(0, &head, &breaker.settings, span.start);
            }
            Item::Quota(quota) => {
                let mode = match quota.on_exceed {
                    QuotaMode::Block => "block",
                    QuotaMode::Warn => "warn",
                };
                let line = format!(
                    "quota {} {} per {} {mode}",
                    json::quote(&quota.tenant.value),
                    quota.limit.value,
                    quota.per.text
                );
                self.line(0, &line);
            }
            Item::Retention(retention) => {
                let head = format!("retention {}", json::quote(&retention.tenant.value));
                self.block(0, &head, &retention.settings, span.start);
            }
            Item::Recurring(recurring) => {
                let head = format!("recurring {}", recurring.name.text);
                self.block(0, &head, &recurring.settings, span.start);
            }
            Item::Audit(block) => self.block(0, "audit", block, span.start),
            Item::Background(block) => self.block(0, "background", block, span.start),
            Item::Test(test) => self.test(test),
        }
        self.ended(span.end);
    }

    fn provider(&mut self, provider: &ProviderDecl) {
        let head = format!("provider {} {}", provider.name.text, provider.kind.text);
        match &provider.settings {
            Some(block) => self.block(0, &head, block, provider.span.start),
            None => self.line(0, &head),
        }
    }

    /// `HEAD {`, one setting per line, `}`; `opened_at` is where the item starts in the source.
    fn block(&mut self, indent: usize, head: &str, block: &Block, opened_at: usize) {
        let first = block
            .settings
            .first()
            .map_or(block.span.end, |s| s.span.start);
        if block.settings.is_empty() && !self.has_comment_before(block.span.end) {
            self.line(indent, &format!("{head} {{}}"));
            return;
        }
        self.line(indent, &format!("{head} {{"));
        self.opener_comment(opened_at, first);
        let inner = indent + INDENT;
        for (i, setting) in block.settings.iter().enumerate() {
            let gap = if i == 0 { Gap::None } else { Gap::AsWritten };
            self.lead(setting.span.start, inner, gap);
            let prefix = format!("{} = ", setting.key.text);
            let value = json::literal(&setting.value, inner, inner + prefix.len());
            self.line(inner, &format!("{prefix}{value}"));
            self.ended(setting.span.end);
        }
        self.close(indent, block.span.end);
    }

    /// Comments left inside a block go before its closing brace.
    fn close(&mut self, indent: usize, end: usize) {
        self.comments_before(end, indent + INDENT, Gap::AsWritten);
        self.line(indent, "}");
    }

    fn rule(&mut self, rule: &RuleDecl) {
        for attribute in &rule.attributes {
            self.comments_before(attribute.span.start, 0, Gap::AsWritten);
            let args: Vec<&str> = attribute.args.iter().map(|a| a.text.as_str()).collect();
            let line = if args.is_empty() {
                format!("@{}", attribute.name.text)
            } else {
                format!("@{}({})", attribute.name.text, args.join(", "))
            };
            self.line(0, &line);
            self.ended(attribute.span.end);
        }
        self.comments_before(rule.name.span.start, 0, Gap::AsWritten);
        self.line(
            0,
            &format!("rule {} priority {}", rule.name.text, rule.priority.value),
        );
        self.ended(rule.priority.span.end);
        if let Some(condition) = &rule.condition {
            self.condition(condition);
        }
        self.comments_before(rule.action.span.start, INDENT, Gap::None);
        let action = expr::action(&rule.action, INDENT, INDENT + 5);
        self.line(INDENT, &format!("then {action}"));
        self.ended(rule.action.span.end);
    }

    /// `when CONDITION`, broken before the top-level `and`s or `or`s when it is too long for
    /// one line or when comments sit between its operands.
    fn condition(&mut self, condition: &Expr) {
        let span = condition.span();
        self.comments_before(span.start, INDENT, Gap::None);
        let column = INDENT + 5;
        let flat = expr::expr(condition, INDENT, column);
        let (operands, separator) = match condition {
            Expr::Or(operands, _) => (operands.as_slice(), "or"),
            Expr::And(operands, _) => (operands.as_slice(), "and"),
            _ => (&[][..], ""),
        };
        let too_long = flat.lines().next().unwrap_or_default().len() + column > MAX_WIDTH;
        let commented = operands
            .last()
            .is_some_and(|last| self.has_comment_between(span.start, last.span().start));
        if operands.len() < 2 || !(too_long || commented) {
            self.line(INDENT, &format!("when {flat}"));
            self.ended(span.end);
            return;
        }
        let first = expr::expr(&operands[0], INDENT, column);
        self.line(INDENT, &format!("when {first}"));
        self.ended(operands[0].span().end);
        let continuation = INDENT + CONTINUATION;
        for operand in &operands[1..] {
            let operand_span = operand.span();
            self.comments_before(operand_span.start, continuation, Gap::None);
            let column = continuation + separator.len() + 1;
            let text = expr::expr(operand, continuation, column);
            self.line(continuation, &format!("{separator} {text}"));
            self.ended(operand_span.end);
        }
    }

    fn chain(&mut self, chain: &ChainDecl) {
        let mut head = format!("chain {}", chain.name.text);
        if let Some(timeout) = &chain.timeout {
            head.push_str(&format!(" timeout {}", timeout.text));
        }
        let first = chain.steps.first().map_or(chain.span.end, |s| s.span.start);
        self.line(0, &format!("{head} {{"));
        self.opener_comment(chain.span.start, first);
        for (i, step) in chain.steps.iter().enumerate() {
            let gap = if i == 0 { Gap::None } else { Gap::Always };
            self.lead(step.span.start, INDENT, gap);
            self.step(step);
            self.ended(step.span.end);
        }
        self.close(0, chain.span.end);
    }

    fn step(&mut self, step: &StepDecl) {
        let head = format!("step {} ", step.name.text);
        match &step.run {
            StepRun::Call {
                provider,
                action_type,
                payload,
            } => {
                let head = format!("{head}call {} {} ", provider.text, action_type.text);
                let payload_text = json::template(payload, INDENT, INDENT + head.len());
                self.line(INDENT, &format!("{head}{payload_text}"));
                self.ended(payload.span.end);
            }
            StepRun::Run { chain } => {
                self.line(INDENT, &format!("{head}run {}", chain.text));
                self.ended(chain.span.end);
            }
        }
        let inner = INDENT * 2;
        for branch in &step.branches {
            self.comments_before(branch.span.start, inner, Gap::None);
            let mut line = format!(
                "if {} {}",
                expr::path(&branch.field),
                expr::branch_op(branch.op)
            );
            if let Some(value) = &branch.value {
                line.push(' ');
                line.push_str(&json::literal(value, inner, inner + line.len()));
            }
            line.push_str(&format!(" then {}", branch.target.text));
            self.line(inner, &line);
            self.ended(branch.span.end);
        }
        if let Some(next) = &step.next {
            self.comments_before(next.span.start, inner, Gap::None);
            self.line(inner, &format!("next {}", next.text));
            self.ended(next.span.end);
        }
        if let Some(on_failure) = &step.on_failure {
            self.comments_before(on_failure.span.start, inner, Gap::None);
            let mode = match on_failure.mode {
                OnFailureMode::Abort => "abort",
                OnFailureMode::Skip => "skip",
                OnFailureMode::Dlq => "dlq",
            };
            self.line(inner, &format!("on_failure {mode}"));
            self.ended(on_failure.span.end);
        }
        if let Some(retry) = &step.retry {
            self.comments_before(retry.span.start, inner, Gap::None);
            let mut line = format!("retry {}", retry.count.value);
            if let Some(backoff) = &retry.backoff {
                line.push_str(&format!(" backoff {}", backoff.text));
            }
            self.line(inner, &line);
            self.ended(retry.span.end);
        }
    }

    fn test(&mut self, test: &TestDecl) {
        let first = test
            .entries
            .first()
            .map_or(test.span.end, |e| entry_span(e).start);
        self.line(0, &format!("test {} {{", json::quote(&test.name.value)));
        self.opener_comment(test.span.start, first);
        for (i, entry) in test.entries.iter().enumerate() {
            let span = entry_span(entry);
            let gap = if i == 0 { Gap::None } else { Gap::AsWritten };
            self.lead(span.start, INDENT, gap);
            let line = match entry {
                TestEntry::Action { at, json, .. } => {
                    let mut head = "action ".to_string();
                    if let Some(at) = at {
                        head.push_str(&format!("at {} ", json::quote(&at.value)));
                    }
                    let body = json::json(&json.value, INDENT, INDENT + head.len());
                    format!("{head}{body}")
                }
                TestEntry::Input { path, .. } => format!("input {}", json::quote(&path.value)),
                TestEntry::ExpectOutcome {
                    action_id,
                    outcome,
                    to,
                    rule,
                    ..
                } => {
                    let mut line =
                        format!("expect {} {}", json::quote(&action_id.value), outcome.text);
                    if let Some(to) = to {
                        line.push_str(&format!(" to {}", to.text));
                    }
                    if let Some(rule) = rule {
                        line.push_str(&format!(" rule {}", rule.text));
                    }
                    line
                }
                TestEntry::ExpectCalls {
                    count, provider, ..
                } => {
                    let calls = if count.value == 1 { "call" } else { "calls" };
                    format!("expect {} {calls} to {}", count.value, provider.text)
                }
            };
            self.line(INDENT, &line);
            self.ended(span.end);
        }
        self.close(0, test.span.end);
    }

    // -----------------------------------------------------------------------------------------
    // Lines, blank lines and comments

    fn line(&mut self, indent: usize, text: &str) {
        self.out.push_str(&" ".repeat(indent));
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// One blank line, never two, never at the top of the file or right after an opening brace.
    fn blank(&mut self) {
        if self.out.is_empty() || self.out.ends_with("\n\n") || self.out.ends_with("{\n") {
            return;
        }
        self.out.push('\n');
    }

    /// Whether the source has an empty line between the last printed thing and `start`.
    fn blank_in_source(&self, start: usize) -> bool {
        let Some(between) = self.text.get(self.last_end..start) else {
            return false;
        };
        let mut lines = between.split('\n');
        lines.next();
        let mut lines: Vec<&str> = lines.collect();
        // The last piece is the start of `start`'s own line, not a whole line.
        lines.pop();
        lines.iter().any(|l| l.trim().is_empty())
    }

    /// Before a node that starts at `start`: its comments, then the blank line `gap` calls for
    /// (before the first comment if there are any, else before the node).
    fn lead(&mut self, start: usize, indent: usize, gap: Gap) {
        let gap = if self.comments_before(start, indent, gap) {
            Gap::AsWritten
        } else {
            gap
        };
        let blank = match gap {
            Gap::None => false,
            Gap::AsWritten => self.blank_in_source(start),
            Gap::Always => true,
        };
        if blank {
            self.blank();
        }
    }

    /// Prints every pending comment that starts before `start`, at `indent`; `gap` says whether
    /// a blank line may come before the first of them. Whether there were any.
    fn comments_before(&mut self, start: usize, indent: usize, gap: Gap) -> bool {
        let mut first = true;
        while let Some(comment) = self.comments.get(self.next_comment) {
            if comment.span.start >= start {
                break;
            }
            let blank = match gap {
                _ if !first => self.blank_in_source(comment.span.start),
                Gap::None => false,
                Gap::AsWritten => self.blank_in_source(comment.span.start),
                Gap::Always => true,
            };
            if blank {
                self.blank();
            }
            self.line(indent, comment.text.trim_end());
            self.last_end = comment.span.end;
            self.next_comment += 1;
            first = false;
        }
        !first
    }

    /// Records that a node ending at `end` was printed, and keeps a comment that followed it on
    /// the same source line at the end of its printed line.
    fn ended(&mut self, end: usize) {
        let end = self.content_end(end);
        self.last_end = self.last_end.max(end);
        if let Some(comment) = self.comments.get(self.next_comment) {
            let same_line = comment.span.start >= end
                && self
                    .text
                    .get(end..comment.span.start)
                    .is_some_and(|s| s.chars().all(|c| c == ' ' || c == '\t'));
            if same_line {
                self.trail(comment);
            }
        }
    }

    /// Where a node's last token ends. A span can run on over the whitespace and comments that
    /// follow the node (where an optional tail was tried and not found), and those comments
    /// belong to whatever comes next.
    fn content_end(&self, end: usize) -> usize {
        let mut end = end.min(self.text.len());
        loop {
            end = self.text[..end].trim_end().len();
            let at = self.comments.partition_point(|c| c.span.end < end);
            match self.comments.get(at) {
                Some(comment) if comment.span.end == end => end = comment.span.start,
                _ => return end,
            }
        }
    }

    /// A comment on the same line as an item's opening brace stays there.
    fn opener_comment(&mut self, opened_at: usize, first_child: usize) {
        if let Some(comment) = self.comments.get(self.next_comment) {
            let on_opening_line = comment.span.start > opened_at
                && comment.span.start < first_child
                && self
                    .text
                    .get(opened_at..comment.span.start)
                    .is_some_and(|s| !s.contains('\n'));
            if on_opening_line {
                self.trail(comment);
            }
        }
    }

    fn trail(&mut self, comment: &Comment) {
        self.out.pop();
        self.out.push_str("  ");
        self.out.push_str(comment.text.trim_end());
        self.out.push('\n');
        self.last_end = comment.span.end;
        self.next_comment += 1;
    }

    fn has_comment_before(&self, end: usize) -> bool {
        self.comments
            .get(self.next_comment)
            .is_some_and(|c| c.span.start < end)
    }

    fn has_comment_between(&self, start: usize, end: usize) -> bool {
        self.comments[self.next_comment..]
            .iter()
            .any(|c| c.span.start > start && c.span.start < end)
    }
}

/// Attributes come before the `rule` keyword, and their comments with them.
fn rule_start(rule: &RuleDecl) -> usize {
    rule.attributes
        .first()
        .map_or(rule.span.start, |a| a.span.start.min(rule.span.start))
}

fn entry_span(entry: &TestEntry) -> Span {
    match entry {
        TestEntry::Action { span, .. }
        | TestEntry::Input { span, .. }
        | TestEntry::ExpectOutcome { span, .. }
        | TestEntry::ExpectCalls { span, .. } => span.clone(),
    }
}
