//! Lowering: a checked [`Program`] into the [`Plan`] the engine runs.
//!
//! The checker has already refused anything that does not resolve or has the wrong type, so
//! lowering never reports; where it still meets something the checker refuses (it runs on
//! unchecked programs too, e.g. in tests) it degrades without panicking: a test on an unknown
//! field matches nothing, a provider of an unknown type is left out, a missing setting is
//! empty.

use crate::load::Program;
use crate::plan::{self, Plan};
use crate::source::FileId;
use crate::syntax::ast::{self, Block, Expr, Item, Literal, LiteralKind, Setting};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A chain without `timeout`.
pub const DEFAULT_CHAIN_TIMEOUT_MS: u64 = 300_000;
/// A `retry` without `backoff`.
pub const DEFAULT_RETRY_BACKOFF_MS: u64 = 1_000;
/// A `recurring` without `timezone`.
pub const DEFAULT_TIMEZONE: &str = "UTC";

pub fn lower(program: &Program) -> Plan {
    let items = program.items();
    let lowering = Lowering { program };
    let mut plan = Plan::default();
    let mut breaker_defaults: Vec<&Block> = Vec::new();
    let mut breaker_overrides: Vec<&ast::BreakerDecl> = Vec::new();
    let mut rules: Vec<plan::Rule> = Vec::new();
    for &(file, item) in &items {
        match item {
            Item::Scope(_) | Item::Include(_) => {}
            Item::Source(source) => {
                if plan.source == plan::Source::None {
                    plan.source = lowering.source(file, source);
                }
            }
            Item::Table(table) => plan.tables.push(lowering.table(file, table)),
            Item::Provider(provider) => plan.providers.extend(lowering.provider(provider)),
            Item::Rule(rule) => rules.push(lowering.rule(file, rule)),
            Item::Chain(chain) => plan.chains.push(lowering.chain(chain)),
            Item::Breakers(block) => breaker_defaults.push(block),
            Item::Breaker(breaker) => breaker_overrides.push(breaker),
            Item::Quota(quota) => plan.quotas.push(plan::Quota {
                namespace: lowering.scope(file).namespace,
                tenant: quota.tenant.value.clone(),
                limit: non_negative(quota.limit.value),
                window_ms: quota.per.ms,
                on_exceed: match quota.on_exceed {
                    ast::QuotaMode::Block => plan::QuotaExceed::Block,
                    ast::QuotaMode::Warn => plan::QuotaExceed::Warn,
                },
            }),
            Item::Retention(retention) => plan.retention.push(plan::Retention {
                namespace: lowering.scope(file).namespace,
                tenant: retention.tenant.value.clone(),
                audit_ms: duration(&retention.settings, "audit"),
                events_ms: duration(&retention.settings, "events"),
                state_ms: duration(&retention.settings, "state"),
            }),
            Item::Recurring(recurring) => plan.recurring.push(lowering.recurring(file, recurring)),
            Item::Audit(block) => plan.audit = audit(block),
            Item::Background(block) => plan.background = background(block),
            Item::Test(test) => plan.tests.push(lowering.test(file, test)),
        }
    }
    // Stable: ties keep the order of `items()`, includes expanded in place.
    rules.sort_by_key(|rule| rule.priority);
    plan.rules = rules;
    plan.breakers = plan
        .providers
        .iter()
        .map(|provider| breaker(&provider.name, &breaker_defaults, &breaker_overrides))
        .collect();
    plan
}

struct Lowering<'p> {
    program: &'p Program,
}

