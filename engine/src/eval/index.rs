//! The rule index: which rules can match an action, found by hash lookups instead of a scan.
//!
//! A rule whose scope or condition requires a field to equal one of a few strings (`action_type
//! == "x"`, `payload.device_id in ["a", "b"]`, a scope's tenant, any of these inside an `and`)
//! is put in one bucket per string, under one such field: its anchor. Per action, each anchor
//! field is read once and its bucket looked up; the candidates are those buckets' rules and the
//! rules with no anchor, merged back into plan order. The index only ever leaves out rules that
//! cannot match, and every candidate still runs its whole scope and condition, so evaluation
//! decides exactly what a scan of every rule would (docs/design.md, "Rule evaluation" 2).

use super::field::Accessor;
use super::predicate::{Constant, Predicate, Test};
use super::{CompiledRule, Node, RuleKind};
use crate::action::Action;
use acteon_dsl::plan::{Comparison, PathSegment};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// How many rules a field's buckets must leave out (for an action in its largest bucket) to
/// be indexed; about what a lookup costs in rule tests.
const MIN_RULES_SET_APART: usize = 8;

/// A requirement a rule cannot match without: `field` reads as one of `values`.
#[derive(Debug, Clone)]
struct Anchor {
    field: Accessor,
    values: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct FieldIndex {
    field: Accessor,
    /// A value of the field -> its bucket, a range of [`RuleIndex::lists`].
    buckets: HashMap<Box<str>, (u32, u32), BuildHasherDefault<Fnv>>,
}

/// Buckets of rule indices, built once per plan.
#[derive(Debug, Clone, Default)]
pub(super) struct RuleIndex {
    fields: Vec<FieldIndex>,
    /// The rules without an anchor: a range of `lists`.
    always: (u32, u32),
    /// Every bucket's rule indices, ascending within a bucket, buckets one after another.
    lists: Vec<u32>,
    /// Per rule: a `modify` whose patch may change an anchor field's value.
    rebucket: Vec<bool>,
}

/// Per-action cursors over the buckets that apply: (next position in `lists`, end).
pub(super) type Cursors = Vec<(u32, u32)>;

impl RuleIndex {
    pub(super) fn new(rules: &[CompiledRule], predicates: &[Predicate]) -> RuleIndex {
        RuleIndex::with_threshold(rules, predicates, MIN_RULES_SET_APART)
    }

