//! Indexed views of the audit that the state routes read: each action's latest state
//! (`GET /v1/events`) and the groups waiting to flush (`GET /v1/groups`).
//!
//! The sink folds every record into them as it writes it ([`StateViews::observe`]), so a read
//! pages an index rather than copying and folding the whole audit store, and the writer holds
//! each lock for one record's update: a read never stalls the dataflow for longer than that.
//! Both views are the server's, not a generation's, so they hold across reloads.

use acteon_dsl::plan::Outcome;
use acteon_engine::audit::record::{AuditRecord, Detail};
use acteon_engine::name::Name;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An action's latest state: its last record's outcome, and how many records it has.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub action_id: Arc<str>,
    pub namespace: Name,
    pub tenant: Name,
    pub action_type: Name,
    pub state: Outcome,
    pub rule: Option<Name>,
    pub target: Option<Name>,
    pub records: u64,
    pub updated_at_ms: i64,
}

/// A group as `GET /v1/groups` shows it: (rule, namespace, tenant, group key).
pub type GroupKey = (String, String, String, String);

/// A grouped action still waiting in its group.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub action_id: Arc<str>,
    pub dispatched_at_ms: i64,
}

/// One page of a view, and where the next one starts (`None` on the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<usize>,
}

#[derive(Debug, Default)]
pub struct StateViews {
    events: RwLock<Events>,
    groups: RwLock<BTreeMap<GroupKey, Vec<Member>>>,
}

/// Events in the order their actions were first seen, and each action's place in it.
#[derive(Debug, Default)]
struct Events {
    order: Vec<Event>,
    places: FxHashMap<Arc<str>, usize>,
}

impl StateViews {
    /// Folds one written record into the views.
    pub fn observe(&self, record: &AuditRecord) {
        self.observe_event(record);
        match record.outcome {
            Outcome::Grouped => {
                let member = Member {
                    action_id: Arc::clone(&record.action_id),
                    dispatched_at_ms: record.dispatched_at_ms,
                };
                write(&self.groups)
                    .entry(group_key(record))
                    .or_default()
                    .push(member);
            }
            Outcome::GroupFlushed => {
                let mut groups = write(&self.groups);
                let key = group_key(record);
                if let Some(members) = groups.get_mut(&key) {
                    let flushed = flushed_members(record);
                    members.retain(|m| !flushed.iter().any(|f| **f == *m.action_id));
                    if members.is_empty() {
                        groups.remove(&key);
                    }
                }
            }
            _ => {}
        }
    }

    fn observe_event(&self, record: &AuditRecord) {
        let mut events = write(&self.events);
        let Events { order, places } = &mut *events;
        let latest = |records| Event {
            action_id: Arc::clone(&record.action_id),
            namespace: record.namespace.clone(),
            tenant: record.tenant.clone(),
            action_type: record.action_type.clone(),
            state: record.outcome,
            rule: record.rule.clone(),
            target: record.target.clone(),
            records,
            updated_at_ms: record.completed_at_ms,
        };
        match places.get(&*record.action_id) {
            Some(&place) => {
                let records = order[place].records + 1;
                order[place] = latest(records);
            }
            None => {
                places.insert(Arc::clone(&record.action_id), order.len());
                order.push(latest(1));
            }
        }
    }

    /// Up to `limit` events from place `start` on that `keep` accepts, in first-seen order.
    pub fn events(&self, start: usize, limit: usize, keep: impl Fn(&Event) -> bool) -> Page<Event> {
        let events = read(&self.events);
        let found = page(events.order.iter().enumerate().skip(start), limit, |e| {
            keep(e)
        });
        Page {
            items: found.items.into_iter().cloned().collect(),
            next: found.next,
        }
    }

    /// Up to `limit` waiting groups from place `start` on that `keep` accepts, in key order.
    pub fn groups(
        &self,
        start: usize,
        limit: usize,
        keep: impl Fn(&GroupKey) -> bool,
    ) -> Page<(GroupKey, Vec<Member>)> {
        let groups = read(&self.groups);
        let listed = groups.iter().enumerate().skip(start);
        let found = page(listed, limit, |(key, _)| keep(key));
        Page {
            items: found
                .items
                .into_iter()
                .map(|(key, members)| (key.clone(), members.clone()))
                .collect(),
            next: found.next,
        }
    }
}

/// The first `limit` accepted items and the place of the next accepted one.
fn page<T>(
    mut items: impl Iterator<Item = (usize, T)>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> Page<T> {
    let mut accepted = items.by_ref().filter(|(_, item)| keep(item));
    let found: Vec<T> = accepted
        .by_ref()
        .take(limit)
        .map(|(_, item)| item)
        .collect();
    // Looking one ahead: a client never fetches an empty last page.
    let next = accepted.next().map(|(place, _)| place);
    Page { items: found, next }
}

fn group_key(record: &AuditRecord) -> GroupKey {
    (
        record.rule.as_deref().unwrap_or_default().to_owned(),
        record.namespace.to_string(),
        record.tenant.to_string(),
        record.details["group_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The action ids a `group_flushed` record names.
fn flushed_members(record: &AuditRecord) -> Vec<Arc<str>> {
    match &record.details["members"] {
        Detail::Ids(ids) => ids.to_vec(),
        other => other
            .to_json()
            .as_array()
            .map(|m| m.iter().filter_map(|v| v.as_str().map(Arc::from)).collect())
            .unwrap_or_default(),
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Every update is one whole assignment or push: a poisoned lock still holds whole values.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
