//! Compiled conditions: every rule of a plan in one evaluator.
//!
//! Field paths become accessors, regexes and constants are built once, and the tests of all
//! rules go into one predicate table: a test written in many rules is evaluated at most once
//! per action (memoized until a `modify` changes the payload). An index built with the
//! evaluator ([`index`]) finds the rules an action can match by hash lookups on the fields
//! rules require to equal a string, so the cost of an action grows with the rules it could
//! match, not with the rules in the plan.

mod field;
mod index;
mod merge_patch;
mod predicate;

pub use field::{walk, Accessor, Field, PlanPaths, TablePaths, UPDATED_AT};
pub use merge_patch::merge_patch;
pub use predicate::{Constant, Test};

use crate::action::Action;
use crate::name::Name;
use crate::payload::Payload;
use acteon_dsl::plan::{Condition, PathSegment, Plan, RuleAction};
use index::{Cursors, RuleIndex};
use predicate::Predicate;
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;

/// What a rule does, with its field paths compiled.
#[derive(Debug, Clone)]
pub enum RuleKind {
    Suppress,
    Deny,
    Allow,
    Reroute {
        provider: Name,
    },
    Chain {
        chain: Name,
    },
    Modify {
        patch: Value,
        /// Rows' values put into the patch per action: where, and what.
        rows: Vec<(Vec<PathSegment>, Accessor)>,
    },
    Dedup {
        ttl_ms: u64,
        by: Option<Accessor>,
    },
    Throttle {
        limit: u64,
        window_ms: u64,
        by: Option<Accessor>,
    },
    Group {
        by: Vec<Accessor>,
        wait_ms: u64,
        max: Option<u64>,
        to: Option<Name>,
    },
    Schedule {
        delay_ms: u64,
    },
}

/// The stateful rule kinds: each is decided by its own keyed operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Dedup,
    Throttle,
    Group,
    Schedule,
}

impl RuleKind {
    pub fn gate(&self) -> Option<Gate> {
        match self {
            RuleKind::Dedup { .. } => Some(Gate::Dedup),
            RuleKind::Throttle { .. } => Some(Gate::Throttle),
            RuleKind::Group { .. } => Some(Gate::Group),
            RuleKind::Schedule { .. } => Some(Gate::Schedule),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub name: Name,
    namespace: Option<String>,
    tenant: Option<String>,
    condition: Option<Node>,
    pub kind: RuleKind,
}

#[derive(Debug, Clone)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Predicate(usize),
}

/// Where evaluation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluation {
    /// A terminal rule (suppress, deny, allow, reroute, chain) decided.
    Terminal { rule: u32 },
    /// A stateful rule must decide before evaluation can go on past it.
    Gate { rule: u32, gate: Gate },
    /// No terminal rule matched: the action runs on its own provider.
    NoMatch,
}

/// Per-worker memo of predicate results for the action being evaluated.
#[derive(Debug, Default)]
pub struct Scratch {
    generation: u64,
    memo: Vec<(u64, bool)>,
    /// The index's buckets for the action being evaluated; kept to reuse the allocation.
    cursors: Cursors,
}

impl Scratch {
    fn begin(&mut self, predicates: usize) {
        self.generation += 1;
        if self.memo.len() < predicates {
            self.memo.resize(predicates, (0, false));
        }
    }
}

#[derive(Debug, Clone)]
pub struct Evaluator {
    rules: Vec<CompiledRule>,
    predicates: Vec<Predicate>,
    index: RuleIndex,
    /// The payload paths the plan reads: decoding takes their values out of every payload.
    paths: PlanPaths,
}