    /// `min_set_apart`: see [`MIN_RULES_SET_APART`]; tests lower it to index every field.
    fn with_threshold(
        rules: &[CompiledRule],
        predicates: &[Predicate],
        min_set_apart: usize,
    ) -> RuleIndex {
        let anchors: Vec<Vec<Anchor>> = rules
            .iter()
            .map(|rule| rule_anchors(rule, predicates))
            .collect();
        // The more distinct values a field has across the rules, the fewer rules share one of
        // its buckets: each rule is filed under its most selective anchor.
        let mut distinct: Vec<(Accessor, BTreeSet<&str>)> = Vec::new();
        for anchor in anchors.iter().flatten() {
            let slot = match distinct.iter().position(|(f, _)| *f == anchor.field) {
                Some(slot) => slot,
                None => {
                    distinct.push((anchor.field.clone(), BTreeSet::new()));
                    distinct.len() - 1
                }
            };
            distinct[slot]
                .1
                .extend(anchor.values.iter().map(String::as_str));
        }
        let selectivity = |field: &Accessor| {
            distinct
                .iter()
                .find(|(f, _)| f == field)
                .map_or(0, |(_, values)| values.len())
        };

        let mut always = Vec::new();
        let mut buckets: Vec<(Accessor, HashMap<String, Vec<u32>>)> = Vec::new();
        for (rule, anchors) in anchors.iter().enumerate() {
            let rule = rule as u32;
            // The first of the most selective anchors, so the choice is deterministic. A field
            // with one value across all rules (a file's scope) is not worth a lookup: it sets
            // rules apart only for actions outside the rules' usual traffic.
            let best = anchors
                .iter()
                .rev()
                .filter(|a| selectivity(&a.field) > 1)
                .max_by_key(|a| selectivity(&a.field));
            let Some(anchor) = best else {
                always.push(rule);
                continue;
            };
            let slot = match buckets.iter().position(|(f, _)| *f == anchor.field) {
                Some(slot) => slot,
                None => {
                    buckets.push((anchor.field.clone(), HashMap::new()));
                    buckets.len() - 1
                }
            };
            // No values (an empty `in` list): the rule can never match and is in no bucket.
            for value in &anchor.values {
                buckets[slot].1.entry(value.clone()).or_default().push(rule);
            }
        }

        // A field earns its lookup (a field read and a hash) only when it sets apart enough
        // rules; for a handful, testing them in order is cheaper, so they are always checked.
        buckets.retain(|(_, values)| {
            let filed: BTreeSet<u32> = values.values().flatten().copied().collect();
            let largest = values.values().map(Vec::len).max().unwrap_or(0);
            let kept = filed.len().saturating_sub(largest) >= min_set_apart;
            if !kept {
                always.extend(filed);
            }
            kept
        });
        always.sort_unstable();

        let mut lists = Vec::new();
        let mut range = |rules: &[u32]| {
            let begin = lists.len() as u32;
            lists.extend_from_slice(rules);
            (begin, lists.len() as u32)
        };
        let always = range(&always);
        let fields: Vec<FieldIndex> = buckets
            .into_iter()
            .map(|(field, values)| FieldIndex {
                field,
                buckets: values
                    .into_iter()
                    .map(|(value, rules)| (value.into_boxed_str(), range(&rules)))
                    .collect(),
            })
            .collect();
        let rebucket = rules
            .iter()
            .map(|rule| match &rule.kind {
                RuleKind::Modify { patch, .. } => {
                    fields.iter().any(|f| may_change(patch, &f.field))
                }
                _ => false,
            })
            .collect();
        RuleIndex {
            fields,
            always,
            lists,
            rebucket,
        }
    }

    /// Whether the candidates must be looked up again after `rule` (a `modify`) applied: its
    /// patch may change a field the buckets were chosen by.
    pub(super) fn rebucket_after(&self, rule: u32) -> bool {
        self.rebucket[rule as usize]
    }

    /// Sets `cursors` to the buckets that apply to `action`, each from its first rule at or
    /// after `start`.
    pub(super) fn candidates(&self, action: &Action, start: u32, cursors: &mut Cursors) {
        cursors.clear();
        let mut push = |(begin, end): (u32, u32)| {
            let rules = &self.lists[begin as usize..end as usize];
            let skip = if start == 0 {
                0
            } else {
                rules.partition_point(|&rule| rule < start) as u32
            };
            if begin + skip < end {
                cursors.push((begin + skip, end));
            }
        };
        push(self.always);
        for field in &self.fields {
            let Some(value) = field.field.read(action) else {
                continue;
            };
            if let Some(&range) = value.as_str().and_then(|v| field.buckets.get(v)) {
                push(range);
            }
        }
    }

