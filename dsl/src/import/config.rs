//! `acteon.toml`: providers, circuit breakers, audit and background settings, and the sections
//! that have no counterpart in a script.

use super::emit::{quote, seconds, Block};
use super::{chains, Invalid, Unconverted};
use toml::{Table, Value};

/// What the TOML file contributes to the script.
pub(super) struct Config {
    /// Provider, chain, breaker, audit and background items, in that order.
    pub items: Vec<String>,
    /// `[background] namespace` and `tenant`: the older gateway's home tenant, which the
    /// importer uses for the script's scope.
    pub home_namespace: Option<String>,
    pub home_tenant: Option<String>,
}

pub(super) fn convert(root: &Table, notes: &mut Unconverted) -> Result<Config, Invalid> {
    let mut config = Config {
        items: Vec::new(),
        home_namespace: None,
        home_tenant: None,
    };
    for key in root.keys() {
        let converted = [
            "providers",
            "chains",
            "circuit_breaker",
            "audit",
            "background",
            "rules",
        ];
        if !converted.contains(&key.as_str()) {
            // Server, state and executor settings are `acteon run`'s flags; quota policies were
            // never in the TOML (they are `quota` items now).
            notes.note(format!("[{key}]"));
        }
    }
    if let Some(providers) = root.get("providers") {
        for provider in array_of_tables(providers, "[[providers]]")? {
            if let Some(item) = provider_item(provider, notes)? {
                config.items.push(item);
            }
        }
    }
    if let Some(chains) = root.get("chains") {
        config
            .items
            .extend(chains::convert(table(chains, "[chains]")?, notes)?);
    }
    if let Some(breaker) = root.get("circuit_breaker") {
        config
            .items
            .extend(breakers(table(breaker, "[circuit_breaker]")?, notes)?);
    }
    if let Some(section) = root.get("audit") {
        config
            .items
            .extend(audit(table(section, "[audit]")?, notes)?);
    }
    if !root.contains_key("circuit_breaker") {
        // The older gateway has breakers only when configured; scripts have them by default.
        config
            .items
            .push("breakers { enabled = false }\n".to_string());
    }
    let chain_ttl = match root.get("chains") {
        Some(chains) => optional_seconds(
            table(chains, "[chains]")?,
            "completed_chain_ttl_seconds",
            "[chains]",
        )?,
        None => None,
    };
    if let Some(background) = root.get("background") {
        let background = table(background, "[background]")?;
        config.home_namespace = optional_string(background, "namespace", "[background]")?;
        config.home_tenant = optional_string(background, "tenant", "[background]")?;
        config
            .items
            .push(background_item(background, chain_ttl, notes)?);
    } else if let Some(ttl) = chain_ttl {
        config
            .items
            .push(format!("background {{ completed_chain_ttl = {ttl} }}\n"));
    }
    if let Some(rules) = root.get("rules") {
        // `directory` is what the caller passes as the rules directory.
        leftovers(table(rules, "[rules]")?, &["directory"], "[rules]", notes);
    }
    Ok(config)
}

/// The script's provider types and, per older key, the setting it becomes.
const AWS_KEYS: [(&str, &str); 5] = [
    ("aws_region", "region"),
    ("aws_endpoint_url", "endpoint_url"),
    ("aws_role_arn", "role_arn"),
    ("aws_external_id", "external_id"),
    ("aws_session_name", "session_name"),
];

fn type_keys(kind: &str) -> Option<&'static [(&'static str, &'static str)]> {
    Some(match kind {
        "aws-sns" => &[("topic_arn", "topic_arn")],
        "aws-lambda" => &[
            ("function_name", "function_name"),
            ("qualifier", "qualifier"),
        ],
        "aws-eventbridge" => &[("event_bus_name", "event_bus_name")],
        "aws-sqs" => &[("queue_url", "queue_url")],
        "aws-s3" => &[
            ("bucket_name", "bucket"),
            ("object_prefix", "object_prefix"),
        ],
        "email" => &[
            ("from_address", "from_address"),
            ("ses_configuration_set", "configuration_set"),
        ],
        "log" => &[],
        _ => return None,
    })
}

fn provider_item(provider: &Table, notes: &mut Unconverted) -> Result<Option<String>, Invalid> {
    let name = required_string(provider, "name", "[[providers]]")?;
    let kind = required_string(provider, "type", &format!("provider {name}"))?;
    let label = format!("provider {name}");
    let Some(keys) = type_keys(&kind) else {
        notes.note(format!("{label} (type {kind})"));
        return Ok(None);
    };
    let mut block = Block::new(format!("provider {name} {kind}"));
    let mut known = vec!["name", "type"];
    if kind == "email" {
        // The guide writes `backend`, the older code reads `email_backend`: take either.
        known.extend(["backend", "email_backend"]);
        let backend = match optional_string(provider, "email_backend", &label)? {
            Some(backend) => Some(backend),
            None => optional_string(provider, "backend", &label)?,
        };
        match backend.as_deref() {
            Some("ses") => block.set("backend", "ses"),
            other => {
                notes.note(format!(
                    "{label} (email backend {})",
                    other.unwrap_or("smtp")
                ));
                return Ok(None);
            }
        }
    }
    if kind != "log" {
        for (older, setting) in AWS_KEYS.iter().chain(keys) {
            known.push(older);
            if let Some(value) = optional_string(provider, older, &label)? {
                block.set(setting, quote(&value));
            }
        }
    }
    leftovers(provider, &known, &label, notes);
    let mut out = String::new();
    block.write(&mut out, true);
    Ok(Some(out))
}

