//! The `key = value` blocks: per block kind the keys it takes, which of them are required and
//! what values they take; a key given twice; and the items that may appear only once (a
//! script's source, audit, background and breaker defaults, a file's scope, one breaker per
//! provider, one quota and one retention per tenant).

use super::{conditions, cron, place, quantities, span_in_string, suggestion, Context};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::FileId;
use crate::syntax::ast::{
    Block, Item, Literal, LiteralKind, Name, Path, SourceKind, Span, TableSourceDecl,
};
use serde_json::Value;
use std::collections::HashMap;

/// What a setting's value must be.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Duration,
    /// A whole number of at least 1.
    Count,
    Strings {
        non_empty: bool,
    },
    Object,
    /// A JSON object whose values are all strings.
    StringObject,
    /// One of these bare words.
    Keyword(&'static [&'static str]),
    /// A provider's name, written bare.
    Provider,
    Cron,
    /// Kafka bootstrap servers: a non-empty list of `"host:port"`.
    Brokers,
    /// A Kafka topic name.
    Topic,
    /// A field of the call a provider receives, written bare (`payload.device_id`).
    CallField,
}

struct Key {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn key(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        kind,
        required: false,
    }
}

const fn required(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        kind,
        required: true,
    }
}

/// How to reach AWS; every AWS provider, `email` and the DynamoDB audit sink take these.
const AWS: [Key; 5] = [
    key("region", Kind::Str),
    key("endpoint_url", Kind::Str),
    key("role_arn", Kind::Str),
    key("external_id", Kind::Str),
    key("session_name", Kind::Str),
];

/// Provider types and their own settings; `log` and `kafka` take no AWS settings.
const PROVIDERS: [(&str, &[Key]); 8] = [
    ("aws-sns", &[required("topic_arn", Kind::Str)]),
    (
        "aws-lambda",
        &[
            required("function_name", Kind::Str),
            key("qualifier", Kind::Str),
        ],
    ),
    ("aws-eventbridge", &[required("event_bus_name", Kind::Str)]),
    ("aws-sqs", &[required("queue_url", Kind::Str)]),
    (
        "aws-s3",
        &[
            required("bucket", Kind::Str),
            key("object_prefix", Kind::Str),
        ],
    ),
    (
        "email",
        &[
            required("backend", Kind::Keyword(&["ses"])),
            required("from_address", Kind::Str),
            key("configuration_set", Kind::Str),
        ],
    ),
    ("log", &[]),
    (
        "kafka",
        &[
            required("brokers", Kind::Brokers),
            required("topic", Kind::Topic),
            key("key", Kind::CallField),
            key("properties", Kind::StringObject),
        ],
    ),
];

/// Provider types reached without AWS.
const NOT_AWS: [&str; 2] = ["log", "kafka"];

/// A table read from a topic: every record from the earliest offset, so no group or start.
const KAFKA_TABLE: [Key; 3] = [
    required("brokers", Kind::Brokers),
    required("topic", Kind::Topic),
    key("properties", Kind::StringObject),
];

const KAFKA: [Key; 6] = [
    required("brokers", Kind::Brokers),
    required("topics", Kind::Strings { non_empty: true }),
    required("group", Kind::Str),
    key("start", Kind::Keyword(&["earliest", "latest", "committed"])),
    key("format", Kind::Keyword(&["json"])),
    key("properties", Kind::StringObject),
];

const BREAKERS: [Key; 4] = [
    key("enabled", Kind::Bool),
    key("failure_threshold", Kind::Count),
    key("success_threshold", Kind::Count),
    key("recovery_timeout", Kind::Duration),
];

const FALLBACK: Key = key("fallback", Kind::Provider);

const RETENTION: [Key; 3] = [
    key("audit", Kind::Duration),
    key("events", Kind::Duration),
    key("state", Kind::Duration),
];

const RECURRING: [Key; 8] = [
    required("cron", Kind::Cron),
    key("timezone", Kind::Str),
    required("provider", Kind::Provider),
    required("action_type", Kind::Str),
    key("payload", Kind::Object),
    key("metadata", Kind::StringObject),
    key("namespace", Kind::Str),
    key("tenant", Kind::Str),
];