    /// The next candidate rule in plan order, `None` when there are no more.
    pub(super) fn next(&self, cursors: &mut Cursors) -> Option<u32> {
        // A rule is in one bucket per field at most and under one field only, so the heads
        // never tie; there are a few cursors, so a linear pick beats a heap.
        let mut best: Option<(usize, u32)> = None;
        for (slot, &(at, _)) in cursors.iter().enumerate() {
            let rule = self.lists[at as usize];
            if best.is_none_or(|(_, b)| rule < b) {
                best = Some((slot, rule));
            }
        }
        let (slot, rule) = best?;
        let cursor = &mut cursors[slot];
        cursor.0 += 1;
        if cursor.0 == cursor.1 {
            cursors.swap_remove(slot);
        }
        Some(rule)
    }
}

/// Whether merging `patch` into the payload (RFC 7396) may change what `field` reads: only when
/// the patch names the field's path, or a part of it that it replaces or removes.
fn may_change(patch: &Value, field: &Accessor) -> bool {
    let Accessor::Payload { segments, .. } = field else {
        return false;
    };
    let mut patch = patch;
    for segment in segments {
        let Value::Object(keys) = patch else {
            return true;
        };
        // An object patched onto a list replaces it, so whether an index still reads the
        // same depends on the payload: assume it changes.
        let PathSegment::Key(key) = segment else {
            return true;
        };
        match keys.get(key) {
            Some(below) => patch = below,
            None => return false,
        }
    }
    true
}

/// Every anchor of a rule: its scope's namespace and tenant, and those of its condition.
fn rule_anchors(rule: &CompiledRule, predicates: &[Predicate]) -> Vec<Anchor> {
    let mut anchors = Vec::new();
    let mut scope = |field: Accessor, value: &Option<String>| {
        if let Some(value) = value {
            anchors.push(Anchor {
                field,
                values: BTreeSet::from([value.clone()]),
            });
        }
    };
    scope(Accessor::Namespace, &rule.namespace);
    scope(Accessor::Tenant, &rule.tenant);
    if let Some(condition) = &rule.condition {
        anchors.extend(node_anchors(condition, predicates));
    }
    anchors
}

/// The anchors `node` cannot hold without.
fn node_anchors(node: &Node, predicates: &[Predicate]) -> Vec<Anchor> {
    match node {
        Node::Predicate(index) => predicate_anchor(&predicates[*index]).into_iter().collect(),
        // Each part of an `and` must hold, so each part's anchors are the whole's.
        Node::All(nodes) => nodes
            .iter()
            .flat_map(|n| node_anchors(n, predicates))
            .collect(),
        // An `or` needs one of its parts: when every part is anchored on the same field, the
        // field must be one of all their values.
        Node::Any(nodes) => {
            let parts: Vec<Vec<Anchor>> =
                nodes.iter().map(|n| node_anchors(n, predicates)).collect();
            let Some((first, rest)) = parts.split_first() else {
                return Vec::new();
            };
            first
                .iter()
                .filter_map(|anchor| {
                    let mut values = anchor.values.clone();
                    for part in rest {
                        let same = part.iter().find(|a| a.field == anchor.field)?;
                        values.extend(same.values.iter().cloned());
                    }
                    Some(Anchor {
                        field: anchor.field.clone(),
                        values,
                    })
                })
                .collect()
        }
        Node::Not(_) => Vec::new(),
    }
}

/// A test that holds only when the field reads as one of some strings: `== "x"` and
/// `in ["x", ...]` of strings only (a number or boolean constant can equal a non-string field).
fn predicate_anchor(predicate: &Predicate) -> Option<Anchor> {
    let text = |constant: &Constant| match constant {
        Constant::Text(text) => Some(text.clone()),
        _ => None,
    };
    let values = match &predicate.test {
        Test::Compare(Comparison::Eq, constant) => BTreeSet::from([text(constant)?]),
        Test::In(constants) => constants.iter().map(text).collect::<Option<_>>()?,
        _ => return None,
    };
    Some(Anchor {
        field: predicate.field.clone(),
        values,
    })
}

/// FNV-1a: bucket keys are short strings chosen by the script's author, not by the input's
/// sender, so a fast hash without flood resistance fits.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Evaluation, Evaluator, Scratch};
    use super::{may_change, Accessor, RuleIndex};
    use crate::action::{Action, Metadata, Position};
    use crate::eval::PlanPaths;
    use crate::payload::Payload;
    use acteon_dsl::plan::{
        Comparison, Condition, FieldPath, FieldRoot, PathSegment, Plan, Rule, RuleAction, Scope,
    };
    use serde_json::{json, Map, Value};