fn breakers(section: &Table, notes: &mut Unconverted) -> Result<Vec<String>, Invalid> {
    let mut items = Vec::new();
    let mut defaults = Block::new("breakers");
    if let Some(enabled) = optional_bool(section, "enabled", "[circuit_breaker]")? {
        if !enabled {
            defaults.set("enabled", "false");
        }
    }
    breaker_settings(section, &mut defaults, "[circuit_breaker]")?;
    if !defaults.is_empty() {
        let mut out = String::new();
        defaults.write(&mut out, false);
        items.push(out);
    }
    let known = [
        "enabled",
        "failure_threshold",
        "success_threshold",
        "recovery_timeout_seconds",
        "providers",
    ];
    leftovers(section, &known, "[circuit_breaker]", notes);
    if let Some(providers) = section.get("providers") {
        for (provider, overrides) in table(providers, "[circuit_breaker.providers]")? {
            let label = format!("[circuit_breaker.providers.{provider}]");
            let overrides = table(overrides, &label)?;
            let mut block = Block::new(format!("breaker {provider}"));
            breaker_settings(overrides, &mut block, &label)?;
            if let Some(fallback) = optional_string(overrides, "fallback_provider", &label)? {
                block.set("fallback", fallback);
            }
            let known = [
                "failure_threshold",
                "success_threshold",
                "recovery_timeout_seconds",
                "fallback_provider",
            ];
            leftovers(overrides, &known, &label, notes);
            let mut out = String::new();
            block.write(&mut out, false);
            items.push(out);
        }
    }
    Ok(items)
}

fn breaker_settings(section: &Table, block: &mut Block, label: &str) -> Result<(), Invalid> {
    for key in ["failure_threshold", "success_threshold"] {
        if let Some(count) = optional_count(section, key, label)? {
            block.set(key, count.to_string());
        }
    }
    if let Some(timeout) = optional_seconds(section, "recovery_timeout_seconds", label)? {
        block.set("recovery_timeout", timeout);
    }
    Ok(())
}

fn audit(section: &Table, notes: &mut Unconverted) -> Result<Option<String>, Invalid> {
    const LABEL: &str = "[audit]";
    if optional_bool(section, "enabled", LABEL)? == Some(false) {
        // A script always audits; leaving the section out keeps the default file sink.
        notes.note("[audit] enabled = false");
        return Ok(None);
    }
    let mut block = Block::new("audit");
    let mut known = vec![
        "enabled",
        "backend",
        "store_payload",
        "ttl_seconds",
        "redact",
    ];
    match optional_string(section, "backend", LABEL)?.as_deref() {
        Some("dynamodb") => {
            block.set("sink", "dynamodb");
            known.extend(["table_name", "region", "url"]);
            for (older, setting) in [
                ("table_name", "table"),
                ("region", "region"),
                ("url", "endpoint_url"),
            ] {
                if let Some(value) = optional_string(section, older, LABEL)? {
                    block.set(setting, quote(&value));
                }
            }
        }
        Some("memory") => block.set("sink", "memory"),
        Some(other) => notes.note(format!("[audit] backend = {other}")),
        None => {}
    }
    if let Some(ttl) = optional_seconds(section, "ttl_seconds", LABEL)? {
        block.set("ttl", ttl);
    }
    if let Some(store) = optional_bool(section, "store_payload", LABEL)? {
        block.set("store_payload", store.to_string());
    }
    leftovers(section, &known, LABEL, notes);
    if let Some(redact) = section.get("redact") {
        const REDACT: &str = "[audit.redact]";
        let redact = table(redact, REDACT)?;
        if optional_bool(redact, "enabled", REDACT)? != Some(false) {
            if let Some(fields) = redact.get("fields") {
                let fields = string_list(fields, "[audit.redact] fields")?;
                let fields: Vec<String> = fields.iter().map(|f| quote(f)).collect();
                block.set("redact", format!("[{}]", fields.join(", ")));
            }
            if let Some(placeholder) = optional_string(redact, "placeholder", REDACT)? {
                block.set("placeholder", quote(&placeholder));
            }
        }
        leftovers(redact, &["enabled", "fields", "placeholder"], REDACT, notes);
    }
    let mut out = String::new();
    block.write(&mut out, false);
    Ok(Some(out))
}