const AUDIT_SINKS: [&str; 4] = ["file", "memory", "dynamodb", "kafka"];

const AUDIT: [Key; 10] = [
    key("sink", Kind::Keyword(&AUDIT_SINKS)),
    key("path", Kind::Str),
    key("table", Kind::Str),
    key("brokers", Kind::Brokers),
    key("topic", Kind::Topic),
    key("properties", Kind::StringObject),
    key("ttl", Kind::Duration),
    key("store_payload", Kind::Bool),
    key("redact", Kind::Strings { non_empty: false }),
    key("placeholder", Kind::Str),
];

const BACKGROUND: [Key; 12] = [
    key("group_flush_interval", Kind::Duration),
    key("timeout_check_interval", Kind::Duration),
    key("cleanup_interval", Kind::Duration),
    key("completed_chain_ttl", Kind::Duration),
    key("recurring_check_interval", Kind::Duration),
    key("max_recurring_per_tenant", Kind::Count),
    key("retention_check_interval", Kind::Duration),
    key("group_flush", Kind::Bool),
    key("timeout_processing", Kind::Bool),
    key("recurring_actions", Kind::Bool),
    key("retention_reaper", Kind::Bool),
    key("max_lateness", Kind::Duration),
];

pub(super) fn check(cx: &Context, out: &mut Vec<Diagnostic>) {
    let mut once = Once::default();
    for (file, item) in cx.items() {
        let keyword = |word: &str| {
            let span = item.span();
            span.start..(span.start + word.len()).min(span.end)
        };
        match item {
            Item::Scope(_) => once.note(
                cx,
                "`scope` in this file".into(),
                format!("scope {}", file.0),
                (file, keyword("scope")),
                out,
            ),
            Item::Source(source) => {
                once.single(cx, "source", (file, keyword("source")), out);
                if let SourceKind::Kafka(block) = &source.kind {
                    let anchor = keyword("source kafka");
                    let s = settings(cx, file, block, &[&KAFKA], "a kafka source", &anchor, out);
                    s.require_all(&[&KAFKA], out);
                }
            }
            Item::Table(table) => {
                if let TableSourceDecl::Kafka(block) = &table.source {
                    let what = "a kafka table";
                    let keys: &[&[Key]] = &[&KAFKA_TABLE];
                    let s = settings(cx, file, block, keys, what, &table.name.span, out);
                    s.require_all(keys, out);
                }
            }
            Item::Provider(provider) => {
                let kind = &provider.kind;
                let Some((_, own)) = PROVIDERS.iter().find(|(name, _)| *name == kind.text) else {
                    let hint =
                        suggestion(&kind.text, PROVIDERS.map(|(n, _)| n)).unwrap_or_else(|| {
                            format!("provider types: {}", PROVIDERS.map(|(n, _)| n).join(", "))
                        });
                    out.push(
                        Diagnostic::new(
                            Code::BadSettingValue,
                            file,
                            kind.span.clone(),
                            format!("unknown provider type `{}`", kind.text),
                        )
                        .with_hint(hint),
                    );
                    continue;
                };
                let keys: &[&[Key]] = if NOT_AWS.contains(&kind.text.as_str()) {
                    &[own]
                } else {
                    &[own, &AWS]
                };
                let article = match kind.text.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    true => "an",
                    false => "a",
                };
                let what = format!("{article} `{}` provider", kind.text);
                let empty = Block {
                    settings: Vec::new(),
                    span: provider.span.clone(),
                };
                let block = provider.settings.as_ref().unwrap_or(&empty);
                let s = settings(cx, file, block, keys, &what, &provider.name.span, out);
                s.require_all(keys, out);
            }
            Item::Breakers(block) => {
                once.single(cx, "breakers", (file, keyword("breakers")), out);
                settings(
                    cx,
                    file,
                    block,
                    &[&BREAKERS],
                    "`breakers`",
                    &keyword("breakers"),
                    out,
                );
            }
            Item::Breaker(breaker) => {
                let what = format!("breaker for `{}`", breaker.provider.text);
                let at = (file, breaker.provider.span.clone());
                once.note(cx, what.clone(), what, at, out);
                let keys: &[&[Key]] = &[&BREAKERS, &[FALLBACK]];
                settings(
                    cx,
                    file,
                    &breaker.settings,
                    keys,
                    "a `breaker`",
                    &breaker.provider.span,
                    out,
                );
            }
            Item::Quota(quota) => {
                let what = format!("quota for tenant \"{}\"", quota.tenant.value);
                let at = (file, quota.tenant.span.clone());
                once.note(
                    cx,
                    what.clone(),
                    format!("{what} {:?}", scope_namespace(cx, file)),
                    at,
                    out,
                );
            }
            Item::Retention(retention) => {
                let what = format!("retention for tenant \"{}\"", retention.tenant.value);
                let at = (file, retention.tenant.span.clone());
                once.note(
                    cx,
                    what.clone(),
                    format!("{what} {:?}", scope_namespace(cx, file)),
                    at,
                    out,
                );
                let anchor = &retention.tenant.span;
                settings(
                    cx,
                    file,
                    &retention.settings,
                    &[&RETENTION],
                    "`retention`",
                    anchor,
                    out,
                );
            }
            Item::Recurring(recurring) => {
                let anchor = &recurring.name.span;
                let what = "a `recurring` action";
                let s = settings(
                    cx,
                    file,
                    &recurring.settings,
                    &[&RECURRING],
                    what,
                    anchor,
                    out,
                );
                s.require_all(&[&RECURRING], out);
                let scope = cx.scope(file);
                if scope.and_then(|s| s.namespace.as_ref()).is_none() {
                    s.require(
                        "namespace",
                        "\"...\"",
                        "(the file has no scope namespace)",
                        out,
                    );
                }
                if scope.and_then(|s| s.tenant.as_ref()).is_none() {
                    s.require("tenant", "\"...\"", "(the file has no scope tenant)", out);
                }
            }
            Item::Audit(block) => {
                once.single(cx, "audit", (file, keyword("audit")), out);
                let anchor = keyword("audit");
                let s = settings(cx, file, block, &[&AUDIT, &AWS], "`audit`", &anchor, out);
                match s.keyword("sink") {
                    Some("dynamodb") => {
                        s.require("table", "\"...\"", "(the dynamodb sink needs a table)", out)
                    }
                    Some("kafka") => {
                        let brokers = "[\"127.0.0.1:9092\"]";
                        s.require("brokers", brokers, "(the kafka sink needs brokers)", out);
                        s.require(
                            "topic",
                            "\"acteon-audit\"",
                            "(the kafka sink needs a topic)",
                            out,
                        );
                    }
                    _ => {}
                }
            }
            Item::Background(block) => {
                once.single(cx, "background", (file, keyword("background")), out);
                settings(
                    cx,
                    file,
                    block,
                    &[&BACKGROUND],
                    "`background`",
                    &keyword("background"),
                    out,
                );
            }
            _ => {}
        }
    }
}

