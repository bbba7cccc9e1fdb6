//! `GET /v1/plan`: the plan deciding now, as the console shows it: the rules in evaluation
//! order (each with its kind, priority, scope, condition as written, and the file and line it
//! comes from), the chains with their steps and branches, the providers with their breakers,
//! the quotas, `acteon explain`'s table, and the dataflow as nodes and edges.
//!
//! The plan is the same for every caller (it holds no tenant's data), so it is not scoped.

use crate::routes::Shared;
use acteon_dsl::explain;
use acteon_dsl::plan::{BranchField, BranchOp, Condition, PathSegment, Plan, RuleAction, StepRun};
use axum::Json;
use serde_json::{json, Value};

pub async fn plan(state: Shared) -> Json<Value> {
    let (generation, plan) = match state.engine.current() {
        Some(generation) => (Some(generation.number), generation.plan.clone()),
        None => (None, state.plan()),
    };
    let mut answer = describe(&plan);
    answer["generation"] = json!(generation);
    answer["script"] = json!(state.config.script.display().to_string());
    Json(answer)
}

/// Everything but the generation: a function of the plan alone.
pub fn describe(plan: &Plan) -> Value {
    let rules: Vec<Value> = plan
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let target = match &rule.action {
                RuleAction::Reroute { provider } => Some(provider.clone()),
                RuleAction::Chain { chain } => Some(chain.clone()),
                RuleAction::Group { to, .. } => to.clone(),
                _ => None,
            };
            json!({
                "index": index,
                "name": rule.name,
                "priority": rule.priority,
                "kind": rule.action.keyword(),
                "terminal": rule.action.is_terminal(),
                "action": explain::action_text(&rule.action),
                "target": target,
                "scope": rule.scope,
                "condition": rule.condition.as_ref().map(condition_text),
                "file": rule.origin.file,
                "line": rule.origin.line,
                "settings": rule.action,
            })
        })
        .collect();
    let chains: Vec<Value> = plan
        .chains
        .iter()
        .map(|chain| {
            let steps: Vec<Value> = chain
                .steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    let (run, provider, sub_chain) = match &step.run {
                        StepRun::Call {
                            provider,
                            action_type,
                            ..
                        } => (
                            format!("call {provider} {action_type}"),
                            Some(provider),
                            None,
                        ),
                        StepRun::SubChain { chain } => (format!("run {chain}"), None, Some(chain)),
                    };
                    // Where the chain goes when no branch holds: `next`, else the following step.
                    let next = step
                        .default_next
                        .clone()
                        .or_else(|| chain.steps.get(i + 1).map(|s| s.name.clone()));
                    json!({
                        "name": step.name,
                        "run": run,
                        "provider": provider,
                        "sub_chain": sub_chain,
                        "branches": step.branches.iter().map(|b| json!({
                            "condition": branch_text(&b.field, b.op, b.value.as_ref()),
                            "target": b.target,
                        })).collect::<Vec<_>>(),
                        "next": next,
                        "on_failure": step.on_failure,
                        "retry": step.retry,
                    })
                })
                .collect();
            json!({ "name": chain.name, "timeout_ms": chain.timeout_ms, "steps": steps })
        })
        .collect();
    let providers: Vec<Value> = plan
        .providers
        .iter()
        .map(|provider| {
            json!({
                "name": provider.name,
                "type": provider.kind.type_name(),
                "breaker": plan.breakers.iter().find(|b| b.provider == provider.name),
            })
        })
        .collect();
    json!({
        "rules": rules,
        "chains": chains,
        "providers": providers,
        "quotas": plan.quotas,
        // What the audit removes, so the console can show a removed value as redacted.
        "audit": { "redact": plan.audit.redact, "placeholder": plan.audit.placeholder },
        "explain": explain::text(plan),
        "dataflow": dataflow(plan),
    })
}

/// A condition as a script writes it: `or` binds loosest, then `and`, then `not`.
pub fn condition_text(condition: &Condition) -> String {
    written(condition, 0)
}

/// `context`: how tightly the surrounding operator binds (0 none, 1 `or`, 2 `and`, 3 `not`);
/// a looser operator inside a tighter one is put in parentheses.
fn written(condition: &Condition, context: u8) -> String {
    let (text, binding) = match condition {
        Condition::Any { of } => (joined(of, " or ", 1), 1),
        Condition::All { of } => (joined(of, " and ", 2), 2),
        Condition::Not { of } => (format!("not {}", written(of, 3)), 3),
        Condition::Compare { field, cmp, value } => {
            (format!("{field} {} {value}", cmp.symbol()), 4)
        }
        Condition::CompareRow { field, cmp, row } => (format!("{field} {} {row}", cmp.symbol()), 4),
        Condition::In { field, values } => {
            let values: Vec<String> = values.iter().map(Value::to_string).collect();
            (format!("{field} in [{}]", values.join(", ")), 4)
        }
        Condition::Contains { field, value } => (format!("{field} contains {value}"), 4),
        Condition::StartsWith { field, value } => {
            (format!("{field} starts_with {}", json!(value)), 4)
        }
        Condition::EndsWith { field, value } => (format!("{field} ends_with {}", json!(value)), 4),
        Condition::Matches { field, pattern } => (format!("{field} matches /{pattern}/"), 4),
        Condition::Exists { field } => (format!("{field} exists"), 4),
    };
    if binding < context {
        format!("({text})")
    } else {
        text
    }
}

