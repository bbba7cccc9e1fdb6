//! The abstract syntax tree. Every node keeps the byte span it was parsed from, in its file,
//! so that checks can point at it and the formatter can put comments back where they were.
//!
//! The tree is what was written, not yet what it means: names are unresolved, counts and
//! durations may be zero (the checker reports that), and settings blocks are untyped
//! `key = value` lists that the checker validates per block kind.

use serde_json::Value;
use std::ops::Range;
use std::path::PathBuf;

/// Byte offsets into one file's text.
pub type Span = Range<usize>;

/// One parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub path: PathBuf,
    pub items: Vec<Item>,
    /// Every `# ...` comment, in order, with the `#`.
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

/// A name as written: a rule, provider, chain, step, setting key or keyword value.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A string literal, unescaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Str {
    pub value: String,
    pub span: Span,
}

/// An integer as written (may be zero or negative; the checker decides what is allowed).
#[derive(Debug, Clone, PartialEq)]
pub struct Int {
    pub value: i64,
    pub span: Span,
}

/// A duration such as `60s`; `text` is kept so the formatter prints it as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Duration {
    pub ms: u64,
    pub text: String,
    pub span: Span,
}

/// A JSON value written inline (a merge patch, a payload template, a test action).
#[derive(Debug, Clone, PartialEq)]
pub struct Json {
    /// A row's value written in its place is `null` here, and listed in `rows`.
    pub value: Value,
    pub span: Span,
    /// The rows' values written in a merge patch or a payload template, in written order.
    pub rows: Vec<JsonRow>,
}

/// A row's value in place of a JSON value: `"zone": floors[payload.floor].zone ?? "none"`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRow {
    /// Where it stands in the JSON value: object keys and array indexes from the top.
    pub at: Vec<PathSegmentKind>,
    pub value: RowValue,
}

/// `devices[payload.device_id].max_temp`: the row of `table` whose key is the action's `key`
/// field, and `field` below it (none: the whole row).
#[derive(Debug, Clone, PartialEq)]
pub struct RowRef {
    pub table: Name,
    pub key: Path,
    pub field: Vec<PathSegment>,
    pub span: Span,
}

/// A row's value, and what a missing row or field reads as instead (`?? 85`).
#[derive(Debug, Clone, PartialEq)]
pub struct RowValue {
    pub row: RowRef,
    pub default: Option<Literal>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiteralKind {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
    List(Vec<Literal>),
    Duration {
        ms: u64,
        text: String,
    },
    /// A JSON object, e.g. `properties = { "security.protocol": "SSL" }`.
    Object(Value),
    /// A bare name: a reference (`fallback = dead-letter-queue`) or a keyword (`start = earliest`).
    Name(String),
    /// A field path with at least one segment (`key = payload.device_id`); only a setting's
    /// value can be one. A path of one name is a [`LiteralKind::Name`].
    Path(Path),
}

// A rule is much larger than an include; boxing it would buy nothing, since a script's items
// are built once per compilation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Scope(ScopeDecl),
    Include(IncludeDecl),
    Source(SourceDecl),
    Table(TableDecl),
    Provider(ProviderDecl),
    Rule(RuleDecl),
    Chain(ChainDecl),
    /// `breakers { ... }`: defaults for every provider.
    Breakers(Block),
    Breaker(BreakerDecl),
    Quota(QuotaDecl),
    Retention(RetentionDecl),
    Recurring(RecurringDecl),
    Audit(Block),
    Background(Block),
    Test(TestDecl),
}