/// Items that may appear once, by what they are and, where it matters, what they are for.
#[derive(Default)]
struct Once {
    first: HashMap<String, (FileId, Span)>,
}

impl Once {
    /// `what` names the item in the message ("`source`", "breaker for `x`"); `key` tells two
    /// of them apart when several may appear (one scope per file).
    fn note(
        &mut self,
        cx: &Context,
        what: String,
        key: String,
        at: (FileId, Span),
        out: &mut Vec<Diagnostic>,
    ) {
        let (file, span) = at;
        if let Some((first_file, first_span)) = self.first.get(&key) {
            out.push(
                Diagnostic::new(Code::Repeated, file, span, format!("a second {what}"))
                    .with_label("given again here")
                    .with_secondary(*first_file, first_span.clone(), "first given here")
                    .with_hint(format!(
                        "the first is at {}; merge the two",
                        place(cx.program, file, *first_file, first_span)
                    )),
            );
        } else {
            self.first.insert(key, (file, span));
        }
    }

    fn single(&mut self, cx: &Context, what: &str, at: (FileId, Span), out: &mut Vec<Diagnostic>) {
        self.note(cx, format!("`{what}`"), what.to_string(), at, out);
    }
}

/// Quotas and retention are per namespace (the file's scope) and tenant.
fn scope_namespace<'p>(cx: &Context<'p>, file: FileId) -> Option<&'p str> {
    cx.scope(file)?.namespace.as_ref().map(|n| n.value.as_str())
}

