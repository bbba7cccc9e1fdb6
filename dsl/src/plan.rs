//! The plan: the checked, lowered, serializable form of a script that the engine consumes.
//!
//! Everything here is resolved: names point at things that exist, durations are milliseconds,
//! rules are in evaluation order (ascending priority, ties in source order with includes expanded
//! in place), breaker settings are merged per provider. The engine never has to look back at the
//! source text. `acteon explain --format json` prints this structure.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A whole compiled script (the main file and everything it includes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Plan {
    pub source: Source,
    /// Reference data the rules read by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    pub providers: Vec<Provider>,
    /// In evaluation order.
    pub rules: Vec<Rule>,
    pub chains: Vec<Chain>,
    /// One entry per provider, defaults merged with the provider's own overrides.
    pub breakers: Vec<Breaker>,
    pub quotas: Vec<Quota>,
    pub retention: Vec<Retention>,
    pub recurring: Vec<Recurring>,
    pub audit: Audit,
    pub background: Background,
    pub tests: Vec<TestCase>,
}

impl Plan {
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Every row value the plan reads (conditions, `modify` patches, step payloads), in plan
    /// order: rules first, then chains.
    pub fn row_paths(&self) -> Vec<&RowPath> {
        let mut out = Vec::new();
        for rule in &self.rules {
            if let Some(condition) = &rule.condition {
                condition.row_paths(&mut out);
            }
            if let RuleAction::Modify { rows, .. } = &rule.action {
                out.extend(rows.iter().map(|r| &r.value));
            }
        }
        for step in self.chains.iter().flat_map(|c| &c.steps) {
            if let StepRun::Call { rows, .. } = &step.run {
                out.extend(rows.iter().map(|r| &r.value));
            }
        }
        out
    }

    /// The distinct lookups (a table by an action field's value) the plan makes, in plan
    /// order: each is made once per action, whatever reads it.
    pub fn lookups(&self) -> Vec<Lookup> {
        let mut out: Vec<Lookup> = Vec::new();
        for path in self.row_paths() {
            if !out.contains(&path.lookup) {
                out.push(path.lookup.clone());
            }
        }
        out
    }

    /// The plan with every source position removed, for comparing two plans that were written
    /// in different files (a hand-written script against an imported one, a script against its
    /// formatted self).
    pub fn without_origins(mut self) -> Plan {
        for rule in &mut self.rules {
            rule.origin = Origin::default();
        }
        self
    }
}

/// Where a rule was written; `acteon explain` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Origin {
    /// Path of the file, as given to the compiler or relative to the including file.
    pub file: String,
    /// 1-based line of the rule's keyword.
    pub line: u32,
}

// ---------------------------------------------------------------------------------------------
// Sources

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// No source declared: `acteon run` needs `--input` or `--source`.
    #[default]
    None,
    Stdin,
    /// JSON lines; a relative path is relative to the script that declares it.
    File {
        path: String,
    },
    Kafka(KafkaSource),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaSource {
    pub brokers: Vec<String>,
    pub topics: Vec<String>,
    pub group: String,
    pub start: StartOffset,
    pub format: RecordFormat,
    /// Free-form librdkafka properties (TLS, SASL, ...), passed through unchanged.
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartOffset {
    Earliest,
    Latest,
    /// Resume from the group's committed offsets, earliest where there are none.
    Committed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordFormat {
    Json,
}

// ---------------------------------------------------------------------------------------------
// Tables

/// Reference data: rows (JSON objects) by the text of their `key` field, read by rules as of
/// each action's event time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    /// The row field that holds the key (a string).
    pub key: String,
    pub source: TableSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TableSource {
    /// JSON lines, one row each; a relative path is relative to the script that declares it.
    /// The rows hold from the start of time.
    File { path: String },
    /// One row per record, read from the earliest offset; a record whose value is null or
    /// empty deletes the row of its key (the record key, else the value's key field).
    Kafka(KafkaTable),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaTable {
    pub brokers: Vec<String>,
    pub topic: String,
    /// librdkafka settings (TLS, SASL, tuning), passed through unchanged.
    pub properties: BTreeMap<String, String>,
}

/// A table read by the value of an action's field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lookup {
    pub table: String,
    /// The action field whose value (a string) is the row's key.
    pub key: FieldPath,
}

/// A value of a looked-up row: the field at `path` (empty: the whole row), or `default` when
/// the row or the field is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowPath {
    #[serde(flatten)]
    pub lookup: Lookup,
    pub path: Vec<PathSegment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

impl std::fmt::Display for RowPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.lookup.table, self.lookup.key)?;
        write_segments(f, &self.path)?;
        if let Some(default) = &self.default {
            write!(f, " ?? {default}")?;
        }
        Ok(())
    }
}

