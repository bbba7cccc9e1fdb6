//! Group: members are `grouped`; when a group's wait ends (its first member's time + wait) or
//! it reaches `max` members, one batch action goes to the rule's `to` provider, or the first
//! member's provider, as `group_flushed`.
//!
//! Exchanged by key: (rule, namespace, tenant, `by` values). Holds each loop time's members
//! until the frontier passes it, then adds them in (event time, position) order. Holds one
//! capability per pending deadline (epoch, rule), dropped once the frontier passes it and the
//! groups due then are flushed; a flushed group's state is gone. With checkpoints, the open
//! groups are saved before anything at or after a checkpoint's epoch is decided or flushed,
//! and opened again, with their deadline capabilities, at start.

use super::evaluate::LoopTime;
use super::{frontier_epoch, owns, route, Decision, Flow, HeldByTime};
use crate::action::Action;
use crate::checkpoint::store::encode;
use crate::checkpoint::{CheckpointError, Checkpointer};
use crate::eval::{Evaluator, RuleKind};
use crate::time::Epochs;
use acteon_dsl::plan::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::order::Product;

/// (rule, namespace, tenant, `by` values as text).
type GroupKey = (u32, String, String, String);

fn group_key(evaluator: &Evaluator, flow: &Flow) -> GroupKey {
    let mut key = String::new();
    if let RuleKind::Group { by, .. } = &evaluator.rule(flow.next_rule).kind {
        for (i, accessor) in by.iter().enumerate() {
            if i > 0 {
                key.push(',');
            }
            if let Some(field) = accessor.read(&flow.action) {
                field.push_key(&mut key);
            }
        }
    }
    (
        flow.next_rule,
        flow.action.namespace.clone(),
        flow.action.tenant.clone(),
        key,
    )
}

/// An open group in a checkpoint; its values as JSON text (the binary encoding cannot carry
/// self-describing values).
#[derive(Serialize, Deserialize)]
struct SavedGroup {
    key: GroupKey,
    values: String,
    deadline_ms: i64,
    /// (epoch, rule) of its deadline.
    due: (u64, u32),
    members: Vec<Flow>,
}

/// Per deadline (epoch, rule): its capability, and the keys of the groups that may be due then.
type Deadlines = BTreeMap<LoopTime, (Capability<LoopTime>, Vec<GroupKey>)>;

struct Group {
    values: Vec<Value>,
    deadline_ms: i64,
    /// The loop time whose capability this group's deadline holds.
    due: LoopTime,
    members: Vec<Flow>,
}

/// Returns the `grouped` and `group_flushed` decisions; a batch is delivered by the decision.
pub fn group<'s>(
    flows: Stream<'s, LoopTime, Vec<Flow>>,
    evaluator: Arc<Evaluator>,
    epochs: Epochs,
    checkpointer: Option<Arc<Checkpointer>>,
) -> Stream<'s, LoopTime, Vec<Decision>> {
    let scope = flows.scope();
    let mut builder = OperatorBuilder::new("Group".to_owned(), scope);
    let router = Arc::clone(&evaluator);
    let mut input = builder.new_input(
        flows,
        Exchange::new(move |flow: &Flow| route(&group_key(&router, flow))),
    );
    let (decisions, decisions_stream) = builder.new_output::<Vec<Decision>>();
    let mut decisions =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(decisions);

    let (index, peers) = (scope.index(), scope.peers());
    builder.build(move |capabilities| {
        let mut held = HeldByTime::default();
        let mut groups: HashMap<GroupKey, Group> = HashMap::new();
        let mut deadlines: Deadlines = BTreeMap::new();
        let mut participant = checkpointer.map(|c| c.participant("group", index));
        if let (Some(restored), Some(initial)) = (
            participant.as_ref().and_then(|p| p.restored()),
            capabilities.first(),
        ) {
            for (_, saved) in restored.parts::<Vec<SavedGroup>>("group") {
                for group in saved {
                    let Some(rule) = restored.rule(group.key.0) else {
                        continue;
                    };
                    let key = (rule, group.key.1, group.key.2, group.key.3);
                    if !owns(route(&key), index, peers) {
                        continue;
                    }
                    let due = Product::new(group.due.0, rule);
                    deadlines
                        .entry(due)
                        .or_insert_with(|| (initial.delayed(&due), Vec::new()))
                        .1
                        .push(key.clone());
                    let members = group.members.into_iter().map(|mut member| {
                        member.next_rule = rule;
                        member
                    });
                    let values = serde_json::from_str(&group.values).unwrap_or_default();
                    groups.insert(
                        key,
                        Group {
                            values,
                            deadline_ms: group.deadline_ms,
                            due,
                            members: members.collect(),
                        },
                    );
                }
            }
        }
        drop(capabilities);
        move |frontiers| {
            input.for_each(|cap, data| held.hold(&cap, data, 1));
            let mut output = decisions.activate();
            // Members and deadlines in time order (members first at the same time), so a
            // checkpoint's state is that of the times before its epoch only.
            loop {
                let member_time = held.ready_time(&frontiers[0]);
                let deadline = deadlines
                    .first_key_value()
                    .map(|(due, _)| *due)
                    .filter(|due| !frontiers[0].less_equal(due));
                let time = match (member_time, deadline) {
                    (None, None) => break,
                    (Some(m), Some(d)) => m.min(d),
                    (Some(t), None) | (None, Some(t)) => t,
                };
                if let Some(participant) = participant.as_mut() {
                    participant.reach(time.outer, |_| snapshot(&groups));
                }
                if member_time == Some(time) {
                    let Some((time, caps, flows)) = held.next_ready(&frontiers[0]) else {
                        break;
                    };
                    let mut decided = Vec::new();
                    for flow in flows {
                        let at = (time, &caps[0]);
                        add_member(
                            &evaluator,
                            epochs,
                            (&mut groups, &mut deadlines),
                            flow,
                            at,
                            &mut decided,
                        );
                    }
                    output.session(&caps[0]).give_iterator(decided.into_iter());
                    continue;
                }
                // A deadline the frontier has passed: flush what is still pending there.
                let Some((cap, keys)) = deadlines.remove(&time) else {
                    break;
                };
                let mut session = output.session(&cap);
                for key in keys {
                    if groups.get(&key).is_some_and(|g| g.due == time) {
                        if let Some(done) = groups.remove(&key) {
                            let to = match &evaluator.rule(key.0).kind {
                                RuleKind::Group { to, .. } => to.clone(),
                                _ => None,
                            };
                            let closed_ms = done.deadline_ms;
                            session.give(flush(&evaluator, &key, done, to.as_deref(), closed_ms));
                        }
                    }
                }
            }
            if let Some(participant) = participant.as_mut() {
                participant.reach(frontier_epoch(&frontiers[0]), |_| snapshot(&groups));
            }
        }
    });
    decisions_stream
}