/// A validated block: what it holds, for the checks that depend on more than one key.
struct Checked<'a> {
    file: FileId,
    given: HashMap<&'a str, &'a Literal>,
    what: String,
    anchor: Span,
}

impl Checked<'_> {
    fn require_all(&self, keys: &[&[Key]], out: &mut Vec<Diagnostic>) {
        for key in keys.iter().flat_map(|k| k.iter()).filter(|k| k.required) {
            self.require(key.name, example(key.kind), "", out);
        }
    }

    fn require(&self, name: &str, example: &str, why: &str, out: &mut Vec<Diagnostic>) {
        if self.given.contains_key(name) {
            return;
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" {why}")
        };
        out.push(
            Diagnostic::new(
                Code::MissingSetting,
                self.file,
                self.anchor.clone(),
                format!("{} needs `{name}`{why}", self.what),
            )
            .with_hint(format!("add `{name} = {example}`")),
        );
    }

    fn keyword(&self, name: &str) -> Option<&str> {
        match &self.given.get(name)?.kind {
            LiteralKind::Name(word) => Some(word),
            _ => None,
        }
    }
}

fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Str | Kind::Cron => "\"...\"",
        Kind::Bool => "true",
        Kind::Duration => "30s",
        Kind::Count => "1",
        Kind::Strings { .. } => "[\"...\"]",
        Kind::Object | Kind::StringObject => "{ ... }",
        Kind::Keyword(words) => words[0],
        Kind::Provider => "PROVIDER",
        Kind::Brokers => "[\"127.0.0.1:9092\"]",
        Kind::Topic => "\"alerts\"",
        Kind::CallField => "payload.device_id",
    }
}

/// Checks every setting of a block against the keys it takes (`keys` may come in several
/// tables, e.g. a provider type's own and the AWS ones).
fn settings<'a>(
    cx: &Context,
    file: FileId,
    block: &'a Block,
    keys: &[&[Key]],
    what: &str,
    anchor: &Span,
    out: &mut Vec<Diagnostic>,
) -> Checked<'a> {
    let mut given: HashMap<&str, &Literal> = HashMap::new();
    let mut first: HashMap<&str, &Span> = HashMap::new();
    let known = || keys.iter().flat_map(|k| k.iter());
    for setting in &block.settings {
        let name = setting.key.text.as_str();
        if let Some(first_span) = first.get(name) {
            out.push(
                Diagnostic::new(
                    Code::Repeated,
                    file,
                    setting.key.span.clone(),
                    format!("`{name}` is given twice"),
                )
                .with_label("given again here")
                .with_secondary(file, (*first_span).clone(), "first given here")
                .with_hint(format!(
                    "the first is at {}; keep one",
                    place(cx.program, file, file, first_span)
                )),
            );
            continue;
        }
        first.insert(name, &setting.key.span);
        let Some(key) = known().find(|k| k.name == name) else {
            let names: Vec<&str> = known().map(|k| k.name).collect();
            let hint = suggestion(name, names.iter().copied()).unwrap_or_else(|| {
                if names.is_empty() {
                    format!("{what} takes no settings")
                } else {
                    format!("{what} takes: {}", names.join(", "))
                }
            });
            out.push(
                Diagnostic::new(
                    Code::UnknownSetting,
                    file,
                    setting.key.span.clone(),
                    format!("unknown setting `{name}` for {what}"),
                )
                .with_hint(hint),
            );
            continue;
        };
        given.insert(name, &setting.value);
        value(cx, file, name, key.kind, &setting.value, out);
    }
    Checked {
        file,
        given,
        what: what.to_string(),
        anchor: anchor.clone(),
    }
}