    /// xorshift64*: a fixed seed gives the same rule sets and actions every run.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }

        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }

        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    const WORDS: [&str; 4] = ["a", "b", "c", "d"];

    fn field(random: &mut Random) -> FieldPath {
        let (root, segments) = match random.below(7) {
            0 => (FieldRoot::ActionType, vec![]),
            1 => (FieldRoot::Tenant, vec![]),
            2 => (FieldRoot::Namespace, vec![]),
            3 => (FieldRoot::Provider, vec![]),
            4 => (FieldRoot::Metadata, vec![PathSegment::Key("src".into())]),
            5 => (FieldRoot::Payload, vec![PathSegment::Key("m".into())]),
            _ => (FieldRoot::Payload, vec![PathSegment::Key("k".into())]),
        };
        FieldPath { root, segments }
    }

    /// A string, a number, or (rarely) another type, as conditions and payloads hold them.
    fn value(random: &mut Random) -> Value {
        match random.below(10) {
            0..=5 => json!(random.pick(&WORDS)),
            6 | 7 => json!(random.below(3)),
            8 => json!(random.chance(50)),
            _ => Value::Null,
        }
    }

    fn condition(random: &mut Random, depth: usize) -> Condition {
        let leaves = if depth == 0 { 7 } else { 10 };
        match random.below(leaves) {
            0..=2 => Condition::Compare {
                field: field(random).into(),
                cmp: Comparison::Eq,
                value: value(random),
            },
            3 => Condition::Compare {
                field: field(random).into(),
                cmp: *random.pick(&[Comparison::Ne, Comparison::Gt, Comparison::Le]),
                value: value(random),
            },
            4 | 5 => Condition::In {
                field: field(random).into(),
                values: (0..random.below(4)).map(|_| value(random)).collect(),
            },
            6 => Condition::Exists {
                field: field(random).into(),
            },
            7 => Condition::Not {
                of: Box::new(condition(random, depth - 1)),
            },
            8 => Condition::Any {
                of: (0..random.below(3))
                    .map(|_| condition(random, depth - 1))
                    .collect(),
            },
            _ => Condition::All {
                of: (0..1 + random.below(3))
                    .map(|_| condition(random, depth - 1))
                    .collect(),
            },
        }
    }

    fn rule_action(random: &mut Random) -> RuleAction {
        match random.below(8) {
            0 => RuleAction::Deny,
            1 => RuleAction::Allow,
            2 => RuleAction::Suppress,
            3 | 4 => RuleAction::Modify {
                patch: json!({ *random.pick(&["k", "m", "z"]): value(random) }),
                rows: Vec::new(),
            },
            5 => RuleAction::Dedup {
                ttl_ms: 1,
                by: None,
            },
            6 => RuleAction::Schedule { delay_ms: 1 },
            _ => RuleAction::Throttle {
                limit: 1,
                window_ms: 1,
                by: None,
            },
        }
    }

    fn plan(random: &mut Random) -> Plan {
        let scope =
            |random: &mut Random| random.chance(30).then(|| random.pick(&WORDS).to_string());
        let rules = (0..1 + random.below(40))
            .map(|i| Rule {
                name: format!("r{i}"),
                priority: i as i64,
                scope: Scope {
                    namespace: scope(random),
                    tenant: scope(random),
                },
                condition: random.chance(85).then(|| condition(random, 2)),
                action: rule_action(random),
                origin: Default::default(),
            })
            .collect();
        Plan {
            rules,
            ..Plan::default()
        }
    }

    fn action(random: &mut Random, paths: &PlanPaths) -> Action {
        let mut payload = Map::new();
        for key in ["k", "m"] {
            if random.chance(80) {
                payload.insert(key.into(), value(random));
            }
        }
        let metadata = match random.chance(50) {
            true => Metadata::from_entries([("src", *random.pick(&WORDS))]),
            false => Metadata::default(),
        };
        Action {
            id: "x".into(),
            namespace: (*random.pick(&WORDS)).into(),
            tenant: (*random.pick(&WORDS)).into(),
            action_type: (*random.pick(&WORDS)).into(),
            provider: random.chance(50).then(|| (*random.pick(&WORDS)).into()),
            payload: Payload::from_value(Value::Object(payload), paths.set()),
            metadata,
            dedup_key: None,
            created_at: None,
            event_time_ms: 0,
            position: Position::Line(1),
            rows: Default::default(),
        }
    }

    /// Every evaluation of a decision that lets each gate pass, and the payload at the end.
    fn decide(
        mut action: Action,
        mut evaluate: impl FnMut(&mut Action, u32) -> Evaluation,
    ) -> (Vec<Evaluation>, Value) {
        let mut evaluations = Vec::new();
        let mut start = 0;
        loop {
            let evaluation = evaluate(&mut action, start);
            evaluations.push(evaluation);
            match evaluation {
                Evaluation::Gate { rule, .. } => start = rule + 1,
                _ => return (evaluations, action.payload.value().clone()),
            }
        }
    }

    #[test]
    fn the_index_decides_as_a_scan_of_every_rule() {
        let mut random = Random(0x5eed_ac7e_0000_0007);
        let mut matched = 0;
        for round in 0..400 {
            let mut evaluator = Evaluator::new(&plan(&mut random));
            // Half the rule sets with every anchored field indexed, however few its rules.
            if round % 2 == 0 {
                evaluator.index =
                    RuleIndex::with_threshold(&evaluator.rules, &evaluator.predicates, 1);
            }
            let (mut indexed, mut linear) = (Scratch::default(), Scratch::default());
            for _ in 0..60 {
                let action = action(&mut random, evaluator.paths());
                let by_index = decide(action.clone(), |a, start| {
                    evaluator.evaluate(a, start, &mut indexed)
                });
                let by_scan = decide(action.clone(), |a, start| {
                    evaluator.evaluate_linearly(a, start, &mut linear)
                });
                assert_eq!(by_index, by_scan, "{action:?} with {:#?}", evaluator.rules);
                matched += usize::from(by_index.0[0] != Evaluation::NoMatch);
            }
        }
        // The generated cases must exercise matching, not only rules that never match.
        assert!(matched > 4_000, "{matched} of 24,000 matched");
    }

    #[test]
    fn a_patch_rebuckets_only_when_it_may_change_an_anchor() {
        let field = |segments: Vec<PathSegment>| Accessor::Payload {
            segments,
            paths: 0,
            slot: 0,
        };
        let key = |k: &str| PathSegment::Key(k.into());
        let floor = field(vec![key("site"), key("floor")]);
        assert!(!may_change(&json!({"zone": "a"}), &floor));
        assert!(!may_change(&json!({"site": {"name": "x"}}), &floor));
        assert!(may_change(&json!({"site": {"floor": null}}), &floor));
        assert!(may_change(&json!({"site": "flat"}), &floor));
        assert!(may_change(&json!({"site": null}), &floor));
        assert!(may_change(&json!([1]), &floor));
        let first = field(vec![key("items"), PathSegment::Index(0)]);
        assert!(may_change(&json!({"items": {"1": true}}), &first));
        assert!(!may_change(&json!({"zone": "a"}), &first));
        assert!(!may_change(&json!({"zone": "a"}), &Accessor::ActionType));
    }

    #[test]
    fn rules_are_filed_under_their_most_selective_anchor() {
        let device = |i: usize| Condition::All {
            of: vec![
                Condition::Compare {
                    field: FieldPath {
                        root: FieldRoot::ActionType,
                        segments: vec![],
                    }
                    .into(),
                    cmp: Comparison::Eq,
                    value: json!("reading"),
                },
                Condition::Compare {
                    field: FieldPath {
                        root: FieldRoot::Payload,
                        segments: vec![PathSegment::Key("device".into())],
                    }
                    .into(),
                    cmp: Comparison::Eq,
                    value: json!(format!("d{i}")),
                },
            ],
        };
        let plan = Plan {
            rules: (0..50)
                .map(|i| Rule {
                    name: format!("r{i}"),
                    priority: i as i64,
                    scope: Scope::default(),
                    condition: Some(device(i)),
                    action: RuleAction::Deny,
                    origin: Default::default(),
                })
                .collect(),
            ..Plan::default()
        };
        let evaluator = Evaluator::new(&plan);
        let index = &evaluator.index;
        assert_eq!(index.always.0, index.always.1, "every rule has an anchor");
        assert_eq!(index.fields.len(), 1, "all filed by device, none by type");
        assert_eq!(index.fields[0].buckets.len(), 50);
    }
}