impl Evaluator {
    /// Compiles the plan's rules. The plan is checked, so regexes compile; one that does not
    /// (a plan built by hand) makes its test false.
    pub fn new(plan: &Plan) -> Evaluator {
        let paths = PlanPaths::of(plan);
        let mut table = PredicateTable {
            predicates: Vec::new(),
            index: HashMap::new(),
            paths: &paths,
        };
        let rules = plan
            .rules
            .iter()
            .map(|rule| CompiledRule {
                name: Name::new(&rule.name),
                namespace: rule.scope.namespace.clone(),
                tenant: rule.scope.tenant.clone(),
                condition: rule.condition.as_ref().map(|c| table.node(c)),
                kind: match &rule.action {
                    RuleAction::Suppress => RuleKind::Suppress,
                    RuleAction::Deny => RuleKind::Deny,
                    RuleAction::Allow => RuleKind::Allow,
                    RuleAction::Reroute { provider } => RuleKind::Reroute {
                        provider: Name::new(provider),
                    },
                    RuleAction::Chain { chain } => RuleKind::Chain {
                        chain: Name::new(chain),
                    },
                    RuleAction::Modify { patch, rows } => RuleKind::Modify {
                        patch: patch.clone(),
                        rows: rows
                            .iter()
                            .map(|r| (r.at.clone(), Accessor::row(&r.value, &paths)))
                            .collect(),
                    },
                    RuleAction::Dedup { ttl_ms, by } => RuleKind::Dedup {
                        ttl_ms: *ttl_ms,
                        by: by.as_ref().map(|by| Accessor::compile(by, &paths)),
                    },
                    RuleAction::Throttle {
                        limit,
                        window_ms,
                        by,
                    } => RuleKind::Throttle {
                        limit: *limit,
                        window_ms: *window_ms,
                        by: by.as_ref().map(|by| Accessor::compile(by, &paths)),
                    },
                    RuleAction::Group {
                        by,
                        wait_ms,
                        max,
                        to,
                    } => RuleKind::Group {
                        by: by.iter().map(|by| Accessor::compile(by, &paths)).collect(),
                        wait_ms: *wait_ms,
                        max: *max,
                        to: to.as_deref().map(Name::new),
                    },
                    RuleAction::Schedule { delay_ms } => RuleKind::Schedule {
                        delay_ms: *delay_ms,
                    },
                },
            })
            .collect::<Vec<_>>();
        let predicates = table.predicates;
        let index = RuleIndex::new(&rules, &predicates);
        Evaluator {
            rules,
            predicates,
            index,
            paths,
        }
    }

    /// The payload paths the plan reads.
    pub fn paths(&self) -> &PlanPaths {
        &self.paths
    }

    pub fn rule(&self, index: u32) -> &CompiledRule {
        &self.rules[index as usize]
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Distinct tests in the predicate table.
    pub fn predicate_count(&self) -> usize {
        self.predicates.len()
    }

    /// Runs the rules from `start` on: scope first, then the condition. `modify` patches the
    /// payload in place and evaluation goes on.
    pub fn evaluate(&self, action: &mut Action, start: u32, scratch: &mut Scratch) -> Evaluation {
        // The cursors are moved out so the memo can be borrowed beside them, and put back to
        // keep their allocation for the next action.
        let mut cursors = std::mem::take(&mut scratch.cursors);
        let evaluation = self.evaluate_candidates(action, start, scratch, &mut cursors);
        scratch.cursors = cursors;
        evaluation
    }

    fn evaluate_candidates(
        &self,
        action: &mut Action,
        start: u32,
        scratch: &mut Scratch,
        cursors: &mut Cursors,
    ) -> Evaluation {
        scratch.begin(self.predicates.len());
        self.index.candidates(action, start, cursors);
        while let Some(rule_index) = self.index.next(cursors) {
            let rule = &self.rules[rule_index as usize];
            match self.decide(rule, rule_index, action, scratch) {
                Step::Skip => {}
                Step::Patched => {
                    if self.index.rebucket_after(rule_index) {
                        // The patch may have changed a field the buckets were chosen by.
                        self.index.candidates(action, rule_index + 1, cursors);
                    }
                }
                Step::Stop(evaluation) => return evaluation,
            }
        }
        Evaluation::NoMatch
    }

    /// Evaluation as a scan of every rule from `start`: what the index must agree with.
    #[cfg(test)]
    fn evaluate_linearly(
        &self,
        action: &mut Action,
        start: u32,
        scratch: &mut Scratch,
    ) -> Evaluation {
        scratch.begin(self.predicates.len());
        for (index, rule) in self.rules.iter().enumerate().skip(start as usize) {
            if let Step::Stop(evaluation) = self.decide(rule, index as u32, action, scratch) {
                return evaluation;
            }
        }
        Evaluation::NoMatch
    }

    /// One rule on the action: skipped (out of scope, condition false), applied (`modify`), or
    /// where evaluation stops.
    fn decide(
        &self,
        rule: &CompiledRule,
        rule_index: u32,
        action: &mut Action,
        scratch: &mut Scratch,
    ) -> Step {
        if !rule.in_scope(action) {
            return Step::Skip;
        }
        if let Some(condition) = &rule.condition {
            if !self.holds(condition, action, scratch) {
                return Step::Skip;
            }
        }
        match &rule.kind {
            RuleKind::Modify { patch, rows } => {
                let mut value = action.payload.value().clone();
                if rows.is_empty() {
                    merge_patch(&mut value, patch);
                } else {
                    merge_patch(&mut value, &row_patch(patch, rows, action));
                }
                action.payload = Payload::from_value(value, self.paths.set());
                // Memoized tests may have read the payload the patch just changed.
                scratch.begin(self.predicates.len());
                Step::Patched
            }
            kind => Step::Stop(match kind.gate() {
                Some(gate) => Evaluation::Gate {
                    rule: rule_index,
                    gate,
                },
                None => Evaluation::Terminal { rule: rule_index },
            }),
        }
    }

    fn holds(&self, node: &Node, action: &Action, scratch: &mut Scratch) -> bool {
        match node {
            Node::All(nodes) => nodes.iter().all(|n| self.holds(n, action, scratch)),
            Node::Any(nodes) => nodes.iter().any(|n| self.holds(n, action, scratch)),
            Node::Not(node) => !self.holds(node, action, scratch),
            Node::Predicate(index) => {
                let (generation, value) = scratch.memo[*index];
                if generation == scratch.generation {
                    return value;
                }
                let value = self.predicates[*index].holds(action);
                scratch.memo[*index] = (scratch.generation, value);
                value
            }
        }
    }
}

/// A patch with the rows' values of `action` put in their places; a missing value without a
/// default leaves its member out (a `null` would delete the payload's field).
fn row_patch(patch: &Value, rows: &[(Vec<PathSegment>, Accessor)], action: &Action) -> Value {
    let mut patch = patch.clone();
    for (at, accessor) in rows {
        let value = accessor.read(action).map(|field| field.to_json());
        acteon_dsl::plan::set_at(&mut patch, at, value);
    }
    patch
}

impl CompiledRule {
    fn in_scope(&self, action: &Action) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == &*action.namespace)
            && self.tenant.as_deref().is_none_or(|t| t == &*action.tenant)
    }
}