const BACKGROUND_INTERVALS: [(&str, &str); 5] = [
    ("group_flush_interval_seconds", "group_flush_interval"),
    ("timeout_check_interval_seconds", "timeout_check_interval"),
    ("cleanup_interval_seconds", "cleanup_interval"),
    (
        "recurring_check_interval_seconds",
        "recurring_check_interval",
    ),
    (
        "retention_check_interval_seconds",
        "retention_check_interval",
    ),
];

const BACKGROUND_SWITCHES: [(&str, &str); 4] = [
    ("enable_group_flush", "group_flush"),
    ("enable_timeout_processing", "timeout_processing"),
    ("enable_recurring_actions", "recurring_actions"),
    ("enable_retention_reaper", "retention_reaper"),
];

fn background_item(
    section: &Table,
    chain_ttl: Option<String>,
    notes: &mut Unconverted,
) -> Result<String, Invalid> {
    const LABEL: &str = "[background]";
    let mut block = Block::new("background");
    let mut known = vec![
        "enabled",
        "namespace",
        "tenant",
        "max_recurring_actions_per_tenant",
    ];
    for (older, setting) in BACKGROUND_INTERVALS {
        known.push(older);
        if let Some(interval) = optional_seconds(section, older, LABEL)? {
            block.set(setting, interval);
        }
    }
    if let Some(ttl) = chain_ttl {
        block.set("completed_chain_ttl", ttl);
    }
    if let Some(max) = optional_count(section, "max_recurring_actions_per_tenant", LABEL)? {
        block.set("max_recurring_per_tenant", max.to_string());
    }
    let all_off = optional_bool(section, "enabled", LABEL)? == Some(false);
    for (older, setting) in BACKGROUND_SWITCHES {
        known.push(older);
        let on = optional_bool(section, older, LABEL)?;
        match (all_off, on) {
            (true, _) => block.set(setting, "false"),
            (false, Some(on)) => block.set(setting, on.to_string()),
            (false, None) => {}
        }
    }
    leftovers(section, &known, LABEL, notes);
    let mut out = String::new();
    block.write(&mut out, false);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Reading typed values

/// Notes every key of `section` that is not in `known`.
pub(super) fn leftovers(section: &Table, known: &[&str], label: &str, notes: &mut Unconverted) {
    for key in section.keys() {
        if !known.contains(&key.as_str()) {
            notes.note(format!("{label} {key}"));
        }
    }
}

pub(super) fn table<'a>(value: &'a Value, label: &str) -> Result<&'a Table, Invalid> {
    value
        .as_table()
        .ok_or_else(|| Invalid(format!("{label} must be a table")))
}

pub(super) fn array_of_tables<'a>(
    value: &'a Value,
    label: &str,
) -> Result<Vec<&'a Table>, Invalid> {
    let array = value
        .as_array()
        .ok_or_else(|| Invalid(format!("{label} must be an array of tables")))?;
    array.iter().map(|v| table(v, label)).collect()
}

pub(super) fn optional_string(
    section: &Table,
    key: &str,
    label: &str,
) -> Result<Option<String>, Invalid> {
    match section.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Invalid(format!("{label}: `{key}` must be a string"))),
    }
}

pub(super) fn required_string(section: &Table, key: &str, label: &str) -> Result<String, Invalid> {
    optional_string(section, key, label)?
        .ok_or_else(|| Invalid(format!("{label}: `{key}` is missing")))
}

fn optional_bool(section: &Table, key: &str, label: &str) -> Result<Option<bool>, Invalid> {
    match section.get(key) {
        None => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b)),
        Some(_) => Err(Invalid(format!("{label}: `{key}` must be true or false"))),
    }
}

/// A non-negative integer.
pub(super) fn optional_count(
    section: &Table,
    key: &str,
    label: &str,
) -> Result<Option<u64>, Invalid> {
    match section.get(key) {
        None => Ok(None),
        Some(Value::Integer(n)) if *n >= 0 => Ok(Some(*n as u64)),
        Some(_) => Err(Invalid(format!(
            "{label}: `{key}` must be a whole number, at least 0"
        ))),
    }
}

/// A positive number of seconds, as a duration literal (scripts have no zero durations).
pub(super) fn optional_seconds(
    section: &Table,
    key: &str,
    label: &str,
) -> Result<Option<String>, Invalid> {
    match optional_count(section, key, label)? {
        Some(0) => Err(Invalid(format!("{label}: `{key}` must be at least 1"))),
        other => Ok(other.map(seconds)),
    }
}

fn string_list(value: &Value, label: &str) -> Result<Vec<String>, Invalid> {
    let strings = value
        .as_array()
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
    strings.ok_or_else(|| Invalid(format!("{label} must be a list of strings")))
}