fn joined(of: &[Condition], separator: &str, binding: u8) -> String {
    // Each child is read as if bound one step tighter than its parent: an `or` inside an `and`
    // gets parentheses, an `and` inside an `or` needs none.
    of.iter()
        .map(|c| written(c, binding + 1))
        .collect::<Vec<_>>()
        .join(separator)
}

/// A chain branch's test, as written after `if`.
fn branch_text(field: &BranchField, op: BranchOp, value: Option<&Value>) -> String {
    let field = match field {
        BranchField::Success => "success".to_string(),
        BranchField::Body { path } => std::iter::once("body".to_string())
            .chain(path.iter().map(|s| match s {
                PathSegment::Key(k) => k.clone(),
                PathSegment::Index(i) => i.to_string(),
            }))
            .collect::<Vec<_>>()
            .join("."),
    };
    let op = match op {
        BranchOp::Eq => "==",
        BranchOp::Ne => "!=",
        BranchOp::Gt => ">",
        BranchOp::Ge => ">=",
        BranchOp::Lt => "<",
        BranchOp::Le => "<=",
        BranchOp::Contains => "contains",
        BranchOp::Exists => "exists",
    };
    match value {
        Some(value) => format!("{field} {op} {value}"),
        None => format!("{field} {op}"),
    }
}

/// The dataflow the plan runs as (the graph `acteon explain --format dot` draws, without the
/// chains' steps, which the console draws per chain): stages in order, one keyed operator per
/// kind of stateful rule, and the providers.
fn dataflow(plan: &Plan) -> Value {
    let mut nodes = vec![
        json!({ "id": "source", "label": "source", "kind": "stage" }),
        json!({ "id": "decode", "label": "decode + validate", "kind": "stage" }),
        json!({ "id": "quota", "label": "quota (per tenant)", "kind": "stage" }),
        json!({ "id": "evaluate", "label": "evaluate rules", "kind": "stage" }),
    ];
    let mut edges = vec![
        json!({ "from": "source", "to": "decode" }),
        json!({ "from": "decode", "to": "quota" }),
        json!({ "from": "quota", "to": "evaluate" }),
    ];
    for kind in ["dedup", "throttle", "group", "schedule"] {
        let rules: Vec<&str> = plan
            .rules
            .iter()
            .filter(|r| r.action.keyword() == kind)
            .map(|r| r.name.as_str())
            .collect();
        if rules.is_empty() {
            continue;
        }
        nodes.push(json!({ "id": kind, "label": kind, "kind": "keyed", "rules": rules }));
        edges.push(json!({ "from": "evaluate", "to": kind }));
        // A group's flush goes to delivery; the other gates let an action on to the next rule.
        edges.push(match kind {
            "group" => json!({ "from": kind, "to": "deliver", "label": "flush" }),
            _ => json!({ "from": kind, "to": "evaluate", "label": "pass" }),
        });
    }
    if !plan.chains.is_empty() {
        let names: Vec<&str> = plan.chains.iter().map(|c| c.name.as_str()).collect();
        nodes.push(json!({ "id": "chains", "label": "chains", "kind": "keyed", "rules": names }));
        edges.push(json!({ "from": "evaluate", "to": "chains", "label": "chain" }));
        edges.push(json!({ "from": "chains", "to": "deliver", "label": "steps" }));
    }
    nodes.push(json!({ "id": "deliver", "label": "deliver", "kind": "stage" }));
    edges.push(json!({ "from": "evaluate", "to": "deliver", "label": "allow / reroute" }));
    for provider in &plan.providers {
        let id = format!("provider:{}", provider.name);
        nodes.push(json!({
            "id": id,
            "label": format!("{} ({})", provider.name, provider.kind.type_name()),
            "kind": "provider",
        }));
        edges.push(json!({ "from": "deliver", "to": id }));
    }
    nodes.push(json!({ "id": "audit", "label": "audit", "kind": "stage" }));
    edges.push(json!({ "from": "deliver", "to": "audit" }));
    edges.push(json!({ "from": "evaluate", "to": "audit", "label": "suppress / deny" }));
    json!({ "nodes": nodes, "edges": edges })
}

#[cfg(test)]
mod tests {
    use super::*;
    use acteon_dsl::plan::{Comparison, FieldPath, FieldRoot};

    fn field(root: FieldRoot, key: Option<&str>) -> FieldPath {
        FieldPath {
            root,
            segments: key
                .map(|k| PathSegment::Key(k.into()))
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn conditions_read_as_written_with_grouping_where_it_matters() {
        let value = || field(FieldRoot::Payload, Some("value"));
        let condition = Condition::All {
            of: vec![
                Condition::Compare {
                    field: field(FieldRoot::Tenant, None).into(),
                    cmp: Comparison::Eq,
                    value: json!("hq"),
                },
                Condition::Any {
                    of: vec![
                        Condition::Compare {
                            field: value().into(),
                            cmp: Comparison::Gt,
                            value: json!(85),
                        },
                        Condition::Not {
                            of: Box::new(Condition::Exists {
                                field: value().into(),
                            }),
                        },
                    ],
                },
            ],
        };
        assert_eq!(
            condition_text(&condition),
            r#"tenant == "hq" and (payload.value > 85 or not payload.value exists)"#
        );
        let matches = Condition::Matches {
            field: field(FieldRoot::Payload, Some("device_id")).into(),
            pattern: "^temp-\\d+$".into(),
        };
        assert_eq!(
            condition_text(&matches),
            r"payload.device_id matches /^temp-\d+$/"
        );
    }
}