/// What one rule did to an action.
enum Step {
    Skip,
    Patched,
    Stop(Evaluation),
}

/// Builds the shared predicate table: equal tests get one slot.
struct PredicateTable<'p> {
    predicates: Vec<Predicate>,
    index: HashMap<String, usize>,
    paths: &'p PlanPaths,
}

impl PredicateTable<'_> {
    fn node(&mut self, condition: &Condition) -> Node {
        match condition {
            Condition::All { of } => Node::All(of.iter().map(|c| self.node(c)).collect()),
            Condition::Any { of } => Node::Any(of.iter().map(|c| self.node(c)).collect()),
            Condition::Not { of } => Node::Not(Box::new(self.node(of))),
            test => {
                // The lowered condition's JSON is the identity of the test.
                let identity = serde_json::to_string(test).unwrap_or_default();
                if let Some(&index) = self.index.get(&identity) {
                    return Node::Predicate(index);
                }
                let predicate = compile_test(test, self.paths);
                self.predicates.push(predicate);
                let index = self.predicates.len() - 1;
                self.index.insert(identity, index);
                Node::Predicate(index)
            }
        }
    }
}

fn compile_test(test: &Condition, paths: &PlanPaths) -> Predicate {
    let (field, test) = match test {
        Condition::Compare { field, cmp, value } => {
            (field, Test::Compare(*cmp, Constant::new(value)))
        }
        Condition::In { field, values } => {
            (field, Test::In(values.iter().map(Constant::new).collect()))
        }
        Condition::Contains { field, value } => (field, Test::Contains(Constant::new(value))),
        Condition::StartsWith { field, value } => (field, Test::StartsWith(value.clone())),
        Condition::EndsWith { field, value } => (field, Test::EndsWith(value.clone())),
        Condition::Matches { field, pattern } => match Regex::new(pattern) {
            Ok(regex) => (field, Test::Matches(regex)),
            Err(_) => (field, Test::In(Vec::new())),
        },
        Condition::Exists { field } => (field, Test::Exists),
        Condition::CompareRow { field, cmp, row } => {
            (field, Test::CompareRow(*cmp, Accessor::row(row, paths)))
        }
        Condition::All { .. } | Condition::Any { .. } | Condition::Not { .. } => {
            unreachable!("combinators are nodes, not tests")
        }
    };
    Predicate {
        field: Accessor::operand(field, paths),
        test,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Position;
    use acteon_dsl::plan::{Comparison, FieldPath, FieldRoot, PathSegment, Rule};
    use serde_json::json;

    fn path(key: &str) -> FieldPath {
        FieldPath {
            root: FieldRoot::Payload,
            segments: vec![PathSegment::Key(key.into())],
        }
    }

    fn compare(key: &str, cmp: Comparison, value: Value) -> Condition {
        Condition::Compare {
            field: path(key).into(),
            cmp,
            value,
        }
    }

    fn plan(conditions: Vec<Condition>) -> Plan {
        let rules = conditions
            .into_iter()
            .enumerate()
            .map(|(i, condition)| Rule {
                name: format!("r{i}"),
                priority: i as i64,
                scope: Default::default(),
                condition: Some(condition),
                action: RuleAction::Deny,
                origin: Default::default(),
            })
            .collect();
        Plan {
            rules,
            ..Plan::default()
        }
    }

    fn action(payload: Value, evaluator: &Evaluator) -> Action {
        Action {
            id: "a".into(),
            namespace: "n".into(),
            tenant: "t".into(),
            action_type: "x".into(),
            provider: None,
            payload: Payload::from_value(payload, evaluator.paths().set()),
            metadata: Default::default(),
            dedup_key: None,
            created_at: None,
            event_time_ms: 0,
            position: Position::Line(1),
            rows: Default::default(),
        }
    }

    fn first_match(condition: Condition, payload: Value) -> bool {
        let evaluator = Evaluator::new(&plan(vec![condition]));
        let mut action = action(payload, &evaluator);
        evaluator.evaluate(&mut action, 0, &mut Scratch::default()) != Evaluation::NoMatch
    }

    #[test]
    fn missing_fields_and_mismatched_types_are_false() {
        assert!(first_match(
            compare("v", Comparison::Eq, json!(5)),
            json!({"v": 5.0})
        ));
        assert!(!first_match(
            compare("v", Comparison::Gt, json!(5)),
            json!({"v": "9"})
        ));
        assert!(!first_match(
            compare("v", Comparison::Ne, json!(5)),
            json!({})
        ));
        assert!(!first_match(
            compare("v", Comparison::Ne, json!(5)),
            json!({"v": "5"})
        ));
        assert!(first_match(
            compare("v", Comparison::Ne, json!(5)),
            json!({"v": 6})
        ));
        assert!(first_match(
            Condition::Contains {
                field: path("tags").into(),
                value: json!("hot")
            },
            json!({"tags": ["cold", "hot"]})
        ));
        assert!(first_match(
            Condition::Matches {
                field: path("id").into(),
                pattern: "^s-\\d+$".into()
            },
            json!({"id": "s-12"})
        ));
    }

    #[test]
    fn a_test_written_in_many_rules_is_one_predicate() {
        let same = || compare("v", Comparison::Gt, json!(85));
        let evaluator = Evaluator::new(&plan(vec![
            same(),
            Condition::All {
                of: vec![same(), compare("w", Comparison::Eq, json!(1))],
            },
            Condition::Not {
                of: Box::new(same()),
            },
        ]));
        assert_eq!(evaluator.predicate_count(), 2);
    }

    #[test]
    fn modify_patches_the_payload_and_later_rules_see_it() {
        let mut plan = plan(vec![compare("stage", Comparison::Eq, json!("patched"))]);
        plan.rules.insert(
            0,
            Rule {
                name: "patch".into(),
                priority: 0,
                scope: Default::default(),
                condition: None,
                action: RuleAction::Modify {
                    patch: json!({"stage": "patched"}),
                    rows: Vec::new(),
                },
                origin: Default::default(),
            },
        );
        let evaluator = Evaluator::new(&plan);
        let mut action = action(json!({"stage": "raw"}), &evaluator);
        let evaluation = evaluator.evaluate(&mut action, 0, &mut Scratch::default());
        assert_eq!(evaluation, Evaluation::Terminal { rule: 1 });
        assert_eq!(action.payload.value()["stage"], "patched");
    }
}
