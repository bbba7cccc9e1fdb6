//! `[[chains.definitions]]`: chains, their steps, branches, retries and failure handling.

use super::config::{
    array_of_tables, leftovers, optional_count, optional_seconds, optional_string, required_string,
    table,
};
use super::emit::{literal, milliseconds, path_segment};
use super::{Invalid, Unconverted};
use toml::Table;

/// One `chain` item per definition. `[chains]`'s own `completed_chain_ttl_seconds` is a
/// background setting, read by the caller.
pub(super) fn convert(section: &Table, notes: &mut Unconverted) -> Result<Vec<String>, Invalid> {
    leftovers(
        section,
        &["definitions", "completed_chain_ttl_seconds"],
        "[chains]",
        notes,
    );
    let Some(definitions) = section.get("definitions") else {
        return Ok(Vec::new());
    };
    array_of_tables(definitions, "[[chains.definitions]]")?
        .into_iter()
        .map(|definition| chain(definition, notes))
        .collect()
}

fn chain(definition: &Table, notes: &mut Unconverted) -> Result<String, Invalid> {
    let name = required_string(definition, "name", "[[chains.definitions]]")?;
    let label = format!("chain {name}");
    let mut out = format!("chain {name}");
    if let Some(timeout) = optional_seconds(definition, "timeout_seconds", &label)? {
        out.push_str(&format!(" timeout {timeout}"));
    }
    out.push_str(" {\n");
    match optional_string(definition, "on_failure", &label)?.as_deref() {
        None | Some("abort") => {}
        Some(other) => notes.note(format!("{label} on_failure = {other}")),
    }
    leftovers(
        definition,
        &["name", "timeout_seconds", "on_failure", "steps"],
        &label,
        notes,
    );
    if let Some(steps) = definition.get("steps") {
        for step_table in array_of_tables(steps, &format!("{label} steps"))? {
            step(step_table, &label, &mut out, notes)?;
        }
    }
    out.push_str("}\n");
    Ok(out)
}

fn step(
    step: &Table,
    chain: &str,
    out: &mut String,
    notes: &mut Unconverted,
) -> Result<(), Invalid> {
    let name = required_string(step, "name", &format!("{chain} step"))?;
    let label = format!("{chain} step {name}");
    match optional_string(step, "sub_chain", &label)? {
        Some(sub_chain) => out.push_str(&format!("  step {name} run {sub_chain}\n")),
        None => {
            let provider = required_string(step, "provider", &label)?;
            let action_type = required_string(step, "action_type", &label)?;
            let payload = match step.get("payload_template") {
                Some(template) => serde_json::to_value(template)
                    .map_err(|e| Invalid(format!("{label}: payload_template: {e}")))?,
                None => serde_json::Value::Object(Default::default()),
            };
            out.push_str(&format!(
                "  step {name} call {provider} {action_type} {payload}\n"
            ));
        }
    }
    if let Some(branches) = step.get("branches") {
        for branch_table in array_of_tables(branches, &format!("{label} branches"))? {
            branch(branch_table, &label, out, notes)?;
        }
    }
    if let Some(next) = optional_string(step, "default_next", &label)? {
        out.push_str(&format!("    next {next}\n"));
    }
    match optional_string(step, "on_failure", &label)?.as_deref() {
        None => {}
        Some(mode @ ("abort" | "skip" | "dlq")) => {
            out.push_str(&format!("    on_failure {mode}\n"))
        }
        Some(other) => notes.note(format!("{label} on_failure = {other}")),
    }
    if let Some(retry) = step.get("retry") {
        let retry_label = format!("{label} retry");
        let retry = table(retry, &retry_label)?;
        let count = optional_count(retry, "max_retries", &retry_label)?.unwrap_or(0);
        // The older gateway waits 1 s between attempts when no backoff is given.
        let backoff = optional_count(retry, "backoff_ms", &retry_label)?.unwrap_or(1000);
        out.push_str(&format!("    retry {count}"));
        if backoff > 0 {
            out.push_str(&format!(" backoff {}", milliseconds(backoff)));
        }
        out.push('\n');
        leftovers(retry, &["max_retries", "backoff_ms"], &retry_label, notes);
    }
    let known = [
        "name",
        "sub_chain",
        "provider",
        "action_type",
        "payload_template",
        "branches",
        "default_next",
        "on_failure",
        "retry",
    ];
    leftovers(step, &known, &label, notes);
    out.push('\n');
    Ok(())
}

fn branch(
    branch: &Table,
    step: &str,
    out: &mut String,
    notes: &mut Unconverted,
) -> Result<(), Invalid> {
    let label = format!("{step} branch");
    let field = required_string(branch, "field", &label)?;
    let target = required_string(branch, "target", &label)?;
    let operator = optional_string(branch, "operator", &label)?.unwrap_or_else(|| "eq".to_string());
    let Some(field) = branch_field(&field) else {
        notes.note(format!("{label} on field {field}"));
        return Ok(());
    };
    let op = match operator.as_str() {
        "eq" => "==",
        "neq" => "!=",
        "gt" => ">",
        "gte" => ">=",
        "lt" => "<",
        "lte" => "<=",
        "contains" => "contains",
        "exists" => "exists",
        other => {
            notes.note(format!("{label} operator {other}"));
            return Ok(());
        }
    };
    let value = match (op, branch.get("value")) {
        ("exists", _) => String::new(),
        (_, Some(value)) => {
            let value =
                serde_json::to_value(value).map_err(|e| Invalid(format!("{label}: {e}")))?;
            format!(" {}", literal(&value))
        }
        (_, None) => return Err(Invalid(format!("{label}: `value` is missing"))),
    };
    out.push_str(&format!("    if {field} {op}{value} then {target}\n"));
    leftovers(
        branch,
        &["field", "operator", "value", "target"],
        &label,
        notes,
    );
    Ok(())
}

/// `success`, `body` or `body.a.b`: the only parts of a step result a branch can test.
fn branch_field(field: &str) -> Option<String> {
    let mut segments = field.split('.');
    match segments.next()? {
        "success" if field == "success" => Some(field.to_string()),
        "body" => {
            let mut out = "body".to_string();
            for segment in segments {
                if segment.is_empty() {
                    return None;
                }
                out.push('.');
                out.push_str(&path_segment(segment));
            }
            Some(out)
        }
        _ => None,
    }
}
