//! The rules directory: every `.yaml`/`.yml` file's `rules:` list, in file-name order.

use super::condition::{self, script_path, Condition};
use super::emit::{quote, seconds};
use super::{ImportError, Unconverted};
use serde_yaml::{Mapping, Value as Yaml};
use std::path::Path;

pub(super) struct Rule {
    pub name: String,
    pub priority: i64,
    pub description: Option<String>,
    pub condition: Option<Condition>,
    /// The script's action, e.g. `reroute alert-fanout`.
    pub action: String,
    /// The YAML file it came from, by name.
    pub file: String,
}

pub(super) fn read_dir(dir: &Path, notes: &mut Unconverted) -> Result<Vec<Rule>, ImportError> {
    let read_error = |source| ImportError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    // The older gateway took directory order, which the OS decides; name order is reproducible.
    files.sort();
    let mut rules = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| ImportError::Read {
            path: path.clone(),
            source,
        })?;
        let yaml: Yaml = serde_yaml::from_str(&text).map_err(|source| ImportError::Yaml {
            path: path.clone(),
            source,
        })?;
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let invalid = |message: String| ImportError::Invalid {
            path: path.clone(),
            message,
        };
        let list = match yaml.get("rules") {
            None if yaml.is_null() => continue,
            None => return Err(invalid("no `rules:` list".to_string())),
            Some(list) => list
                .as_sequence()
                .ok_or_else(|| invalid("`rules` must be a list".to_string()))?,
        };
        for rule in list {
            let rule = rule
                .as_mapping()
                .ok_or_else(|| invalid("a rule must be a mapping".to_string()))?;
            if let Some(rule) = convert(rule, &file, notes).map_err(invalid)? {
                rules.push(rule);
            }
        }
    }
    Ok(rules)
}

/// `Ok(None)`: the rule is left out (disabled, or using what a script cannot express), and the
/// notes say why.
fn convert(rule: &Mapping, file: &str, notes: &mut Unconverted) -> Result<Option<Rule>, String> {
    let name = rule
        .get("name")
        .and_then(Yaml::as_str)
        .ok_or("a rule without a `name`")?;
    let label = format!("rule {name}");
    let priority = match rule.get("priority") {
        None => 0,
        Some(p) => p
            .as_i64()
            .ok_or_else(|| format!("{label}: `priority` must be a whole number"))?,
    };
    if rule.get("enabled").and_then(Yaml::as_bool) == Some(false) {
        notes.note(format!("{label} (disabled)"));
        return Ok(None);
    }
    for (key, _) in rule {
        let key = key.as_str().unwrap_or_default();
        if ![
            "name",
            "priority",
            "description",
            "enabled",
            "condition",
            "action",
        ]
        .contains(&key)
        {
            notes.note(format!("{label} {key}"));
        }
    }
    let condition = match rule.get("condition") {
        Some(yaml) => match condition::condition(yaml) {
            Ok(condition) => Some(condition),
            Err(construct) => {
                notes.note(format!("{label} condition: {construct}"));
                return Ok(None);
            }
        },
        None => return Err(format!("{label}: no `condition`")),
    };
    let action = rule
        .get("action")
        .and_then(Yaml::as_mapping)
        .ok_or_else(|| format!("{label}: no `action`"))?;
    let Some(action) = convert_action(action, &label, notes)? else {
        return Ok(None);
    };
    Ok(Some(Rule {
        name: name.to_string(),
        priority,
        description: rule
            .get("description")
            .and_then(Yaml::as_str)
            .map(str::to_string),
        condition,
        action,
        file: file.to_string(),
    }))
}

