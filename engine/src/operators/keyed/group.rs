//! Group: members are `grouped`; when a group's wait ends (its first member's time + wait) or
//! it reaches `max` members, one batch action goes to the rule's `to` provider, or the first
//! member's provider, as `group_flushed`.
//!
//! Key: (rule, namespace, tenant, the `by` values). State: the open group (its key text and
//! values, its deadline, its members); its timer is the deadline, and a flushed group's state
//! is gone. A member at or past the open group's deadline flushes it and opens the next one.
//! A request (`DELETE /v1/groups/{key}`) flushes the groups it names at once.

use super::{Fingerprint, Key, Out, Window};
use crate::action::{Action, Metadata};
use crate::audit::record::{Detail, Details};
use crate::checkpoint::Restored;
use crate::control::GroupFlush;
use crate::eval::{Evaluator, RuleKind};
use crate::json;
use crate::operators::{Decision, Flow};
use crate::payload::Payload;
use acteon_dsl::plan::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

pub struct Group {
    pub evaluator: Arc<Evaluator>,
}

/// An open group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Open {
    /// The `by` values as key text, joined by commas, as records show the group.
    key: String,
    /// The `by` values as a JSON array's text (checkpoints cannot carry JSON trees).
    values: String,
    deadline_ms: i64,
    members: Vec<Flow>,
}

impl Group {
    fn by(&self, rule: u32) -> &[crate::eval::Accessor] {
        match &self.evaluator.rule(rule).kind {
            RuleKind::Group { by, .. } => by,
            _ => &[],
        }
    }

    /// The batch of a group closed at `closed_ms` (its deadline, or its last member when
    /// `max` closed it), as a decision to deliver.
    fn flush(&self, rule: u32, group: Open, closed_ms: i64) -> Decision {
        let name = &self.evaluator.rule(rule).name;
        let to = match &self.evaluator.rule(rule).kind {
            RuleKind::Group { to, .. } => to.clone(),
            _ => None,
        };
        let first = &group.members[0].action;
        let mut text = Vec::with_capacity(64 + group.members.len() * 160);
        text.extend_from_slice(b"{\"group_key\":");
        json::string(&mut text, &group.key);
        text.extend_from_slice(b",\"group_values\":");
        text.extend_from_slice(group.values.as_bytes());
        text.extend_from_slice(b",\"count\":");
        json::uint(&mut text, group.members.len() as u64);
        text.extend_from_slice(b",\"members\":[");
        for (i, member) in group.members.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            text.extend_from_slice(b"{\"id\":");
            json::string(&mut text, &member.action.id);
            text.extend_from_slice(b",\"payload\":");
            text.extend_from_slice(member.action.payload.text().as_bytes());
            text.push(b'}');
        }
        text.extend_from_slice(b"]}");
        let values: Value = serde_json::from_str(&group.values).unwrap_or_default();
        let details = Details::new()
            .with("group_key", group.key.clone())
            .with("group_values", values)
            .with("size", group.members.len())
            .with(
                "members",
                Detail::Ids(
                    group
                        .members
                        .iter()
                        .map(|m| Arc::clone(&m.action.id))
                        .collect(),
                ),
            );
        let batch = Action {
            id: format!("batch-{name}-{}", first.id).into(),
            namespace: first.namespace.clone(),
            tenant: first.tenant.clone(),
            action_type: first.action_type.clone(),
            provider: first.provider.clone(),
            payload: Payload::trusted(String::from_utf8(text).unwrap_or_default(), None),
            metadata: Metadata::default(),
            dedup_key: None,
            created_at: None,
            event_time_ms: closed_ms,
            position: first.position,
            rows: Default::default(),
        };
        let target = to.or_else(|| first.provider.clone());
        Decision {
            flow: Flow::new(batch),
            rule: Some(rule),
            outcome: Outcome::GroupFlushed,
            target,
            details,
            deliver: true,
        }
    }
}

impl Window for Group {
    type State = Open;
    const NAME: &'static str = "group";

    fn key(&self, flow: &Flow) -> Option<Key> {
        let rule = flow.next_rule;
        if !matches!(self.evaluator.rule(rule).kind, RuleKind::Group { .. }) {
            return None;
        }
        let mut print = Fingerprint::default();
        print.text(&flow.action.namespace).text(&flow.action.tenant);
        for accessor in self.by(rule) {
            print.field(accessor.read(&flow.action));
        }
        Some(print.key(rule))
    }

    fn decide(&self, key: Key, state: &mut Option<Open>, flow: Flow, out: &mut Out) {
        let rule = key.rule;
        let RuleKind::Group { wait_ms, max, .. } = self.evaluator.rule(rule).kind else {
            out.passed.push(flow);
            return;
        };
        let now = flow.action.event_time_ms;
        // A member past the group's deadline belongs to the next group.
        if state.as_ref().is_some_and(|g| now >= g.deadline_ms) {
            if let Some(done) = state.take() {
                let closed_ms = done.deadline_ms;
                out.decided.push(self.flush(rule, done, closed_ms));
            }
        }
        let group = state.get_or_insert_with(|| {
            let fields: Vec<_> = self.by(rule).iter().map(|a| a.read(&flow.action)).collect();
            let mut key = String::new();
            let mut values = vec![b'['];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    key.push(',');
                    values.push(b',');
                }
                match field {
                    Some(field) => {
                        field.push_key(&mut key);
                        values.extend_from_slice(field.to_json().to_string().as_bytes());
                    }
                    None => values.extend_from_slice(b"null"),
                }
            }
            values.push(b']');
            Open {
                key,
                values: String::from_utf8(values).unwrap_or_default(),
                deadline_ms: now.saturating_add(wait_ms as i64),
                members: Vec::new(),
            }
        });
        let details = Details::new()
            .with("group_key", group.key.clone())
            .with("size", group.members.len() + 1);
        group.members.push(flow.clone());
        out.decided.push(Decision::record(
            flow,
            Some(rule),
            Outcome::Grouped,
            details,
        ));
        if max.is_some_and(|max| group.members.len() as u64 >= max) {
            if let Some(done) = state.take() {
                out.decided.push(self.flush(rule, done, now));
            }
        }
    }

    fn expires(&self, _group: &Open) -> i64 {
        // An open group ends by its timer, never by being forgotten.
        i64::MAX
    }

    fn due(&self, group: &Open) -> Option<i64> {
        Some(group.deadline_ms)
    }

    fn fire(&self, key: Key, group: Open, out: &mut Out) {
        let closed_ms = group.deadline_ms;
        out.decided.push(self.flush(key.rule, group, closed_ms));
    }

    fn requested(&self, key: Key, group: &Open, request: &GroupFlush) -> bool {
        let tenant = group.members.first().map_or("", |m| &*m.action.tenant);
        request.names(&self.evaluator.rule(key.rule).name, tenant, &group.key)
    }

    fn fire_now(&self, key: Key, group: Open, at_ms: i64, out: &mut Out) {
        out.decided.push(self.flush(key.rule, group, at_ms));
    }

    fn restore(&self, key: Key, restored: &Restored) -> Option<Key> {
        Some(Key {
            rule: restored.rule(key.rule)?,
            ..key
        })
    }
}
