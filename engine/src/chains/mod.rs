//! Chains compiled once per plan: step templates parsed, branch tests built, step and chain
//! names resolved to indexes; and the shared store of chain statuses.
//!
//! - [`template`]: `{{...}}` payload templates.
//! - [`status`]: [`status::ChainStore`], every chain's status, and cancellation.
//!
//! The chain operator (`operators::chain`) runs the compiled chains.

pub mod status;
pub mod template;

use crate::action::Action;
use crate::eval::{walk, Constant, Field, PlanPaths, Test};
use crate::name::Name;
use crate::provider::CallResult;
use acteon_dsl::plan::{
    Branch, BranchField, BranchOp, Comparison, OnFailure, PathSegment, Plan, Retry, StepRun,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use template::{Template, TemplateError};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("chain `{chain}`, step `{step}`: {source}")]
    Template {
        chain: String,
        step: String,
        source: TemplateError,
    },
    #[error("chain `{chain}`, step `{step}`: no step or chain named `{name}`")]
    Unknown {
        chain: String,
        step: String,
        name: String,
    },
}

/// Every chain of a plan, compiled.
#[derive(Debug, Clone)]
pub struct ChainBook {
    chains: Vec<CompiledChain>,
    by_name: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
pub struct CompiledChain {
    pub name: Name,
    pub timeout_ms: u64,
    pub steps: Vec<CompiledStep>,
}

#[derive(Debug, Clone)]
pub struct CompiledStep {
    pub name: Name,
    pub run: CompiledRun,
    branches: Vec<CompiledBranch>,
    default_next: Option<usize>,
    pub on_failure: OnFailure,
    pub retry: Option<Retry>,
}

#[derive(Debug, Clone)]
pub enum CompiledRun {
    Call {
        provider: Name,
        action_type: Name,
        payload: Template,
    },
    /// The index of the chain to run.
    SubChain(usize),
}

#[derive(Debug, Clone)]
struct CompiledBranch {
    /// `None`: the result's `success`; else the path below its body.
    body: Option<Vec<PathSegment>>,
    test: Test,
    target: usize,
}

impl ChainBook {
    pub fn new(plan: &Plan) -> Result<ChainBook, ChainError> {
        let paths = PlanPaths::of(plan);
        let by_name: HashMap<String, usize> = plan
            .chains
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        let mut chains = Vec::with_capacity(plan.chains.len());
        for chain in &plan.chains {
            let step_index = |name: &str| chain.step_index(name);
            let mut steps = Vec::with_capacity(chain.steps.len());
            for step in &chain.steps {
                let unknown = |name: &str| ChainError::Unknown {
                    chain: chain.name.clone(),
                    step: step.name.clone(),
                    name: name.to_owned(),
                };
                let find = |name: &str| step_index(name).ok_or_else(|| unknown(name));
                let run = match &step.run {
                    StepRun::Call {
                        provider,
                        action_type,
                        payload,
                        rows,
                    } => CompiledRun::Call {
                        provider: Name::new(provider),
                        action_type: Name::new(action_type),
                        payload: Template::compile(payload, rows, &step_index, &paths).map_err(
                            |source| ChainError::Template {
                                chain: chain.name.clone(),
                                step: step.name.clone(),
                                source,
                            },
                        )?,
                    },
                    StepRun::SubChain { chain: name } => {
                        CompiledRun::SubChain(*by_name.get(name).ok_or_else(|| unknown(name))?)
                    }
                };
                steps.push(CompiledStep {
                    name: Name::new(&step.name),
                    run,
                    branches: step
                        .branches
                        .iter()
                        .map(|b| Ok(compile_branch(b, find(&b.target)?)))
                        .collect::<Result<_, ChainError>>()?,
                    default_next: step.default_next.as_deref().map(find).transpose()?,
                    on_failure: step.on_failure,
                    retry: step.retry,
                });
            }
            chains.push(CompiledChain {
                name: Name::new(&chain.name),
                timeout_ms: chain.timeout_ms,
                steps,
            });
        }
        Ok(ChainBook { chains, by_name })
    }