fn convert_action(
    action: &Mapping,
    label: &str,
    notes: &mut Unconverted,
) -> Result<Option<String>, String> {
    let kind = action
        .get("type")
        .and_then(Yaml::as_str)
        .ok_or_else(|| format!("{label}: action without a `type`"))?;
    let string = |key: &str| {
        action
            .get(key)
            .and_then(Yaml::as_str)
            .ok_or_else(|| format!("{label}: {kind} needs `{key}`"))
    };
    let count = |key: &str| {
        action
            .get(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| format!("{label}: `{key}` must be a whole number, at least 0"))
            })
            .transpose()
    };
    let duration = |key: &str| -> Result<Option<String>, String> {
        match count(key)? {
            Some(0) => Err(format!("{label}: `{key}` must be at least 1")),
            other => Ok(other.map(seconds)),
        }
    };
    let (text, known): (String, &[&str]) = match kind {
        "suppress" | "deny" | "allow" => (kind.to_string(), &[]),
        "reroute" => (
            format!("reroute {}", string("target_provider")?),
            &["target_provider"],
        ),
        "chain" => (format!("chain {}", string("chain")?), &["chain"]),
        "modify" => {
            let changes = action
                .get("changes")
                .ok_or_else(|| format!("{label}: modify needs `changes`"))?;
            let changes: serde_json::Value =
                serde_json::to_value(changes).map_err(|e| format!("{label}: {e}"))?;
            if !changes.is_object() {
                return Err(format!("{label}: `changes` must be a mapping"));
            }
            (format!("modify {changes}"), &["changes"])
        }
        "deduplicate" => match duration("ttl_seconds")? {
            Some(ttl) => (format!("dedup within {ttl}"), &["ttl_seconds"]),
            None => {
                // Without a TTL the older gateway remembers a key forever; a script needs a window.
                notes.note(format!("{label} deduplicate without ttl_seconds"));
                return Ok(None);
            }
        },
        "throttle" => {
            let max = count("max_count")?
                .ok_or_else(|| format!("{label}: throttle needs `max_count`"))?;
            let window = duration("window_seconds")?
                .ok_or_else(|| format!("{label}: throttle needs `window_seconds`"))?;
            (
                format!("throttle {max} per {window}"),
                &["max_count", "window_seconds"],
            )
        }
        "group" => {
            let by = action
                .get("group_by")
                .and_then(Yaml::as_sequence)
                .ok_or_else(|| format!("{label}: group needs a `group_by` list"))?;
            let mut paths = Vec::new();
            for path in by {
                match path.as_str().and_then(script_path) {
                    Some(path) => paths.push(path),
                    None => {
                        notes.note(format!("{label} group_by {}", path.as_str().unwrap_or("?")));
                        return Ok(None);
                    }
                }
            }
            // The older gateway's default wait.
            let wait = duration("group_wait_seconds")?.unwrap_or_else(|| seconds(30));
            let mut text = format!("group by {} wait {wait}", paths.join(", "));
            if let Some(max) = count("max_group_size")? {
                text.push_str(&format!(" max {max}"));
            }
            (text, &["group_by", "group_wait_seconds", "max_group_size"])
        }
        "schedule" => {
            let delay = duration("delay_seconds")?
                .ok_or_else(|| format!("{label}: schedule needs `delay_seconds`"))?;
            (format!("schedule after {delay}"), &["delay_seconds"])
        }
        other => {
            notes.note(format!("{label} action {other}"));
            return Ok(None);
        }
    };
    for (key, _) in action {
        let key = key.as_str().unwrap_or_default();
        if key != "type" && !known.contains(&key) {
            notes.note(format!("{label} action {kind} {key}"));
        }
    }
    Ok(Some(text))
}

/// The scope every rule shares: a `tenant == "X"` (and `namespace == "Y"`) that is a top-level
/// conjunct of every rule's condition is taken out of the rules and becomes the file's `scope`.
/// The namespace may also come from the older gateway's home (`[background]`), when its tenant
/// is the one every rule tests.
pub(super) fn extract_scope(
    rules: &mut [Rule],
    home_namespace: Option<&str>,
    home_tenant: Option<&str>,
) -> Option<String> {
    let tenant = shared_conjunct(rules, "tenant");
    let namespace = shared_conjunct(rules, "namespace");
    if let Some(tenant) = &tenant {
        drop_conjunct(rules, "tenant", tenant);
    }
    if let Some(namespace) = &namespace {
        drop_conjunct(rules, "namespace", namespace);
    }
    let namespace = namespace.or_else(|| match (home_namespace, home_tenant, &tenant) {
        (Some(ns), Some(home), Some(tenant)) if home == tenant => Some(ns.to_string()),
        _ => None,
    });
    if tenant.is_none() && namespace.is_none() {
        return None;
    }
    let mut scope = "scope".to_string();
    if let Some(namespace) = namespace {
        scope.push_str(&format!(" namespace {}", quote(&namespace)));
    }
    if let Some(tenant) = tenant {
        scope.push_str(&format!(" tenant {}", quote(&tenant)));
    }
    Some(scope)
}

fn conjuncts(condition: &Option<Condition>) -> &[Condition] {
    match condition {
        Some(Condition::All(operands)) => operands,
        Some(single) => std::slice::from_ref(single),
        None => &[],
    }
}

fn shared_conjunct(rules: &[Rule], field: &str) -> Option<String> {
    let mut shared: Option<&str> = None;
    for rule in rules {
        let value = conjuncts(&rule.condition)
            .iter()
            .find_map(|c| c.equals_string(field))?;
        if shared.is_some_and(|s| s != value) {
            return None;
        }
        shared = Some(value);
    }
    shared.map(str::to_string)
}

fn drop_conjunct(rules: &mut [Rule], field: &str, value: &str) {
    for rule in rules {
        let mut remaining: Vec<Condition> = conjuncts(&rule.condition).to_vec();
        if let Some(at) = remaining
            .iter()
            .position(|c| c.equals_string(field) == Some(value))
        {
            remaining.remove(at);
        }
        rule.condition = match remaining.len() {
            0 => None,
            _ => Some(condition::all(remaining)),
        };
    }
}

impl Rule {
    pub(super) fn write(&self, out: &mut String) {
        if let Some(description) = &self.description {
            for line in description.lines() {
                out.push_str(&format!("# {line}\n"));
            }
        }
        out.push_str(&format!("rule {} priority {}\n", self.name, self.priority));
        if let Some(condition) = &self.condition {
            out.push_str(&format!("  when {}\n", condition.text()));
        }
        out.push_str(&format!("  then {}\n", self.action));
    }
}