/// What a test reads: a field of the action, or a row's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Operand {
    Field(FieldPath),
    Row(RowPath),
}

impl Operand {
    pub fn field(&self) -> Option<&FieldPath> {
        match self {
            Operand::Field(path) => Some(path),
            Operand::Row(_) => None,
        }
    }
}

impl From<FieldPath> for Operand {
    fn from(path: FieldPath) -> Operand {
        Operand::Field(path)
    }
}

impl std::fmt::Display for Operand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operand::Field(path) => path.fmt(f),
            Operand::Row(row) => row.fmt(f),
        }
    }
}

/// A row's value placed in a JSON value (a `modify` patch, a step's payload) at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowInsert {
    pub at: Vec<PathSegment>,
    pub value: RowPath,
}

/// The value at `segments` below `value`, `None` when there is none. Payloads, rows, chain
/// step results and templates all read paths this way.
pub fn walk<'a>(mut value: &'a Value, segments: &[PathSegment]) -> Option<&'a Value> {
    for segment in segments {
        value = match (segment, value) {
            (PathSegment::Key(key), Value::Object(map)) => map.get(key)?,
            (PathSegment::Index(i), Value::Array(items)) => items.get(*i)?,
            // `payload.items.0` written on an object means the key "0".
            (PathSegment::Index(i), Value::Object(map)) => map.get(&i.to_string())?,
            _ => return None,
        };
    }
    Some(value)
}