fn value(
    cx: &Context,
    file: FileId,
    name: &str,
    kind: Kind,
    v: &Literal,
    out: &mut Vec<Diagnostic>,
) {
    let wrong = |expected: &str, hint: String| {
        Diagnostic::new(
            Code::BadSettingValue,
            file,
            v.span.clone(),
            format!("`{name}` must be {expected}, not {}", describe(&v.kind)),
        )
        .with_hint(hint)
    };
    let bad_item = |item: &Literal, message: String, hint: String| {
        Diagnostic::new(Code::BadSettingValue, file, item.span.clone(), message).with_hint(hint)
    };
    // A value of the wrong kind: a string's hint repairs it with `fix`, any other shows `example`.
    let instead = |expected: &str, fix: &dyn Fn(&str) -> String, example: &str| match &v.kind {
        LiteralKind::String(text) => wrong(expected, fix(text)),
        _ => wrong(expected, format!("write e.g. `{example}`")),
    };
    let quoted = |expected: &str| match &v.kind {
        LiteralKind::Name(word) => wrong(expected, format!("write it in quotes: `\"{word}\"`")),
        _ => wrong(expected, format!("write {expected}")),
    };
    match (kind, &v.kind) {
        (Kind::Str, LiteralKind::String(_)) => {}
        (Kind::Str, _) => out.push(quoted("a string")),
        (Kind::Bool, LiteralKind::Bool(_)) => {}
        (Kind::Bool, _) => out.push(wrong("true or false", "write `true` or `false`".into())),
        (Kind::Duration, LiteralKind::Duration { .. }) => quantities::literal(file, v, out),
        (Kind::Duration, _) => out.push(wrong("a duration", "write e.g. `30s`, `5m`, `1h`".into())),
        (Kind::Count, LiteralKind::Number(n)) => match n.as_i64() {
            Some(count) if count >= 1 => {}
            Some(count) => out.push(
                Diagnostic::new(
                    Code::BadCount,
                    file,
                    v.span.clone(),
                    format!("`{name}` must be at least 1, not {count}"),
                )
                .with_hint("write a whole number of 1 or more"),
            ),
            None => out.push(wrong("a whole number", "write e.g. `3`".into())),
        },
        (Kind::Count, _) => out.push(wrong("a whole number", "write e.g. `3`".into())),
        (Kind::Strings { non_empty }, LiteralKind::List(items)) => {
            if let Some(item) = items
                .iter()
                .find(|i| !matches!(i.kind, LiteralKind::String(_)))
            {
                out.push(bad_item(
                    item,
                    format!(
                        "`{name}` must be a list of strings, not one holding {}",
                        describe(&item.kind)
                    ),
                    "write each element in quotes".into(),
                ));
            } else if non_empty && items.is_empty() {
                out.push(wrong(
                    "a list of at least one string",
                    "add an element".into(),
                ));
            }
        }
        (Kind::Strings { .. }, _) => out.push(wrong(
            "a list of strings",
            "write e.g. `[\"a\", \"b\"]`".into(),
        )),
        (Kind::Object, LiteralKind::Object(Value::Object(_))) => {}
        (Kind::StringObject, LiteralKind::Object(Value::Object(map))) => {
            if let Some((k, _)) = map.iter().find(|(_, v)| !v.is_string()) {
                out.push(wrong(
                    "an object of strings",
                    format!("the value of \"{k}\" must be a string; write it in quotes"),
                ));
            }
        }
        (Kind::Object | Kind::StringObject, _) => out.push(wrong(
            "a JSON object",
            "write e.g. `{ \"k\": \"v\" }`".into(),
        )),
        (Kind::Keyword(words), LiteralKind::Name(word)) if words.contains(&word.as_str()) => {}
        (Kind::Keyword(words), _) => {
            let hint = match &v.kind {
                LiteralKind::String(s) if words.contains(&s.as_str()) => {
                    format!("write it without quotes: `{s}`")
                }
                LiteralKind::Name(word) | LiteralKind::String(word) => {
                    suggestion(word, words.iter().copied())
                        .unwrap_or_else(|| format!("write `{}`", words.join(" | ")))
                }
                _ => format!("write `{}`", words.join(" | ")),
            };
            out.push(wrong(&format!("one of `{}`", words.join(" | ")), hint));
        }
        (Kind::Provider, LiteralKind::Name(_)) => {}
        (Kind::Provider, LiteralKind::String(s)) => out.push(wrong(
            "a provider name",
            format!("write it without quotes: `{s}`"),
        )),
        (Kind::Provider, _) => {
            out.push(wrong("a provider name", "name a declared provider".into()))
        }
        (Kind::Cron, LiteralKind::String(expr)) => {
            if let Err(error) = cron::validate(expr) {
                let span = span_in_string(cx.text(file), &v.span, expr, error.at);
                out.push(
                    Diagnostic::new(
                        Code::BadCron,
                        file,
                        span,
                        format!("invalid cron expression: {}", error.reason),
                    )
                    .with_hint("five fields: minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\""),
                );
            }
        }
        (Kind::Cron, _) => out.push(wrong(
            "a cron expression in quotes",
            "write e.g. `\"*/5 * * * *\"`".into(),
        )),
        (Kind::Brokers, LiteralKind::List(items)) => {
            value(cx, file, name, Kind::Strings { non_empty: true }, v, out);
            for item in items {
                if let LiteralKind::String(text) = &item.kind {
                    if let Err(reason) = host_port(text) {
                        let hint = match text.contains(':') {
                            true => "write each broker as \"host:port\", e.g. \"127.0.0.1:9092\""
                                .to_string(),
                            // Kafka's usual port is the likely omission.
                            false => format!("add the port: `\"{text}:9092\"`"),
                        };
                        let message =
                            format!("`{name}` holds \"{text}\", which is not HOST:PORT: {reason}");
                        out.push(bad_item(item, message, hint));
                    }
                }
            }
        }
        (Kind::Brokers, _) => out.push(instead(
            "a list of brokers",
            &|text| format!("write it as a list: `[\"{text}\"]`"),
            "[\"127.0.0.1:9092\"]",
        )),
        (Kind::Topic, LiteralKind::String(topic)) => {
            if let Err((bytes, reason)) = topic_name(topic) {
                let span = match bytes {
                    Some(bytes) => span_in_string(cx.text(file), &v.span, topic, bytes),
                    None => v.span.clone(),
                };
                out.push(
                    Diagnostic::new(
                        Code::BadSettingValue,
                        file,
                        span,
                        format!("`{name}` is not a valid Kafka topic name: {reason}"),
                    )
                    .with_hint(match repaired_topic(topic) {
                        Some(fixed) => format!("write e.g. `\"{fixed}\"` ({TOPIC_RULE})"),
                        None => format!("{TOPIC_RULE}, and not `.` or `..`"),
                    }),
                );
            }
        }
        (Kind::Topic, _) => out.push(quoted("a topic name in quotes")),
        (Kind::CallField, LiteralKind::Path(path)) => conditions::call_field(file, path, out),
        (Kind::CallField, LiteralKind::Name(root)) => {
            let path = Path {
                root: Name {
                    text: root.clone(),
                    span: v.span.clone(),
                },
                segments: Vec::new(),
                span: v.span.clone(),
            };
            conditions::call_field(file, &path, out);
        }
        (Kind::CallField, _) => out.push(instead(
            "a field path",
            &|text| format!("write it without quotes: `{text}`"),
            "payload.device_id",
        )),
    }
}