impl Item {
    /// Every row's value the item reads (a rule's condition and `modify` patch, a chain's
    /// step payloads), in written order.
    pub fn row_values(&self) -> Vec<&RowValue> {
        fn expr<'e>(e: &'e Expr, out: &mut Vec<&'e RowValue>) {
            match e {
                Expr::Or(parts, _) | Expr::And(parts, _) => parts.iter().for_each(|p| expr(p, out)),
                Expr::Not(inner, _) | Expr::Paren(inner, _) => expr(inner, out),
                Expr::Test(test) => {
                    if let Operand::Row(row) = &test.field {
                        out.push(row);
                    }
                    if let TestOp::Compare(_, Comparand::Row(row)) = &test.op {
                        out.push(row);
                    }
                }
            }
        }
        let mut out = Vec::new();
        match self {
            Item::Rule(rule) => {
                if let Some(condition) = &rule.condition {
                    expr(condition, &mut out);
                }
                if let ActionKind::Modify(patch) = &rule.action.kind {
                    out.extend(patch.rows.iter().map(|r| &r.value));
                }
            }
            Item::Chain(chain) => {
                for step in &chain.steps {
                    if let StepRun::Call { payload, .. } = &step.run {
                        out.extend(payload.rows.iter().map(|r| &r.value));
                    }
                }
            }
            _ => {}
        }
        out
    }

    pub fn span(&self) -> Span {
        match self {
            Item::Scope(i) => i.span.clone(),
            Item::Include(i) => i.span.clone(),
            Item::Source(i) => i.span.clone(),
            Item::Table(i) => i.span.clone(),
            Item::Provider(i) => i.span.clone(),
            Item::Rule(i) => i.span.clone(),
            Item::Chain(i) => i.span.clone(),
            Item::Breakers(i) | Item::Audit(i) | Item::Background(i) => i.span.clone(),
            Item::Breaker(i) => i.span.clone(),
            Item::Quota(i) => i.span.clone(),
            Item::Retention(i) => i.span.clone(),
            Item::Recurring(i) => i.span.clone(),
            Item::Test(i) => i.span.clone(),
        }
    }
}

/// `{ key = value ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub settings: Vec<Setting>,
    /// From the keyword that opens the item to the closing brace.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: Name,
    pub value: Literal,
    pub span: Span,
}

/// `scope namespace "iot" tenant "smartbuilding-hq"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeDecl {
    pub namespace: Option<Str>,
    pub tenant: Option<Str>,
    pub span: Span,
}

/// `include "other.acteon"`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncludeDecl {
    pub path: Str,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceDecl {
    pub kind: SourceKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    Kafka(Block),
    File(Str),
    Stdin,
}

/// `table NAME key FIELD from "FILE"` or `from kafka { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDecl {
    pub name: Name,
    /// The field of each row that holds its key.
    pub key: Name,
    pub source: TableSourceDecl,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TableSourceDecl {
    /// JSON lines, relative to the script.
    File(Str),
    Kafka(Block),
}

/// `provider NAME TYPE [{ ... }]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderDecl {
    pub name: Name,
    /// `aws-sns`, `log`, ...: validated by the checker.
    pub kind: Name,
    pub settings: Option<Block>,
    pub span: Span,
}

/// `@allow(unreachable)` before a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: Name,
    pub args: Vec<Name>,
    pub span: Span,
}

/// `rule NAME priority N [when EXPR] then ACTION`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDecl {
    pub attributes: Vec<Attribute>,
    pub name: Name,
    pub priority: Int,
    pub condition: Option<Expr>,
    pub action: Action,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>, Span),
    And(Vec<Expr>, Span),
    Not(Box<Expr>, Span),
    /// Parentheses, kept so the formatter prints them where they were written.
    Paren(Box<Expr>, Span),
    Test(Test),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Or(_, s) | Expr::And(_, s) | Expr::Not(_, s) | Expr::Paren(_, s) => s.clone(),
            Expr::Test(t) => t.span.clone(),
        }
    }
}

/// One test of a field: `payload.value > 85`, `dedup_key exists`, ...
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub field: Operand,
    pub op: TestOp,
    pub span: Span,
}

/// What a test reads: a field of the action, or a row's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(Path),
    Row(RowValue),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Field(path) => path.span.clone(),
            Operand::Row(row) => row.span.clone(),
        }
    }
}

