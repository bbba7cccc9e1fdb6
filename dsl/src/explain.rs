//! A plan, shown four ways (`acteon explain --format text|json|dot|mermaid`): the rule
//! evaluation order as a table, the plan itself, and the dataflow with each chain's steps as a
//! graph for Graphviz or Mermaid.

use crate::plan::{
    BranchField, BranchOp, Lookup, Plan, RowPath, Rule, RuleAction, Source, StepRun, TableSource,
};
use std::fmt::Write;

/// A duration in the largest unit that divides it exactly, as scripts write it.
pub fn duration_text(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    UNITS
        .iter()
        .find(|(size, _)| ms >= *size && ms.is_multiple_of(*size))
        .map(|(size, unit)| format!("{}{unit}", ms / size))
        .unwrap_or_else(|| format!("{ms}ms"))
}

/// What a rule does, in a few words.
pub fn action_text(action: &RuleAction) -> String {
    match action {
        RuleAction::Suppress => "suppress".into(),
        RuleAction::Deny => "deny".into(),
        RuleAction::Allow => "allow (own provider)".into(),
        RuleAction::Reroute { provider } => format!("reroute -> {provider}"),
        RuleAction::Chain { chain } => format!("chain -> {chain}"),
        RuleAction::Modify { patch, rows } => {
            let mut patch = patch.clone();
            for row in rows {
                crate::plan::set_at(&mut patch, &row.at, Some(row.value.to_string().into()));
            }
            format!("modify {patch}")
        }
        RuleAction::Dedup { ttl_ms, by } => {
            let key = by
                .as_ref()
                .map_or("dedup_key or id".to_string(), |p| p.to_string());
            format!("dedup within {} by {key}", duration_text(*ttl_ms))
        }
        RuleAction::Throttle {
            limit,
            window_ms,
            by,
        } => {
            let key = by.as_ref().map_or(String::new(), |p| format!(" by {p}"));
            format!("throttle {limit} per {}{key}", duration_text(*window_ms))
        }
        RuleAction::Group {
            by,
            wait_ms,
            max,
            to,
        } => {
            let paths = by
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let mut text = format!("group by {paths} wait {}", duration_text(*wait_ms));
            if let Some(max) = max {
                let _ = write!(text, " max {max}");
            }
            let _ = write!(text, " -> {}", to.as_deref().unwrap_or("own provider"));
            text
        }
        RuleAction::Schedule { delay_ms } => format!("schedule after {}", duration_text(*delay_ms)),
    }
}

/// The rule evaluation order table, as the seed's guide prints it, plus each rule's condition.
pub fn text(plan: &Plan) -> String {
    let rows: Vec<[String; 5]> = plan
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            [
                (i + 1).to_string(),
                rule.priority.to_string(),
                rule.name.clone(),
                format!("{}:{}", rule.origin.file, rule.origin.line),
                action_text(&rule.action),
            ]
        })
        .collect();
    let header = ["#", "Priority", "Rule", "File", "Action"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::from("|");
        for (cell, w) in cells.iter().zip(widths) {
            let _ = write!(out, " {cell:<w$} |");
        }
        out.push('\n');
        out
    };
    let mut out =
        String::from("Rule evaluation order (ascending priority; ties keep source order)\n\n");
    out.push_str(&line(&header.map(String::from)));
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push_str(
        "\nTerminal: suppress, deny, allow, reroute, chain. Passing on: dedup, throttle, modify.\n",
    );
    out.push_str(
        "Holding, then going on: schedule (resumes at the next rule), group (flushes one batch).\n",
    );
    if !plan.tables.is_empty() {
        out.push_str("\nTables (each action reads the rows as of its event time)\n");
        for table in &plan.tables {
            let _ = writeln!(
                out,
                "  {} key {} from {}",
                table.name,
                table.key,
                table_source(&table.source)
            );
        }
        out.push_str("\nJoins (one lookup per action, before the rules)\n");
        for lookup in plan.lookups() {
            let _ = writeln!(
                out,
                "  {}[{}]: read by {}",
                lookup.table,
                lookup.key,
                readers(plan, &lookup).join(", ")
            );
        }
    }
    if !plan.chains.is_empty() {
        out.push_str("\nChains\n");
        for chain in &plan.chains {
            let _ = writeln!(
                out,
                "  {} (timeout {})",
                chain.name,
                duration_text(chain.timeout_ms)
            );
            for (i, step) in chain.steps.iter().enumerate() {
                let run = match &step.run {
                    StepRun::Call {
                        provider,
                        action_type,
                        ..
                    } => format!("call {provider} {action_type}"),
                    StepRun::SubChain { chain } => format!("run {chain}"),
                };
                let _ = writeln!(out, "    {}. {} {run}", i + 1, step.name);
                for branch in &step.branches {
                    let _ = writeln!(
                        out,
                        "       if {} then {}",
                        branch_text(branch),
                        branch.target
                    );
                }
                if let Some(next) = &step.default_next {
                    let _ = writeln!(out, "       next {next}");
                }
            }
        }
    }
    out
}