/// Why `text` is not `host:port`.
fn host_port(text: &str) -> Result<(), &'static str> {
    let (host, port) = text.rsplit_once(':').ok_or("no `:PORT`")?;
    if host.is_empty() {
        return Err("no host");
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => Err("the port is not a number from 1 to 65535"),
    }
}

const TOPIC_RULE: &str = "a topic name is 1 to 249 of a-z, A-Z, 0-9, `.`, `_` and `-`";

fn topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// `topic` with each character Kafka refuses replaced by `-`, when that makes a valid name
/// (only a name with stray characters has an obvious repair).
fn repaired_topic(topic: &str) -> Option<String> {
    let fixed: String = topic
        .chars()
        .map(|c| if topic_char(c) { c } else { '-' })
        .collect();
    (fixed != topic && topic_name(&fixed).is_ok()).then_some(fixed)
}

/// Why `topic` is not a topic name Kafka accepts, and which bytes of it are wrong (`None`:
/// the whole name).
fn topic_name(topic: &str) -> Result<(), (Option<std::ops::Range<usize>>, &'static str)> {
    const MAX: usize = 249;
    if topic.is_empty() {
        return Err((None, "it is empty"));
    }
    if topic == "." || topic == ".." {
        return Err((None, "`.` and `..` are reserved"));
    }
    if let Some((at, c)) = topic.char_indices().find(|&(_, c)| !topic_char(c)) {
        return Err((
            Some(at..at + c.len_utf8()),
            "it holds a character other than a-z, A-Z, 0-9, `.`, `_`, `-`",
        ));
    }
    if topic.len() > MAX {
        return Err((Some(MAX..topic.len()), "it is longer than 249 characters"));
    }
    Ok(())
}