impl Lowering<'_> {
    fn display_path(&self, file: FileId) -> String {
        self.program.sources.file(file).display_path()
    }

    /// A path written in `file`, joined to that file's directory.
    fn relative_to(&self, file: FileId, path: &str) -> String {
        let declared_in = &self.program.sources.file(file).path;
        declared_in
            .parent()
            .unwrap_or(Path::new(""))
            .join(path)
            .display()
            .to_string()
    }

    fn line(&self, file: FileId, offset: usize) -> u32 {
        let (line, _) = self.program.sources.file(file).line_col(offset);
        u32::try_from(line).unwrap_or(u32::MAX)
    }

    fn scope(&self, file: FileId) -> plan::Scope {
        self.program
            .file(file)
            .scope()
            .map(|scope| plan::Scope {
                namespace: scope.namespace.as_ref().map(|s| s.value.clone()),
                tenant: scope.tenant.as_ref().map(|s| s.value.clone()),
            })
            .unwrap_or_default()
    }

    fn source(&self, file: FileId, source: &ast::SourceDecl) -> plan::Source {
        match &source.kind {
            ast::SourceKind::Stdin => plan::Source::Stdin,
            ast::SourceKind::File(path) => plan::Source::File {
                path: self.relative_to(file, &path.value),
            },
            ast::SourceKind::Kafka(block) => plan::Source::Kafka(plan::KafkaSource {
                brokers: strings(block, "brokers"),
                topics: strings(block, "topics"),
                group: string(block, "group").unwrap_or_default(),
                start: match name(block, "start").as_deref() {
                    Some("earliest") => plan::StartOffset::Earliest,
                    Some("latest") => plan::StartOffset::Latest,
                    _ => plan::StartOffset::Committed,
                },
                format: plan::RecordFormat::Json,
                properties: string_map(block, "properties"),
            }),
        }
    }

    fn table(&self, file: FileId, table: &ast::TableDecl) -> plan::Table {
        plan::Table {
            name: table.name.text.clone(),
            key: table.key.text.clone(),
            source: match &table.source {
                ast::TableSourceDecl::File(path) => plan::TableSource::File {
                    path: self.relative_to(file, &path.value),
                },
                ast::TableSourceDecl::Kafka(block) => plan::TableSource::Kafka(plan::KafkaTable {
                    brokers: strings(block, "brokers"),
                    topic: string(block, "topic").unwrap_or_default(),
                    properties: string_map(block, "properties"),
                }),
            },
        }
    }

    fn provider(&self, provider: &ast::ProviderDecl) -> Option<plan::Provider> {
        let empty = Block {
            settings: Vec::new(),
            span: provider.span.clone(),
        };
        let block = provider.settings.as_ref().unwrap_or(&empty);
        let required = |key| string(block, key).unwrap_or_default();
        let kind = match provider.kind.text.as_str() {
            "aws-sns" => plan::ProviderKind::AwsSns {
                topic_arn: required("topic_arn"),
            },
            "aws-lambda" => plan::ProviderKind::AwsLambda {
                function_name: required("function_name"),
                qualifier: string(block, "qualifier"),
            },
            "aws-eventbridge" => plan::ProviderKind::AwsEventbridge {
                event_bus_name: required("event_bus_name"),
            },
            "aws-sqs" => plan::ProviderKind::AwsSqs {
                queue_url: required("queue_url"),
            },
            "aws-s3" => plan::ProviderKind::AwsS3 {
                bucket: required("bucket"),
                object_prefix: string(block, "object_prefix"),
            },
            "email" => plan::ProviderKind::Email {
                backend: plan::EmailBackend::Ses,
                from_address: required("from_address"),
                configuration_set: string(block, "configuration_set"),
            },
            "log" => plan::ProviderKind::Log,
            "kafka" => plan::ProviderKind::Kafka {
                brokers: strings(block, "brokers"),
                topic: required("topic"),
                key: setting(block, "key").and_then(|s| literal_path(&s.value)),
                properties: string_map(block, "properties"),
            },
            _ => return None,
        };
        let aws = kind.takes_aws().then(|| aws_connection(block));
        Some(plan::Provider {
            name: provider.name.text.clone(),
            kind,
            aws,
        })
    }

    fn rule(&self, file: FileId, rule: &ast::RuleDecl) -> plan::Rule {
        plan::Rule {
            name: rule.name.text.clone(),
            priority: rule.priority.value,
            scope: self.scope(file),
            condition: rule.condition.as_ref().map(condition),
            action: action(&rule.action),
            origin: plan::Origin {
                file: self.display_path(file),
                line: self.line(file, self.rule_keyword(file, rule)),
            },
        }
    }

    /// Where the `rule` keyword is: after the attributes, whitespace and comments.
    fn rule_keyword(&self, file: FileId, rule: &ast::RuleDecl) -> usize {
        let Some(last) = rule.attributes.last() else {
            return rule.span.start;
        };
        let text = &self.program.sources.file(file).text;
        let mut offset = last.span.end;
        loop {
            let rest = text.get(offset..rule.name.span.start).unwrap_or("");
            let trimmed = rest.trim_start();
            offset += rest.len() - trimmed.len();
            if !trimmed.starts_with('#') {
                return offset;
            }
            offset += trimmed.find('\n').unwrap_or(trimmed.len());
        }
    }

    fn chain(&self, chain: &ast::ChainDecl) -> plan::Chain {
        plan::Chain {
            name: chain.name.text.clone(),
            timeout_ms: chain
                .timeout
                .as_ref()
                .map_or(DEFAULT_CHAIN_TIMEOUT_MS, |d| d.ms),
            steps: chain.steps.iter().map(step).collect(),
        }
    }

    fn recurring(&self, file: FileId, recurring: &ast::RecurringDecl) -> plan::Recurring {
        let block = &recurring.settings;
        let scope = self.scope(file);
        plan::Recurring {
            name: recurring.name.text.clone(),
            cron: string(block, "cron").unwrap_or_default(),
            timezone: string(block, "timezone").unwrap_or_else(|| DEFAULT_TIMEZONE.to_string()),
            namespace: string(block, "namespace")
                .or(scope.namespace)
                .unwrap_or_default(),
            tenant: string(block, "tenant").or(scope.tenant).unwrap_or_default(),
            provider: name(block, "provider").unwrap_or_default(),
            action_type: string(block, "action_type").unwrap_or_default(),
            payload: setting(block, "payload")
                .map(|literal| value(&literal.value))
                .unwrap_or_else(|| Value::Object(Default::default())),
            metadata: string_map(block, "metadata"),
        }
    }

    fn test(&self, file: FileId, test: &ast::TestDecl) -> plan::TestCase {
        let mut case = plan::TestCase {
            name: test.name.value.clone(),
            actions: Vec::new(),
            expectations: Vec::new(),
            line: self.line(file, test.span.start),
            file: self.display_path(file),
        };
        for entry in &test.entries {
            match entry {
                ast::TestEntry::Action { at, json, .. } => {
                    let mut action = json.value.clone();
                    if let (Some(at), Value::Object(object)) = (at, &mut action) {
                        object.insert("created_at".to_string(), Value::String(at.value.clone()));
                    }
                    case.actions.push(plan::TestAction {
                        line: action.to_string(),
                    });
                }
                ast::TestEntry::Input { path, .. } => {
                    // The checker reports an unreadable input (E0602).
                    let text = std::fs::read_to_string(self.relative_to(file, &path.value))
                        .unwrap_or_default();
                    case.actions
                        .extend(
                            text.lines()
                                .filter(|line| !line.trim().is_empty())
                                .map(|line| plan::TestAction {
                                    line: line.to_string(),
                                }),
                        );
                }
                ast::TestEntry::ExpectOutcome {
                    action_id,
                    outcome,
                    to,
                    rule,
                    ..
                } => case
                    .expectations
                    .extend(plan::Outcome::from_name(&outcome.text).map(|outcome| {
                        plan::Expectation::Outcome {
                            action_id: action_id.value.clone(),
                            outcome,
                            target: to.as_ref().map(|n| n.text.clone()),
                            rule: rule.as_ref().map(|n| n.text.clone()),
                        }
                    })),
                ast::TestEntry::ExpectCalls {
                    count, provider, ..
                } => case.expectations.push(plan::Expectation::Calls {
                    provider: provider.text.clone(),
                    count: non_negative(count.value),
                }),
            }
        }
        case
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions and actions

/// A condition in its plan form, nested `and`s and `or`s flattened (the checker compares these).
pub(crate) fn condition(expr: &Expr) -> plan::Condition {
    match expr {
        Expr::Paren(inner, _) => condition(inner),
        Expr::Not(inner, _) => plan::Condition::Not {
            of: Box::new(condition(inner)),
        },
        Expr::And(operands, _) => plan::Condition::All {
            of: flatten(operands, |c| match c {
                plan::Condition::All { of } => of,
                other => vec![other],
            }),
        },
        Expr::Or(operands, _) => plan::Condition::Any {
            of: flatten(operands, |c| match c {
                plan::Condition::Any { of } => of,
                other => vec![other],
            }),
        },
        Expr::Test(test) => test_condition(test),
    }
}

/// Lowers the operands, splicing in the operands of those that `unwrap` recognizes as the
/// same connective.
fn flatten(
    operands: &[Expr],
    unwrap: impl Fn(plan::Condition) -> Vec<plan::Condition>,
) -> Vec<plan::Condition> {
    let mut out = Vec::new();
    for operand in operands {
        out.extend(unwrap(condition(operand)));
    }
    out
}

fn test_condition(test: &ast::Test) -> plan::Condition {
    // An empty `Any` never holds: an unknown field is absent, and tests on it are false.
    let never = || plan::Condition::Any { of: Vec::new() };
    let field = match &test.field {
        ast::Operand::Field(path) => field_path(path).map(plan::Operand::Field),
        ast::Operand::Row(row) => row_path(row).map(plan::Operand::Row),
    };
    let Some(field) = field else {
        return never();
    };
    match &test.op {
        ast::TestOp::Compare(op, ast::Comparand::Literal(literal)) => plan::Condition::Compare {
            field,
            cmp: comparison(*op),
            value: value(literal),
        },
        ast::TestOp::Compare(op, ast::Comparand::Row(row)) => match row_path(row) {
            Some(row) => plan::Condition::CompareRow {
                field,
                cmp: comparison(*op),
                row,
            },
            None => never(),
        },
        ast::TestOp::In(literal) => plan::Condition::In {
            field,
            values: match &literal.kind {
                LiteralKind::List(items) => items.iter().map(value).collect(),
                _ => vec![value(literal)],
            },
        },
        ast::TestOp::Contains(literal) => plan::Condition::Contains {
            field,
            value: value(literal),
        },
        ast::TestOp::StartsWith(literal) => plan::Condition::StartsWith {
            field,
            value: text(literal),
        },
        ast::TestOp::EndsWith(literal) => plan::Condition::EndsWith {
            field,
            value: text(literal),
        },
        ast::TestOp::Matches(regex) => plan::Condition::Matches {
            field,
            pattern: regex.pattern.clone(),
        },
        ast::TestOp::Exists => plan::Condition::Exists { field },
    }
}

/// A row's value; `None` when its key is not an action field.
fn row_path(row: &ast::RowValue) -> Option<plan::RowPath> {
    Some(plan::RowPath {
        lookup: plan::Lookup {
            table: row.row.table.text.clone(),
            key: field_path(&row.row.key)?,
        },
        path: segments(&row.row.field),
        default: row.default.as_ref().map(value),
    })
}

/// The rows' values written in a patch or a payload template, with where each stands.
fn row_inserts(json: &ast::Json) -> Vec<plan::RowInsert> {
    json.rows
        .iter()
        .filter_map(|row| {
            Some(plan::RowInsert {
                at: row.at.iter().map(segment_kind).collect(),
                value: row_path(&row.value)?,
            })
        })
        .collect()
}

fn field_path(path: &ast::Path) -> Option<plan::FieldPath> {
    Some(plan::FieldPath {
        root: plan::FieldRoot::from_name(&path.root.text)?,
        segments: segments(&path.segments),
    })
}

fn segments(segments: &[ast::PathSegment]) -> Vec<plan::PathSegment> {
    segments.iter().map(|s| segment_kind(&s.kind)).collect()
}

fn segment_kind(kind: &ast::PathSegmentKind) -> plan::PathSegment {
    match kind {
        ast::PathSegmentKind::Key(key) | ast::PathSegmentKind::QuotedKey(key) => {
            plan::PathSegment::Key(key.clone())
        }
        ast::PathSegmentKind::Index(index) => plan::PathSegment::Index(*index),
    }
}

fn comparison(op: ast::CompareOp) -> plan::Comparison {
    match op {
        ast::CompareOp::Eq => plan::Comparison::Eq,
        ast::CompareOp::Ne => plan::Comparison::Ne,
        ast::CompareOp::Lt => plan::Comparison::Lt,
        ast::CompareOp::Le => plan::Comparison::Le,
        ast::CompareOp::Gt => plan::Comparison::Gt,
        ast::CompareOp::Ge => plan::Comparison::Ge,
    }
}

fn action(action: &ast::Action) -> plan::RuleAction {
    let path = |p: &Option<ast::Path>| p.as_ref().and_then(field_path);
    match &action.kind {
        ast::ActionKind::Suppress => plan::RuleAction::Suppress,
        ast::ActionKind::Deny => plan::RuleAction::Deny,
        ast::ActionKind::Allow => plan::RuleAction::Allow,
        ast::ActionKind::Reroute(provider) => plan::RuleAction::Reroute {
            provider: provider.text.clone(),
        },
        ast::ActionKind::Chain(chain) => plan::RuleAction::Chain {
            chain: chain.text.clone(),
        },
        ast::ActionKind::Modify(patch) => plan::RuleAction::Modify {
            patch: patch.value.clone(),
            rows: row_inserts(patch),
        },
        ast::ActionKind::Dedup { within, by } => plan::RuleAction::Dedup {
            ttl_ms: within.ms,
            by: path(by),
        },
        ast::ActionKind::Throttle { limit, per, by } => plan::RuleAction::Throttle {
            limit: non_negative(limit.value),
            window_ms: per.ms,
            by: path(by),
        },
        ast::ActionKind::Group { by, wait, max, to } => plan::RuleAction::Group {
            by: by.iter().filter_map(field_path).collect(),
            wait_ms: wait.ms,
            max: max.as_ref().map(|m| non_negative(m.value)),
            to: to.as_ref().map(|n| n.text.clone()),
        },
        ast::ActionKind::Schedule { after } => plan::RuleAction::Schedule { delay_ms: after.ms },
    }
}

// ---------------------------------------------------------------------------------------------
// Chains

fn step(step: &ast::StepDecl) -> plan::Step {
    plan::Step {
        name: step.name.text.clone(),
        run: match &step.run {
            ast::StepRun::Call {
                provider,
                action_type,
                payload,
            } => plan::StepRun::Call {
                provider: provider.text.clone(),
                action_type: action_type.text.clone(),
                payload: payload.value.clone(),
                rows: row_inserts(payload),
            },
            ast::StepRun::Run { chain } => plan::StepRun::SubChain {
                chain: chain.text.clone(),
            },
        },
        branches: step.branches.iter().map(branch).collect(),
        default_next: step.next.as_ref().map(|n| n.text.clone()),
        on_failure: match step.on_failure.as_ref().map(|f| f.mode) {
            None | Some(ast::OnFailureMode::Abort) => plan::OnFailure::Abort,
            Some(ast::OnFailureMode::Skip) => plan::OnFailure::Skip,
            Some(ast::OnFailureMode::Dlq) => plan::OnFailure::Dlq,
        },
        retry: step.retry.as_ref().map(|retry| plan::Retry {
            max: u32::try_from(retry.count.value.max(0)).unwrap_or(u32::MAX),
            backoff_ms: retry
                .backoff
                .as_ref()
                .map_or(DEFAULT_RETRY_BACKOFF_MS, |d| d.ms),
        }),
    }
}

fn branch(branch: &ast::BranchDecl) -> plan::Branch {
    let field = if branch.field.root.text == "success" {
        plan::BranchField::Success
    } else {
        plan::BranchField::Body {
            path: segments(&branch.field.segments),
        }
    };
    let op = match branch.op {
        ast::BranchOpDecl::Compare(op) => match op {
            ast::CompareOp::Eq => plan::BranchOp::Eq,
            ast::CompareOp::Ne => plan::BranchOp::Ne,
            ast::CompareOp::Lt => plan::BranchOp::Lt,
            ast::CompareOp::Le => plan::BranchOp::Le,
            ast::CompareOp::Gt => plan::BranchOp::Gt,
            ast::CompareOp::Ge => plan::BranchOp::Ge,
        },
        ast::BranchOpDecl::Contains => plan::BranchOp::Contains,
        ast::BranchOpDecl::Exists => plan::BranchOp::Exists,
    };
    plan::Branch {
        field,
        op,
        value: branch.value.as_ref().map(value),
        target: branch.target.text.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Breakers, audit, background

/// Built-in defaults, then every `breakers` block, then every `breaker P` for this provider.
fn breaker(provider: &str, defaults: &[&Block], overrides: &[&ast::BreakerDecl]) -> plan::Breaker {
    let mut breaker = plan::Breaker {
        provider: provider.to_string(),
        enabled: true,
        failure_threshold: plan::DEFAULT_FAILURE_THRESHOLD,
        success_threshold: plan::DEFAULT_SUCCESS_THRESHOLD,
        recovery_timeout_ms: plan::DEFAULT_RECOVERY_TIMEOUT_MS,
        fallback: None,
    };
    let blocks = defaults.iter().copied().chain(
        overrides
            .iter()
            .filter(|o| o.provider.text == provider)
            .map(|o| &o.settings),
    );
    for block in blocks {
        for Setting {
            key,
            value: literal,
            ..
        } in &block.settings
        {
            match (key.text.as_str(), &literal.kind) {
                ("enabled", LiteralKind::Bool(b)) => breaker.enabled = *b,
                ("failure_threshold", _) => {
                    breaker.failure_threshold = count(literal).unwrap_or(breaker.failure_threshold)
                }
                ("success_threshold", _) => {
                    breaker.success_threshold = count(literal).unwrap_or(breaker.success_threshold)
                }
                ("recovery_timeout", LiteralKind::Duration { ms, .. }) => {
                    breaker.recovery_timeout_ms = *ms
                }
                ("fallback", LiteralKind::Name(name) | LiteralKind::String(name)) => {
                    breaker.fallback = Some(name.clone())
                }
                _ => {}
            }
        }
    }
    breaker
}

fn audit(block: &Block) -> plan::Audit {
    let defaults = plan::Audit::default();
    plan::Audit {
        sink: match name(block, "sink").as_deref() {
            Some("memory") => plan::AuditSink::Memory,
            Some("dynamodb") => plan::AuditSink::Dynamodb {
                table: string(block, "table").unwrap_or_default(),
                aws: aws_connection(block),
            },
            Some("kafka") => plan::AuditSink::Kafka {
                brokers: strings(block, "brokers"),
                topic: string(block, "topic").unwrap_or_default(),
                properties: string_map(block, "properties"),
            },
            _ => plan::AuditSink::File {
                path: string(block, "path"),
            },
        },
        ttl_ms: duration(block, "ttl"),
        store_payload: boolean(block, "store_payload").unwrap_or(defaults.store_payload),
        redact: strings(block, "redact"),
        placeholder: string(block, "placeholder").unwrap_or(defaults.placeholder),
    }
}

fn background(block: &Block) -> plan::Background {
    let d = plan::Background::default();
    let ms = |key, default| duration(block, key).unwrap_or(default);
    let flag = |key, default| boolean(block, key).unwrap_or(default);
    plan::Background {
        group_flush_interval_ms: ms("group_flush_interval", d.group_flush_interval_ms),
        timeout_check_interval_ms: ms("timeout_check_interval", d.timeout_check_interval_ms),
        cleanup_interval_ms: ms("cleanup_interval", d.cleanup_interval_ms),
        completed_chain_ttl_ms: ms("completed_chain_ttl", d.completed_chain_ttl_ms),
        recurring_check_interval_ms: ms("recurring_check_interval", d.recurring_check_interval_ms),
        max_recurring_per_tenant: setting(block, "max_recurring_per_tenant")
            .and_then(|s| count(&s.value))
            .unwrap_or(d.max_recurring_per_tenant),
        retention_check_interval_ms: ms("retention_check_interval", d.retention_check_interval_ms),
        group_flush: flag("group_flush", d.group_flush),
        timeout_processing: flag("timeout_processing", d.timeout_processing),
        recurring_actions: flag("recurring_actions", d.recurring_actions),
        retention_reaper: flag("retention_reaper", d.retention_reaper),
        max_lateness_ms: ms("max_lateness", d.max_lateness_ms),
    }
}

fn aws_connection(block: &Block) -> plan::AwsConnection {
    plan::AwsConnection {
        region: string(block, "region"),
        endpoint_url: string(block, "endpoint_url"),
        role_arn: string(block, "role_arn"),
        external_id: string(block, "external_id"),
        session_name: string(block, "session_name"),
    }
}

// ---------------------------------------------------------------------------------------------
// Settings and literals

/// The last setting of `key`: the checker refuses repeats, so any is the only one.
fn setting<'b>(block: &'b Block, key: &str) -> Option<&'b Setting> {
    block.settings.iter().rev().find(|s| s.key.text == key)
}

fn string(block: &Block, key: &str) -> Option<String> {
    match &setting(block, key)?.value.kind {
        LiteralKind::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A bare name, or a string where a name was expected.
fn name(block: &Block, key: &str) -> Option<String> {
    match &setting(block, key)?.value.kind {
        LiteralKind::Name(s) | LiteralKind::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn strings(block: &Block, key: &str) -> Vec<String> {
    match setting(block, key).map(|s| &s.value.kind) {
        Some(LiteralKind::List(items)) => items.iter().map(text).collect(),
        Some(_) => setting(block, key)
            .map(|s| text(&s.value))
            .into_iter()
            .collect(),
        None => Vec::new(),
    }
}

/// A JSON object's members as strings; a non-string value keeps its JSON text.
fn string_map(block: &Block, key: &str) -> BTreeMap<String, String> {
    match setting(block, key).map(|s| &s.value.kind) {
        Some(LiteralKind::Object(Value::Object(members))) => members
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn duration(block: &Block, key: &str) -> Option<u64> {
    match &setting(block, key)?.value.kind {
        LiteralKind::Duration { ms, .. } => Some(*ms),
        _ => None,
    }
}

fn boolean(block: &Block, key: &str) -> Option<bool> {
    match &setting(block, key)?.value.kind {
        LiteralKind::Bool(b) => Some(*b),
        _ => None,
    }
}

fn count(literal: &Literal) -> Option<u32> {
    match &literal.kind {
        LiteralKind::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    }
}

fn non_negative(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A setting naming a field: a bare root (`id`) or a dotted path.
fn literal_path(literal: &Literal) -> Option<plan::FieldPath> {
    match &literal.kind {
        LiteralKind::Path(path) => field_path(path),
        LiteralKind::Name(root) => Some(plan::FieldPath {
            root: plan::FieldRoot::from_name(root)?,
            segments: Vec::new(),
        }),
        _ => None,
    }
}

/// A literal as JSON: a duration is its milliseconds, a bare name or a path its text.
fn value(literal: &Literal) -> Value {
    match &literal.kind {
        LiteralKind::Path(path) => Value::String(crate::fmt::path_text(path)),
        LiteralKind::String(s) | LiteralKind::Name(s) => Value::String(s.clone()),
        LiteralKind::Number(n) => Value::Number(n.clone()),
        LiteralKind::Bool(b) => Value::Bool(*b),
        LiteralKind::Null => Value::Null,
        LiteralKind::List(items) => Value::Array(items.iter().map(value).collect()),
        LiteralKind::Duration { ms, .. } => Value::from(*ms),
        LiteralKind::Object(object) => object.clone(),
    }
}

/// A literal where text is expected: strings and names as they are, anything else as JSON.
fn text(literal: &Literal) -> String {
    match value(literal) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}