/// Puts `value` at `at` inside `target`, whose objects and arrays along the way exist (it is
/// the JSON the place was taken from); `None` removes an object's member there.
pub fn set_at(target: &mut Value, at: &[PathSegment], value: Option<Value>) {
    let Some((last, parents)) = at.split_last() else {
        if let Some(value) = value {
            *target = value;
        }
        return;
    };
    let mut node = target;
    for segment in parents {
        node = match (segment, node) {
            (PathSegment::Key(key), Value::Object(members)) => match members.get_mut(key) {
                Some(member) => member,
                None => return,
            },
            (PathSegment::Index(i), Value::Array(items)) => match items.get_mut(*i) {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
    }
    match (last, node, value) {
        (PathSegment::Key(key), Value::Object(members), Some(value)) => {
            members.insert(key.clone(), value);
        }
        (PathSegment::Key(key), Value::Object(members), None) => {
            members.shift_remove(key);
        }
        (PathSegment::Index(i), Value::Array(items), value) => {
            if let Some(item) = items.get_mut(*i) {
                *item = value.unwrap_or(Value::Null);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Providers

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    /// Present for every AWS-backed kind (and email with the SES backend).
    pub aws: Option<AwsConnection>,
}

/// How to reach AWS. Absent values come from the standard AWS environment and profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AwsConnection {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ProviderKind {
    AwsSns {
        topic_arn: String,
    },
    AwsLambda {
        function_name: String,
        qualifier: Option<String>,
    },
    AwsEventbridge {
        event_bus_name: String,
    },
    AwsSqs {
        queue_url: String,
    },
    AwsS3 {
        bucket: String,
        object_prefix: Option<String>,
    },
    Email {
        backend: EmailBackend,
        from_address: String,
        configuration_set: Option<String>,
    },
    Log,
    /// Each call becomes one record on `topic`: the payload as JSON, keyed by the value at
    /// `key` (default: the action id), with the action's identity in headers.
    Kafka {
        brokers: Vec<String>,
        topic: String,
        key: Option<FieldPath>,
        /// librdkafka settings (TLS, SASL, tuning) over the producer's defaults.
        properties: BTreeMap<String, String>,
    },
}

impl ProviderKind {
    /// The type name as written in scripts (`aws-sns`, `log`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            ProviderKind::AwsSns { .. } => "aws-sns",
            ProviderKind::AwsLambda { .. } => "aws-lambda",
            ProviderKind::AwsEventbridge { .. } => "aws-eventbridge",
            ProviderKind::AwsSqs { .. } => "aws-sqs",
            ProviderKind::AwsS3 { .. } => "aws-s3",
            ProviderKind::Email { .. } => "email",
            ProviderKind::Log => "log",
            ProviderKind::Kafka { .. } => "kafka",
        }
    }

    /// Whether the kind is reached through AWS (and so takes the AWS connection settings).
    pub fn takes_aws(&self) -> bool {
        !matches!(self, ProviderKind::Log | ProviderKind::Kafka { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailBackend {
    Ses,
}

// ---------------------------------------------------------------------------------------------
// Rules

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub priority: i64,
    /// The file's `scope`: the rule only sees actions of this namespace and tenant.
    pub scope: Scope,
    /// `None`: the rule matches every action in its scope.
    pub condition: Option<Condition>,
    pub action: RuleAction,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Scope {
    pub namespace: Option<String>,
    pub tenant: Option<String>,
}

/// A boolean condition over an action's fields. `All`/`Any` are flattened (no `All` directly
/// inside an `All`) so that equivalent scripts lower to equal plans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Condition {
    All {
        of: Vec<Condition>,
    },
    Any {
        of: Vec<Condition>,
    },
    Not {
        of: Box<Condition>,
    },
    /// `== != < <= > >=`. A duration literal has been lowered to its milliseconds.
    Compare {
        field: Operand,
        cmp: Comparison,
        value: Value,
    },
    /// A comparison with a row's value (`payload.value > devices[payload.device_id].max_temp`).
    CompareRow {
        field: Operand,
        cmp: Comparison,
        row: RowPath,
    },
    In {
        field: Operand,
        values: Vec<Value>,
    },
    /// A string containing a substring, or a list containing an element.
    Contains {
        field: Operand,
        value: Value,
    },
    StartsWith {
        field: Operand,
        value: String,
    },
    EndsWith {
        field: Operand,
        value: String,
    },
    /// The pattern has been checked to compile.
    Matches {
        field: Operand,
        pattern: String,
    },
    Exists {
        field: Operand,
    },
}

impl Condition {
    /// The operand a test reads; `None` for `All`, `Any` and `Not`.
    pub fn operand(&self) -> Option<&Operand> {
        match self {
            Condition::All { .. } | Condition::Any { .. } | Condition::Not { .. } => None,
            Condition::Compare { field, .. }
            | Condition::CompareRow { field, .. }
            | Condition::In { field, .. }
            | Condition::Contains { field, .. }
            | Condition::StartsWith { field, .. }
            | Condition::EndsWith { field, .. }
            | Condition::Matches { field, .. }
            | Condition::Exists { field } => Some(field),
        }
    }

    /// Every row value the condition reads, in written order.
    pub fn row_paths<'c>(&'c self, out: &mut Vec<&'c RowPath>) {
        match self {
            Condition::All { of } | Condition::Any { of } => {
                of.iter().for_each(|c| c.row_paths(out))
            }
            Condition::Not { of } => of.row_paths(out),
            test => {
                if let Some(Operand::Row(row)) = test.operand() {
                    out.push(row);
                }
                if let Condition::CompareRow { row, .. } = test {
                    out.push(row);
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        }
    }
}

/// A path into an action: a root field, then keys and list indexes below `payload` or
/// `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldPath {
    pub root: FieldRoot,
    pub segments: Vec<PathSegment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldRoot {
    Id,
    Namespace,
    Tenant,
    ActionType,
    Provider,
    DedupKey,
    CreatedAt,
    Payload,
    Metadata,
}

impl FieldRoot {
    pub const ALL: [FieldRoot; 9] = [
        FieldRoot::Id,
        FieldRoot::Namespace,
        FieldRoot::Tenant,
        FieldRoot::ActionType,
        FieldRoot::Provider,
        FieldRoot::DedupKey,
        FieldRoot::CreatedAt,
        FieldRoot::Payload,
        FieldRoot::Metadata,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FieldRoot::Id => "id",
            FieldRoot::Namespace => "namespace",
            FieldRoot::Tenant => "tenant",
            FieldRoot::ActionType => "action_type",
            FieldRoot::Provider => "provider",
            FieldRoot::DedupKey => "dedup_key",
            FieldRoot::CreatedAt => "created_at",
            FieldRoot::Payload => "payload",
            FieldRoot::Metadata => "metadata",
        }
    }

    pub fn from_name(name: &str) -> Option<FieldRoot> {
        FieldRoot::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Only `payload` and `metadata` have fields below them.
    pub fn has_children(self) -> bool {
        matches!(self, FieldRoot::Payload | FieldRoot::Metadata)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PathSegment {
    Index(usize),
    Key(String),
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.root.name())?;
        write_segments(f, &self.segments)
    }
}

/// `.a.0."odd key"`, as a path writes segments.
fn write_segments(f: &mut std::fmt::Formatter<'_>, segments: &[PathSegment]) -> std::fmt::Result {
    for segment in segments {
        match segment {
            PathSegment::Index(i) => write!(f, ".{i}")?,
            PathSegment::Key(k) if is_plain_key(k) => write!(f, ".{k}")?,
            PathSegment::Key(k) => write!(f, ".{}", Value::String(k.clone()))?,
        }
    }
    Ok(())
}

/// A key that can be written in a path without quotes.
pub fn is_plain_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RuleAction {
    Suppress,
    Deny,
    Allow,
    Reroute {
        provider: String,
    },
    Chain {
        chain: String,
    },
    /// An RFC 7396 merge patch applied to the payload; evaluation continues. Each of `rows`
    /// puts a row's value into the patch (a missing one, without a default, leaves its member
    /// out).
    Modify {
        patch: Value,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rows: Vec<RowInsert>,
    },
    /// Key: `by`'s value, else `dedup_key`, else `id`; always within the action's tenant.
    Dedup {
        ttl_ms: u64,
        by: Option<FieldPath>,
    },
    /// Key: the tenant and the rule, plus `by`'s value when given.
    Throttle {
        limit: u64,
        window_ms: u64,
        by: Option<FieldPath>,
    },
    Group {
        by: Vec<FieldPath>,
        wait_ms: u64,
        max: Option<u64>,
        /// Where the batch goes; `None`: the members' own provider.
        to: Option<String>,
    },
    Schedule {
        delay_ms: u64,
    },
}

impl RuleAction {
    /// Terminal actions end evaluation.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            RuleAction::Suppress
                | RuleAction::Deny
                | RuleAction::Allow
                | RuleAction::Reroute { .. }
                | RuleAction::Chain { .. }
        )
    }

    /// The keyword the action is written with.
    pub fn keyword(&self) -> &'static str {
        match self {
            RuleAction::Suppress => "suppress",
            RuleAction::Deny => "deny",
            RuleAction::Allow => "allow",
            RuleAction::Reroute { .. } => "reroute",
            RuleAction::Chain { .. } => "chain",
            RuleAction::Modify { .. } => "modify",
            RuleAction::Dedup { .. } => "dedup",
            RuleAction::Throttle { .. } => "throttle",
            RuleAction::Group { .. } => "group",
            RuleAction::Schedule { .. } => "schedule",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Chains

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    pub name: String,
    pub timeout_ms: u64,
    pub steps: Vec<Step>,
}

impl Chain {
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub run: StepRun,
    /// Tried in order after the step; the first that holds picks the next step.
    pub branches: Vec<Branch>,
    /// The next step when no branch holds; `None`: the following step in order.
    pub default_next: Option<String>,
    pub on_failure: OnFailure,
    pub retry: Option<Retry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepRun {
    /// Call a provider; `payload` is a template (strings may hold `{{...}}` references, and
    /// `rows` put rows' values of the origin action's lookups in it).
    Call {
        provider: String,
        action_type: String,
        payload: Value,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rows: Vec<RowInsert>,
    },
    /// Run another chain and take its last step result as this step's.
    SubChain { chain: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    /// `success`, `body`, or `body.a.b`, as path segments below the step result.
    pub field: BranchField,
    pub op: BranchOp,
    /// Absent for `exists`.
    pub value: Option<Value>,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum BranchField {
    Success,
    Body { path: Vec<PathSegment> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Abort,
    Skip,
    Dlq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    /// Retries after the first attempt.
    pub max: u32,
    pub backoff_ms: u64,
}

// ---------------------------------------------------------------------------------------------
// Circuit breakers, quotas, retention, recurring actions

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    pub provider: String,
    pub enabled: bool,
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// Consecutive successes in half-open that close it.
    pub success_threshold: u32,
    pub recovery_timeout_ms: u64,
    pub fallback: Option<String>,
}

/// Built-in breaker settings when a script gives none.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 2;
pub const DEFAULT_RECOVERY_TIMEOUT_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub namespace: Option<String>,
    pub tenant: String,
    pub limit: u64,
    pub window_ms: u64,
    pub on_exceed: QuotaExceed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaExceed {
    Block,
    Warn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub namespace: Option<String>,
    pub tenant: String,
    pub audit_ms: Option<u64>,
    pub events_ms: Option<u64>,
    pub state_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recurring {
    pub name: String,
    /// Five fields, checked.
    pub cron: String,
    pub timezone: String,
    pub namespace: String,
    pub tenant: String,
    pub provider: String,
    pub action_type: String,
    pub payload: Value,
    pub metadata: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Audit and background settings

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    pub sink: AuditSink,
    pub ttl_ms: Option<u64>,
    pub store_payload: bool,
    /// Keys (any depth, case-insensitive) or full dotted paths whose values are replaced.
    pub redact: Vec<String>,
    pub placeholder: String,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            sink: AuditSink::File { path: None },
            ttl_ms: None,
            store_payload: true,
            redact: Vec::new(),
            placeholder: "[REDACTED]".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditSink {
    /// JSON lines; `None` until `--audit` names the file.
    File {
        path: Option<String>,
    },
    Memory,
    Dynamodb {
        table: String,
        aws: AwsConnection,
    },
    /// A topic (created with one partition when missing, so records stay in order), each
    /// record keyed by its action id and written once the broker acknowledges it.
    Kafka {
        brokers: Vec<String>,
        topic: String,
        /// librdkafka settings (TLS, SASL, tuning) over the producer's defaults.
        properties: BTreeMap<String, String>,
    },
}

/// Intervals of the periodic work the server does; the dataflow itself needs none of them to
/// be correct (windows close on the frontier), they bound how late a live release can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Background {
    pub group_flush_interval_ms: u64,
    pub timeout_check_interval_ms: u64,
    pub cleanup_interval_ms: u64,
    pub completed_chain_ttl_ms: u64,
    pub recurring_check_interval_ms: u64,
    pub max_recurring_per_tenant: u32,
    pub retention_check_interval_ms: u64,
    pub group_flush: bool,
    pub timeout_processing: bool,
    pub recurring_actions: bool,
    pub retention_reaper: bool,
    /// How far behind its input's latest event time an action may be read and still be
    /// decided by its own event time; a later one is `late`.
    #[serde(default)]
    pub max_lateness_ms: u64,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            group_flush_interval_ms: 5_000,
            timeout_check_interval_ms: 5_000,
            cleanup_interval_ms: 60_000,
            completed_chain_ttl_ms: 7 * 24 * 3_600_000,
            recurring_check_interval_ms: 60_000,
            max_recurring_per_tenant: 100,
            retention_check_interval_ms: 3_600_000,
            group_flush: true,
            timeout_processing: true,
            recurring_actions: true,
            retention_reaper: true,
            max_lateness_ms: 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests inside scripts

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    pub name: String,
    /// Actions in input order.
    pub actions: Vec<TestAction>,
    pub expectations: Vec<Expectation>,
    /// 1-based line of the `test` keyword, for reports.
    pub line: u32,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestAction {
    /// One input line as the source would read it: JSON text (an inline action with `at`
    /// written into its `created_at`), or a line of an `input` file as it is, malformed or not.
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Expectation {
    /// Some audit record about the action (its own, or a batch or chain record naming it) has
    /// this outcome, and the target and rule when given.
    Outcome {
        action_id: String,
        outcome: Outcome,
        target: Option<String>,
        rule: Option<String>,
    },
    /// The provider was called exactly `count` times.
    Calls { provider: String, count: u64 },
}

/// Every outcome an audit record can carry (docs/design.md, "Rule evaluation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Executed,
    Failed,
    Suppressed,
    Denied,
    Deduplicated,
    Throttled,
    Rerouted,
    Grouped,
    GroupFlushed,
    Scheduled,
    ChainStarted,
    QuotaExceeded,
    Rejected,
    /// Read too far behind its input's event time to be decided (beyond `max_lateness`).
    Late,
    ChainStepCompleted,
    ChainStepFailed,
    ChainCompleted,
    ChainFailed,
    ChainTimedOut,
    ChainCancelled,
}

impl Outcome {
    pub const ALL: [Outcome; 20] = [
        Outcome::Executed,
        Outcome::Failed,
        Outcome::Suppressed,
        Outcome::Denied,
        Outcome::Deduplicated,
        Outcome::Throttled,
        Outcome::Rerouted,
        Outcome::Grouped,
        Outcome::GroupFlushed,
        Outcome::Scheduled,
        Outcome::ChainStarted,
        Outcome::QuotaExceeded,
        Outcome::Rejected,
        Outcome::Late,
        Outcome::ChainStepCompleted,
        Outcome::ChainStepFailed,
        Outcome::ChainCompleted,
        Outcome::ChainFailed,
        Outcome::ChainTimedOut,
        Outcome::ChainCancelled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Executed => "executed",
            Outcome::Failed => "failed",
            Outcome::Suppressed => "suppressed",
            Outcome::Denied => "denied",
            Outcome::Deduplicated => "deduplicated",
            Outcome::Throttled => "throttled",
            Outcome::Rerouted => "rerouted",
            Outcome::Grouped => "grouped",
            Outcome::GroupFlushed => "group_flushed",
            Outcome::Scheduled => "scheduled",
            Outcome::ChainStarted => "chain_started",
            Outcome::QuotaExceeded => "quota_exceeded",
            Outcome::Rejected => "rejected",
            Outcome::Late => "late",
            Outcome::ChainStepCompleted => "chain_step_completed",
            Outcome::ChainStepFailed => "chain_step_failed",
            Outcome::ChainCompleted => "chain_completed",
            Outcome::ChainFailed => "chain_failed",
            Outcome::ChainTimedOut => "chain_timed_out",
            Outcome::ChainCancelled => "chain_cancelled",
        }
    }

    pub fn from_name(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Whether a record with this outcome decides its action (what a dispatch is answered
    /// with), rather than reporting the progress of a chain it started, whose records carry
    /// the starting action's id too.
    pub fn decides(self) -> bool {
        !matches!(
            self,
            Outcome::ChainStepCompleted
                | Outcome::ChainStepFailed
                | Outcome::ChainCompleted
                | Outcome::ChainFailed
                | Outcome::ChainTimedOut
                | Outcome::ChainCancelled
        )
    }
}