fn describe(kind: &LiteralKind) -> String {
    match kind {
        LiteralKind::String(s) => format!("the string \"{s}\""),
        LiteralKind::Number(n) => format!("the number {n}"),
        LiteralKind::Bool(b) => format!("`{b}`"),
        LiteralKind::Null => "`null`".to_string(),
        LiteralKind::List(_) => "a list".to_string(),
        LiteralKind::Duration { text, .. } => format!("the duration {text}"),
        LiteralKind::Object(_) => "an object".to_string(),
        LiteralKind::Name(word) => format!("`{word}`"),
        LiteralKind::Path(_) => "a field path".to_string(),
    }
}

/// What each kind of settings block takes, read from the tables the checks use, so the
/// language server completes exactly the keys `acteon check` accepts.
pub mod schema {
    use super::{
        example, Key, Kind, AUDIT, AWS, BACKGROUND, BREAKERS, FALLBACK, KAFKA, KAFKA_TABLE,
        NOT_AWS, PROVIDERS, RECURRING, RETENTION,
    };

    /// A kind of `{ key = value ... }` block.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Block<'a> {
        /// `provider NAME TYPE { ... }`, by type.
        Provider(&'a str),
        KafkaSource,
        /// `table NAME key FIELD from kafka { ... }`.
        KafkaTable,
        Breakers,
        Breaker,
        Retention,
        Recurring,
        Audit,
        Background,
    }

    /// One key a block takes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct KeyInfo {
        pub name: &'static str,
        pub required: bool,
        /// A value that has the right form, as it would be written.
        pub example: &'static str,
        /// For keys that take one of a few bare words, the words.
        pub words: &'static [&'static str],
        /// The key names a provider.
        pub names_provider: bool,
    }

    /// Every provider type, in the order the reference lists them.
    pub fn provider_types() -> Vec<&'static str> {
        PROVIDERS.iter().map(|(name, _)| *name).collect()
    }

    /// The keys a block takes; `None` for a provider type that does not exist.
    pub fn keys(block: Block) -> Option<Vec<KeyInfo>> {
        let tables: Vec<&[Key]> = match block {
            Block::Provider(kind) => {
                let (_, own) = PROVIDERS.iter().find(|(name, _)| *name == kind)?;
                if NOT_AWS.contains(&kind) {
                    vec![own]
                } else {
                    vec![own, &AWS]
                }
            }
            Block::KafkaSource => vec![&KAFKA],
            Block::KafkaTable => vec![&KAFKA_TABLE],
            Block::Breakers => vec![&BREAKERS],
            Block::Breaker => vec![&BREAKERS, std::slice::from_ref(&FALLBACK)],
            Block::Retention => vec![&RETENTION],
            Block::Recurring => vec![&RECURRING],
            Block::Audit => vec![&AUDIT, &AWS],
            Block::Background => vec![&BACKGROUND],
        };
        Some(
            tables
                .into_iter()
                .flatten()
                .map(|key| KeyInfo {
                    name: key.name,
                    required: key.required,
                    example: example(key.kind),
                    words: match key.kind {
                        Kind::Keyword(words) => words,
                        _ => &[],
                    },
                    names_provider: matches!(key.kind, Kind::Provider),
                })
                .collect(),
        )
    }
}