fn table_source(source: &TableSource) -> String {
    match source {
        TableSource::File { path } => format!("file {path}"),
        TableSource::Kafka(kafka) => format!("kafka topic {}", kafka.topic),
    }
}

/// Where a lookup's rows are read: `rule NAME (condition)`, `rule NAME (modify)`, `chain
/// NAME step STEP`.
fn readers(plan: &Plan, lookup: &Lookup) -> Vec<String> {
    let reads = |paths: &[&RowPath]| paths.iter().any(|p| p.lookup == *lookup);
    let mut out = Vec::new();
    for rule in &plan.rules {
        let mut paths = Vec::new();
        if let Some(condition) = &rule.condition {
            condition.row_paths(&mut paths);
        }
        if reads(&paths) {
            out.push(format!("rule {} (condition)", rule.name));
        }
        if let RuleAction::Modify { rows, .. } = &rule.action {
            if rows.iter().any(|r| r.value.lookup == *lookup) {
                out.push(format!("rule {} (modify)", rule.name));
            }
        }
    }
    for chain in &plan.chains {
        for step in &chain.steps {
            if let StepRun::Call { rows, .. } = &step.run {
                if rows.iter().any(|r| r.value.lookup == *lookup) {
                    out.push(format!("chain {} step {}", chain.name, step.name));
                }
            }
        }
    }
    out
}

fn branch_text(branch: &crate::plan::Branch) -> String {
    let field = match &branch.field {
        BranchField::Success => "success".to_string(),
        BranchField::Body { path } => std::iter::once("body".to_string())
            .chain(path.iter().map(|s| match s {
                crate::plan::PathSegment::Key(k) => k.clone(),
                crate::plan::PathSegment::Index(i) => i.to_string(),
            }))
            .collect::<Vec<_>>()
            .join("."),
    };
    let op = match branch.op {
        BranchOp::Eq => "==",
        BranchOp::Ne => "!=",
        BranchOp::Gt => ">",
        BranchOp::Ge => ">=",
        BranchOp::Lt => "<",
        BranchOp::Le => "<=",
        BranchOp::Contains => "contains",
        BranchOp::Exists => "exists",
    };
    match &branch.value {
        Some(value) => format!("{field} {op} {value}"),
        None => format!("{field} {op}"),
    }
}

/// The plan as pretty JSON: exactly what the engine consumes.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("a plan is plain data and always serializes")
}

/// A graph described once and written as dot or Mermaid.
struct Graph {
    nodes: Vec<(String, String)>,
    edges: Vec<(String, String, Option<String>)>,
    /// Chains, each a cluster of step nodes.
    clusters: Vec<(String, Vec<(String, String)>)>,
}

fn node_id(kind: &str, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{kind}_{clean}")
}