    pub fn chain(&self, index: usize) -> &CompiledChain {
        &self.chains[index]
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

fn compile_branch(branch: &Branch, target: usize) -> CompiledBranch {
    let constant = || Constant::new(branch.value.as_ref().unwrap_or(&Value::Null));
    let compare = |cmp| Test::Compare(cmp, constant());
    CompiledBranch {
        body: match &branch.field {
            BranchField::Success => None,
            BranchField::Body { path } => Some(path.clone()),
        },
        test: match branch.op {
            BranchOp::Eq => compare(Comparison::Eq),
            BranchOp::Ne => compare(Comparison::Ne),
            BranchOp::Gt => compare(Comparison::Gt),
            BranchOp::Ge => compare(Comparison::Ge),
            BranchOp::Lt => compare(Comparison::Lt),
            BranchOp::Le => compare(Comparison::Le),
            BranchOp::Contains => Test::Contains(constant()),
            BranchOp::Exists => Test::Exists,
        },
        target,
    }
}

impl CompiledStep {
    /// The step after step `index` given its result: the first branch that holds, else
    /// `next`, else the following step; `None` when the chain is complete.
    pub fn next(&self, index: usize, steps: usize, result: &CallResult) -> Option<usize> {
        let success = Value::Bool(result.success);
        let holds = |branch: &CompiledBranch| {
            let field = match &branch.body {
                None => Some(&success),
                Some(path) => walk(&result.body, path),
            };
            field.is_some_and(|value| branch.test.holds(&Field::Json(value)))
        };
        self.branches
            .iter()
            .find(|b| holds(b))
            .map(|b| b.target)
            .or(self.default_next)
            .or_else(|| (index + 1 < steps).then_some(index + 1))
    }
}

/// A started chain's id: unique per action (and per parent step for a sub-chain, which the
/// checker guarantees runs at most once per parent), readable, and the same on every run.
pub fn chain_id(origin: &Action, chain: &str) -> Arc<str> {
    format!("{}/{chain}", origin.id).into()
}

/// The idempotency key of a chain's step: the same for the step's retries and for a replay
/// of the chain after a restart, different for every step.
pub fn step_key(chain_id: &str, step: usize) -> Arc<str> {
    format!("{chain_id}#{step}").into()
}

/// A sub-chain's id below its parent's.
pub fn sub_chain_id(parent: &str, step: &str) -> Arc<str> {
    format!("{parent}/{step}").into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use acteon_dsl::plan::{Chain, Step};
    use serde_json::json;

    fn branch(field: BranchField, op: BranchOp, value: Option<Value>, target: &str) -> Branch {
        Branch {
            field,
            op,
            value,
            target: target.into(),
        }
    }

    fn body(path: &[&str]) -> BranchField {
        BranchField::Body {
            path: path.iter().map(|p| PathSegment::Key((*p).into())).collect(),
        }
    }

    fn book(branches: Vec<Branch>, default_next: Option<&str>) -> ChainBook {
        let step = |name: &str| Step {
            name: name.into(),
            run: StepRun::Call {
                provider: "p".into(),
                action_type: "t".into(),
                payload: json!({}),
                rows: Vec::new(),
            },
            branches: Vec::new(),
            default_next: None,
            on_failure: OnFailure::Abort,
            retry: None,
        };
        let mut first = step("first");
        first.branches = branches;
        first.default_next = default_next.map(Into::into);
        let plan = Plan {
            chains: vec![Chain {
                name: "c".into(),
                timeout_ms: 1_000,
                steps: vec![first, step("second"), step("third"), step("fourth")],
            }],
            ..Plan::default()
        };
        ChainBook::new(&plan).unwrap()
    }

    fn result(success: bool, body: Value) -> CallResult {
        CallResult {
            success,
            body,
            error: None,
            attempts: 1,
            duration_ms: 0,
            delivered_by: None,
            failed_over: None,
        }
    }

    fn next_of(book: &ChainBook, r: &CallResult) -> Option<usize> {
        book.chain(0).steps[0].next(0, 4, r)
    }

    #[test]
    fn every_operator_picks_its_branch() {
        let cases = [
            (
                BranchOp::Eq,
                json!("hot"),
                json!({ "v": "hot" }),
                json!({ "v": "cold" }),
            ),
            (
                BranchOp::Ne,
                json!("hot"),
                json!({ "v": "cold" }),
                json!({ "v": "hot" }),
            ),
            (BranchOp::Gt, json!(5), json!({ "v": 6 }), json!({ "v": 5 })),
            (
                BranchOp::Ge,
                json!(5),
                json!({ "v": 5 }),
                json!({ "v": 4.5 }),
            ),
            (BranchOp::Lt, json!(5), json!({ "v": 4 }), json!({ "v": 5 })),
            (BranchOp::Le, json!(5), json!({ "v": 5 }), json!({ "v": 6 })),
            (
                BranchOp::Contains,
                json!("ar"),
                json!({ "v": "alarm" }),
                json!({ "v": "ok" }),
            ),
            (
                BranchOp::Contains,
                json!(2),
                json!({ "v": [1, 2] }),
                json!({ "v": [3] }),
            ),
            (
                BranchOp::Exists,
                json!(null),
                json!({ "v": 0 }),
                json!({ "w": 0 }),
            ),
        ];
        for (op, value, holds, fails) in cases {
            let value = (op != BranchOp::Exists).then_some(value);
            let book = book(vec![branch(body(&["v"]), op, value, "third")], None);
            assert_eq!(next_of(&book, &result(true, holds)), Some(2), "{op:?}");
            assert_eq!(next_of(&book, &result(true, fails)), Some(1), "{op:?}");
        }
    }

    #[test]
    fn success_whole_body_and_nested_paths() {
        let book = book(
            vec![
                branch(
                    BranchField::Success,
                    BranchOp::Eq,
                    Some(json!(false)),
                    "fourth",
                ),
                branch(body(&[]), BranchOp::Eq, Some(json!("raw")), "third"),
                branch(body(&["a", "b"]), BranchOp::Eq, Some(json!(1)), "third"),
            ],
            None,
        );
        assert_eq!(next_of(&book, &result(false, json!({}))), Some(3));
        assert_eq!(next_of(&book, &result(true, json!("raw"))), Some(2));
        assert_eq!(
            next_of(&book, &result(true, json!({ "a": { "b": 1 } }))),
            Some(2)
        );
        assert_eq!(next_of(&book, &result(true, json!({ "a": 1 }))), Some(1));
    }

    #[test]
    fn the_first_branch_that_holds_wins_then_next_then_fall_through() {
        let branches = vec![
            branch(body(&["v"]), BranchOp::Gt, Some(json!(1)), "fourth"),
            branch(body(&["v"]), BranchOp::Gt, Some(json!(0)), "third"),
        ];
        let with_next = book(branches.clone(), Some("fourth"));
        assert_eq!(
            next_of(&with_next, &result(true, json!({ "v": 2 }))),
            Some(3)
        );
        assert_eq!(
            next_of(&with_next, &result(true, json!({ "v": 1 }))),
            Some(2)
        );
        assert_eq!(
            next_of(&with_next, &result(true, json!({ "v": 0 }))),
            Some(3)
        );
        let without = book(branches, None);
        assert_eq!(next_of(&without, &result(true, json!({ "v": 0 }))), Some(1));
        assert_eq!(
            without.chain(0).steps[3].next(3, 4, &result(true, json!({}))),
            None
        );
    }
}