/// Adds a member at `time` to its group (opening it, with a deadline capability, if needed),
/// records it `grouped`, and flushes the group it closes (a member past the open group's
/// deadline, or the `max`-th member).
fn add_member(
    evaluator: &Evaluator,
    epochs: Epochs,
    (groups, deadlines): (&mut HashMap<GroupKey, Group>, &mut Deadlines),
    flow: Flow,
    (time, cap): (LoopTime, &Capability<LoopTime>),
    session: &mut Vec<Decision>,
) {
    let rule = flow.next_rule;
    let RuleKind::Group {
        by,
        wait_ms,
        max,
        to,
    } = &evaluator.rule(rule).kind
    else {
        return;
    };
    let key = group_key(evaluator, &flow);
    let now = flow.action.event_time_ms;
    // A member past the group's deadline belongs to the next group.
    if groups.get(&key).is_some_and(|g| now >= g.deadline_ms) {
        if let Some(done) = groups.remove(&key) {
            let closed_ms = done.deadline_ms;
            session.push(flush(evaluator, &key, done, to.as_deref(), closed_ms));
        }
    }
    let group = groups.entry(key.clone()).or_insert_with(|| {
        let deadline_ms = now + *wait_ms as i64;
        let due = Product::new(epochs.of(deadline_ms).max(time.outer), rule);
        deadlines
            .entry(due)
            .or_insert_with(|| (cap.delayed(&due), Vec::new()))
            .1
            .push(key.clone());
        Group {
            values: by
                .iter()
                .map(|a| a.read(&flow.action).map_or(Value::Null, |f| f.to_json()))
                .collect(),
            deadline_ms,
            due,
            members: Vec::new(),
        }
    });
    let mut details = Map::new();
    details.insert("group_key".into(), Value::String(key.3.clone()));
    details.insert("size".into(), Value::from(group.members.len() + 1));
    group.members.push(flow.clone());
    session.push(Decision::record(
        flow,
        Some(rule),
        Outcome::Grouped,
        details,
    ));
    if max.is_some_and(|max| group.members.len() as u64 >= max) {
        if let Some(done) = groups.remove(&key) {
            session.push(flush(evaluator, &key, done, to.as_deref(), now));
        }
    }
}

/// The open groups as a checkpoint keeps them.
fn snapshot(groups: &HashMap<GroupKey, Group>) -> Result<Vec<u8>, CheckpointError> {
    let saved: Vec<SavedGroup> = groups
        .iter()
        .map(|(key, group)| SavedGroup {
            key: key.clone(),
            values: Value::Array(group.values.clone()).to_string(),
            deadline_ms: group.deadline_ms,
            due: (group.due.outer, group.due.inner),
            members: group.members.clone(),
        })
        .collect();
    encode(&saved)
}

/// The batch of a group closed at `closed_ms` (its deadline, or its last member when `max`
/// closed it), as a decision to deliver.
fn flush(
    evaluator: &Evaluator,
    key: &GroupKey,
    group: Group,
    to: Option<&str>,
    closed_ms: i64,
) -> Decision {
    let rule = key.0;
    let first = &group.members[0].action;
    let member_ids: Vec<Value> = group
        .members
        .iter()
        .map(|m| Value::String(m.action.id.clone()))
        .collect();
    let payload = json!({
        "group_key": key.3,
        "group_values": group.values,
        "count": group.members.len(),
        "members": group.members.iter().map(|m| json!({ "id": m.action.id, "payload": m.action.payload })).collect::<Vec<_>>(),
    });
    let mut details = Map::new();
    details.insert("group_key".into(), Value::String(key.3.clone()));
    details.insert("group_values".into(), Value::Array(group.values));
    details.insert("size".into(), Value::from(member_ids.len()));
    details.insert("members".into(), Value::Array(member_ids));
    let batch = Action {
        id: format!("batch-{}-{}", evaluator.rule(rule).name, first.id),
        namespace: first.namespace.clone(),
        tenant: first.tenant.clone(),
        action_type: first.action_type.clone(),
        provider: first.provider.clone(),
        payload,
        metadata: Default::default(),
        dedup_key: None,
        created_at: None,
        event_time_ms: closed_ms,
        position: first.position,
    };
    let target = to.map(str::to_owned).or_else(|| first.provider.clone());
    Decision {
        flow: Flow::new(batch, false),
        rule: Some(rule),
        outcome: Outcome::GroupFlushed,
        target,
        details,
        deliver: true,
    }
}