fn graph(plan: &Plan) -> Graph {
    let mut g = Graph {
        nodes: Vec::new(),
        edges: Vec::new(),
        clusters: Vec::new(),
    };
    let source = match &plan.source {
        Source::None => "source: --input".to_string(),
        Source::Stdin => "source: stdin".to_string(),
        Source::File { path } => format!("source: file {path}"),
        Source::Kafka(k) => format!("source: kafka {}", k.topics.join(",")),
    };
    for (id, label) in [
        ("source", source.as_str()),
        ("decode", "decode + validate"),
        ("quota", "quota (per tenant)"),
        ("evaluate", "evaluate rules (one compiled evaluator)"),
        ("deliver", "deliver (providers)"),
        ("audit", "audit"),
    ] {
        g.nodes.push((id.to_string(), label.to_string()));
    }
    g.edges.push(("source".into(), "decode".into(), None));
    g.edges.push(("decode".into(), "quota".into(), None));
    g.edges
        .push(("decode".into(), "audit".into(), Some("rejected".into())));
    // The joins: each lookup reads its table's arrangement between quotas and the rules.
    let mut before_rules = "quota".to_string();
    for table in &plan.tables {
        g.nodes.push((
            node_id("table", &table.name),
            format!(
                "table {} by {} ({})",
                table.name,
                table.key,
                table_source(&table.source)
            ),
        ));
    }
    for (i, lookup) in plan.lookups().iter().enumerate() {
        let id = format!("lookup_{i}");
        g.nodes.push((
            id.clone(),
            format!("join {}[{}] as of event time", lookup.table, lookup.key),
        ));
        g.edges.push((before_rules, id.clone(), None));
        g.edges.push((
            node_id("table", &lookup.table),
            id.clone(),
            Some("rows".into()),
        ));
        before_rules = id;
    }
    g.edges.push((before_rules, "evaluate".into(), None));
    // One keyed operator per kind of stateful rule the plan uses; each loops back to evaluate.
    let mut kinds: Vec<&'static str> = Vec::new();
    for rule in &plan.rules {
        let kind = match rule.action {
            RuleAction::Dedup { .. } => "dedup",
            RuleAction::Throttle { .. } => "throttle",
            RuleAction::Group { .. } => "group",
            RuleAction::Schedule { .. } => "schedule",
            _ => continue,
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    for kind in kinds {
        let rules: Vec<&str> = plan
            .rules
            .iter()
            .filter(|r| r.action.keyword() == kind)
            .map(|r| r.name.as_str())
            .collect();
        g.nodes
            .push((kind.to_string(), format!("{kind}: {}", rules.join(", "))));
        g.edges.push(("evaluate".into(), kind.to_string(), None));
        let back = if kind == "group" {
            "deliver"
        } else {
            "evaluate"
        };
        let label = if kind == "group" { "flush" } else { "pass" };
        g.edges
            .push((kind.to_string(), back.into(), Some(label.into())));
        g.edges.push((kind.to_string(), "audit".into(), None));
    }
    g.edges.push((
        "evaluate".into(),
        "deliver".into(),
        Some("allow / reroute / no match".into()),
    ));
    g.edges.push((
        "evaluate".into(),
        "audit".into(),
        Some("suppress / deny".into()),
    ));
    g.edges.push(("deliver".into(), "audit".into(), None));
    for provider in &plan.providers {
        let id = node_id("provider", &provider.name);
        g.nodes.push((
            id.clone(),
            format!("{} ({})", provider.name, provider.kind.type_name()),
        ));
        g.edges.push(("deliver".into(), id, None));
    }
    for chain in &plan.chains {
        let steps = chain
            .steps
            .iter()
            .map(|s| {
                (
                    node_id(&format!("step_{}", chain.name), &s.name),
                    s.name.clone(),
                )
            })
            .collect();
        g.clusters.push((chain.name.clone(), steps));
        let started_by_rule = plan.rules.iter().any(|r| chain_started_by(r, &chain.name));
        if let (true, Some(first)) = (started_by_rule, chain.steps.first()) {
            let first_id = node_id(&format!("step_{}", chain.name), &first.name);
            g.edges
                .push(("evaluate".into(), first_id, Some("chain".into())));
        }
        for (i, step) in chain.steps.iter().enumerate() {
            let id = node_id(&format!("step_{}", chain.name), &step.name);
            match &step.run {
                StepRun::Call { provider, .. } => g.edges.push((
                    id.clone(),
                    node_id("provider", provider),
                    Some("call".into()),
                )),
                StepRun::SubChain { chain: sub } => {
                    if let Some(first) = plan.chain(sub).and_then(|c| c.steps.first()) {
                        let target = node_id(&format!("step_{sub}"), &first.name);
                        g.edges.push((id.clone(), target, Some("run".into())));
                    }
                }
            }
            let step_id = |name: &str| node_id(&format!("step_{}", chain.name), name);
            for branch in &step.branches {
                g.edges.push((
                    id.clone(),
                    step_id(&branch.target),
                    Some(branch_text(branch)),
                ));
            }
            let next = step
                .default_next
                .clone()
                .or_else(|| chain.steps.get(i + 1).map(|s| s.name.clone()));
            if let Some(next) = next {
                let label = if step.default_next.is_some() {
                    "next"
                } else {
                    "then"
                };
                g.edges
                    .push((id.clone(), step_id(&next), Some(label.into())));
            }
        }
    }
    g
}

fn chain_started_by(rule: &Rule, chain: &str) -> bool {
    matches!(&rule.action, RuleAction::Chain { chain: c } if c == chain)
}

fn quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The dataflow and each chain's step graph, for Graphviz.
pub fn dot(plan: &Plan) -> String {
    let g = graph(plan);
    let mut out = String::from("digraph acteon {\n  rankdir=LR;\n  node [shape=box];\n");
    for (id, label) in &g.nodes {
        let _ = writeln!(out, "  {id} [label=\"{}\"];", quoted(label));
    }
    for (chain, steps) in &g.clusters {
        let _ = writeln!(out, "  subgraph cluster_{} {{", node_id("chain", chain));
        let _ = writeln!(out, "    label=\"chain {}\";", quoted(chain));
        for (id, label) in steps {
            let _ = writeln!(out, "    {id} [label=\"{}\"];", quoted(label));
        }
        out.push_str("  }\n");
    }
    for (from, to, label) in &g.edges {
        match label {
            Some(label) => {
                let _ = writeln!(out, "  {from} -> {to} [label=\"{}\"];", quoted(label));
            }
            None => {
                let _ = writeln!(out, "  {from} -> {to};");
            }
        }
    }
    out.push_str("}\n");
    out
}

/// The same graph as a Mermaid flowchart.
pub fn mermaid(plan: &Plan) -> String {
    let g = graph(plan);
    let label = |text: &str| text.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for (id, text) in &g.nodes {
        let _ = writeln!(out, "  {id}[\"{}\"]", label(text));
    }
    for (chain, steps) in &g.clusters {
        let _ = writeln!(
            out,
            "  subgraph {}[\"chain {}\"]",
            node_id("chain", chain),
            label(chain)
        );
        for (id, text) in steps {
            let _ = writeln!(out, "    {id}[\"{}\"]", label(text));
        }
        out.push_str("  end\n");
    }
    for (from, to, text) in &g.edges {
        match text {
            Some(text) => {
                let _ = writeln!(out, "  {from} -->|\"{}\"| {to}", label(text));
            }
            None => {
                let _ = writeln!(out, "  {from} --> {to}");
            }
        }
    }
    out
}