/// What a comparison compares with: a constant, or a row's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparand {
    Literal(Literal),
    Row(RowValue),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestOp {
    Compare(CompareOp, Comparand),
    /// The literal is a list.
    In(Literal),
    Contains(Literal),
    StartsWith(Literal),
    EndsWith(Literal),
    Matches(Regex),
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `/pattern/`, with `\/` unescaped to `/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Regex {
    pub pattern: String,
    pub span: Span,
}

/// `payload.a.0."odd key"`: a root name and segments below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub root: Name,
    pub segments: Vec<PathSegment>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PathSegment {
    pub kind: PathSegmentKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathSegmentKind {
    Key(String),
    /// Written with quotes.
    QuotedKey(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub kind: ActionKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    Suppress,
    Deny,
    Allow,
    Reroute(Name),
    Chain(Name),
    Modify(Json),
    Dedup {
        within: Duration,
        by: Option<Path>,
    },
    Throttle {
        limit: Int,
        per: Duration,
        by: Option<Path>,
    },
    Group {
        by: Vec<Path>,
        wait: Duration,
        max: Option<Int>,
        to: Option<Name>,
    },
    Schedule {
        after: Duration,
    },
}

/// `chain NAME [timeout D] { step ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainDecl {
    pub name: Name,
    pub timeout: Option<Duration>,
    pub steps: Vec<StepDecl>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepDecl {
    pub name: Name,
    pub run: StepRun,
    pub branches: Vec<BranchDecl>,
    /// `next STEP`.
    pub next: Option<Name>,
    pub on_failure: Option<OnFailureDecl>,
    pub retry: Option<RetryDecl>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepRun {
    /// `call PROVIDER ACTION_TYPE { payload template }`.
    Call {
        provider: Name,
        action_type: Name,
        payload: Json,
    },
    /// `run CHAIN`.
    Run { chain: Name },
}

/// `if FIELD OP [VALUE] then STEP`; the field's root is `success` or `body`.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchDecl {
    pub field: Path,
    pub op: BranchOpDecl,
    pub value: Option<Literal>,
    pub target: Name,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchOpDecl {
    Compare(CompareOp),
    Contains,
    Exists,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OnFailureDecl {
    pub mode: OnFailureMode,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailureMode {
    Abort,
    Skip,
    Dlq,
}

/// `retry N [backoff D]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryDecl {
    pub count: Int,
    pub backoff: Option<Duration>,
    pub span: Span,
}

/// `breaker PROVIDER { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerDecl {
    pub provider: Name,
    pub settings: Block,
    pub span: Span,
}

/// `quota "TENANT" N per D block|warn`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaDecl {
    pub tenant: Str,
    pub limit: Int,
    pub per: Duration,
    pub on_exceed: QuotaMode,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaMode {
    Block,
    Warn,
}

/// `retention "TENANT" { audit = 7d ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionDecl {
    pub tenant: Str,
    pub settings: Block,
    pub span: Span,
}

/// `recurring NAME { cron = "..." ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecurringDecl {
    pub name: Name,
    pub settings: Block,
    pub span: Span,
}

/// `test "NAME" { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestDecl {
    pub name: Str,
    pub entries: Vec<TestEntry>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestEntry {
    /// `action [at "RFC 3339"] { json }`.
    Action {
        at: Option<Str>,
        json: Json,
        span: Span,
    },
    /// `input "file.jsonl"`.
    Input { path: Str, span: Span },
    /// `expect "ID" OUTCOME [to PROVIDER] [rule RULE]`.
    ExpectOutcome {
        action_id: Str,
        outcome: Name,
        to: Option<Name>,
        rule: Option<Name>,
        span: Span,
    },
    /// `expect N call(s) to PROVIDER`.
    ExpectCalls {
        count: Int,
        provider: Name,
        span: Span,
    },
}
