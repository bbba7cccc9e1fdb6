//! The in-memory audit store: what `sink = memory` keeps, and what `GET /v1/audit` reads while
//! the dataflow appends. Records keep the order they were appended in (the audit writer's
//! order), and a cursor is a position in that order, so paging is stable while records arrive
//! and while expired ones are reaped (a reaped record leaves an empty place until every record
//! before it is gone too).

use crate::audit::record::AuditRecord;
use crate::audit::AuditError;
use acteon_dsl::plan::Outcome;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

/// Default and largest page sizes, as the older gateway's API has them.
pub const DEFAULT_PAGE_LIMIT: usize = 50;
pub const MAX_PAGE_LIMIT: usize = 1000;

/// Shared by cloning: every clone sees the same records.
#[derive(Debug, Clone, Default)]
pub struct AuditStore {
    records: Arc<RwLock<Log>>,
}

/// The records by position: `places[i]` is position `first + i`; `None` once reaped.
#[derive(Debug, Default)]
struct Log {
    first: usize,
    places: VecDeque<Option<Stored>>,
    live: usize,
}

impl Log {
    fn iter(&self) -> impl Iterator<Item = (usize, &Stored)> {
        self.places
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((self.first + i, s.as_ref()?)))
    }
}

#[derive(Debug)]
struct Stored {
    record: AuditRecord,
}

/// Filters of a query; every one given must hold. `None` places no constraint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub namespace: Option<String>,
    pub tenant: Option<String>,
    pub outcome: Option<Outcome>,
    /// The record's own provider or its target.
    pub provider: Option<String>,
    pub rule: Option<String>,
    pub action_type: Option<String>,
    pub chain_id: Option<String>,
    pub action_id: Option<String>,
    /// `dispatched_at` at or after, Unix milliseconds.
    pub from_ms: Option<i64>,
    /// `dispatched_at` strictly before, Unix milliseconds.
    pub to_ms: Option<i64>,
    /// Page size; `None` is [`DEFAULT_PAGE_LIMIT`], anything above [`MAX_PAGE_LIMIT`] is capped.
    pub limit: Option<usize>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// One page of matching records, oldest first. `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    pub next_cursor: Option<String>,
}

impl AuditQuery {
    fn matches(&self, stored: &Stored) -> bool {
        let record = &stored.record;
        fn holds(wanted: &Option<String>, actual: Option<&str>) -> bool {
            wanted.as_deref().is_none_or(|w| actual == Some(w))
        }
        holds(&self.namespace, Some(&record.namespace))
            && holds(&self.tenant, Some(&record.tenant))
            && self.outcome.is_none_or(|o| o == record.outcome)
            && self.provider.as_deref().is_none_or(|p| {
                record.provider.as_deref() == Some(p) || record.target.as_deref() == Some(p)
            })
            && holds(&self.rule, record.rule.as_deref())
            && holds(&self.action_type, Some(&record.action_type))
            && holds(&self.chain_id, record.chain_id.as_deref())
            && holds(&self.action_id, Some(&record.action_id))
            && self.in_time_range(record.dispatched_at_ms)
    }

    fn in_time_range(&self, ms: i64) -> bool {
        self.from_ms.is_none_or(|from| ms >= from) && self.to_ms.is_none_or(|to| ms < to)
    }
}

impl AuditStore {
    pub fn new() -> AuditStore {
        AuditStore::default()
    }

    /// Appends in the given order, after every record already stored.
    pub fn append(&self, records: impl IntoIterator<Item = AuditRecord>) {
        let stored: Vec<Option<Stored>> = records
            .into_iter()
            .map(|record| Some(Stored { record }))
            .collect();
        let mut log = self.write();
        log.live += stored.len();
        log.places.extend(stored);
    }

    pub fn len(&self) -> usize {
        self.read().live
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record, in order.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.read().iter().map(|(_, s)| s.record.clone()).collect()
    }

    /// Drops every record whose `expires_at` is at or before `now_ms` (the retention reaper);
    /// returns how many were dropped. Cursors given out before stay valid.
    pub fn reap(&self, now_ms: i64) -> usize {
        let mut log = self.write();
        let mut reaped = 0;
        for place in log.places.iter_mut() {
            if place
                .as_ref()
                .and_then(|s| s.record.expires_at_ms)
                .is_some_and(|expires| expires <= now_ms)
            {
                *place = None;
                reaped += 1;
            }
        }
        while matches!(log.places.front(), Some(None)) {
            log.places.pop_front();
            log.first += 1;
        }
        log.live -= reaped;
        reaped
    }

    pub fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditError> {
        let start = match &query.cursor {
            None => 0,
            Some(cursor) => decode_cursor(cursor)?,
        };
        let limit = query
            .limit
            .unwrap_or(DEFAULT_PAGE_LIMIT)
            .clamp(1, MAX_PAGE_LIMIT);
        let log = self.read();
        let mut matching = log
            .iter()
            .skip(start.saturating_sub(log.first))
            .filter(|(_, s)| query.matches(s));
        let records: Vec<AuditRecord> = matching
            .by_ref()
            .take(limit)
            .map(|(_, s)| s.record.clone())
            .collect();
        // Looking one match ahead means a client never fetches an empty last page.
        let next_cursor = matching.next().map(|(position, _)| encode_cursor(position));
        Ok(AuditPage {
            records,
            next_cursor,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        // A writer that panicked left whole records behind (`extend` of built values): the
        // data is still consistent, so a poisoned lock is used as it is.
        self.records.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Log> {
        self.records.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Opaque to clients: a tag and the position of the next record to look at.
fn encode_cursor(position: usize) -> String {
    format!("p{position}")
}

fn decode_cursor(cursor: &str) -> Result<usize, AuditError> {
    cursor
        .strip_prefix('p')
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| AuditError::BadCursor(cursor.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Details, RecordId};
    use crate::time::parse_rfc3339_ms;

    fn at(text: &str) -> i64 {
        parse_rfc3339_ms(text).unwrap()
    }

    fn record(n: usize, tenant: &str, outcome: Outcome) -> AuditRecord {
        AuditRecord {
            id: RecordId {
                action: format!("r{n}").into(),
                at: None,
                place: None,
            },
            action_id: format!("a{n}").into(),
            namespace: "iot".into(),
            tenant: tenant.into(),
            action_type: if n.is_multiple_of(2) {
                "sensor_reading"
            } else {
                "alarm"
            }
            .into(),
            provider: Some("metrics-queue".into()),
            target: (outcome == Outcome::Rerouted).then(|| "alert-fanout".into()),
            rule: (outcome != Outcome::Executed).then(|| format!("rule-{}", n % 3).into()),
            outcome,
            details: Details::new(),
            payload: None,
            chain_id: (n == 4).then(|| "c4".into()),
            dispatched_at_ms: at(&format!("2026-11-28T09:00:{n:02}.000Z")),
            completed_at_ms: at(&format!("2026-11-28T09:00:{n:02}.000Z")),
            duration_ms: 0,
            expires_at_ms: None,
        }
    }

    fn store() -> AuditStore {
        let store = AuditStore::new();
        store.append((0..6).map(|n| {
            let outcome = [Outcome::Executed, Outcome::Suppressed, Outcome::Rerouted][n % 3];
            record(n, if n < 4 { "hq" } else { "branch" }, outcome)
        }));
        store
    }

    fn ids(page: &AuditPage) -> Vec<&str> {
        page.records.iter().map(|r| &*r.id.action).collect()
    }

    fn query(store: &AuditStore, query: AuditQuery) -> Vec<String> {
        let page = store.query(&query).unwrap();
        ids(&page).into_iter().map(String::from).collect()
    }

    #[test]
    fn filters_by_each_field() {
        let store = store();
        let all = |q: AuditQuery| query(&store, q);
        assert_eq!(all(AuditQuery::default()).len(), 6);
        let tenant = AuditQuery {
            tenant: Some("hq".into()),
            ..Default::default()
        };
        assert_eq!(all(tenant), ["r0", "r1", "r2", "r3"]);
        let outcome = AuditQuery {
            outcome: Some(Outcome::Suppressed),
            ..Default::default()
        };
        assert_eq!(all(outcome), ["r1", "r4"]);
        let target = AuditQuery {
            provider: Some("alert-fanout".into()),
            ..Default::default()
        };
        assert_eq!(all(target), ["r2", "r5"]);
        let own = AuditQuery {
            provider: Some("metrics-queue".into()),
            ..Default::default()
        };
        assert_eq!(all(own).len(), 6);
        let rule = AuditQuery {
            rule: Some("rule-1".into()),
            ..Default::default()
        };
        assert_eq!(all(rule), ["r1", "r4"]);
        let action_type = AuditQuery {
            action_type: Some("alarm".into()),
            namespace: Some("iot".into()),
            ..Default::default()
        };
        assert_eq!(all(action_type), ["r1", "r3", "r5"]);
        let chain = AuditQuery {
            chain_id: Some("c4".into()),
            ..Default::default()
        };
        assert_eq!(all(chain), ["r4"]);
        let action = AuditQuery {
            action_id: Some("a3".into()),
            ..Default::default()
        };
        assert_eq!(all(action), ["r3"]);
        let other_namespace = AuditQuery {
            namespace: Some("billing".into()),
            ..Default::default()
        };
        assert!(all(other_namespace).is_empty());
    }

    #[test]
    fn time_range_is_half_open_on_dispatched_at() {
        let store = store();
        let ms = |s: &str| at(s);
        let range = AuditQuery {
            from_ms: Some(ms("2026-11-28T09:00:02Z")),
            to_ms: Some(ms("2026-11-28T09:00:04Z")),
            ..Default::default()
        };
        assert_eq!(query(&store, range), ["r2", "r3"]);
    }

    #[test]
    fn pages_follow_the_cursor_to_the_end() {
        let store = store();
        let mut q = AuditQuery {
            limit: Some(2),
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = store.query(&q).unwrap();
            seen.extend(ids(&page).into_iter().map(String::from));
            match page.next_cursor {
                Some(cursor) => q.cursor = Some(cursor),
                None => break,
            }
        }
        assert_eq!(seen, ["r0", "r1", "r2", "r3", "r4", "r5"]);
    }

    #[test]
    fn last_page_has_no_cursor_even_when_full() {
        let store = store();
        let page = store
            .query(&AuditQuery {
                outcome: Some(Outcome::Executed),
                limit: Some(2),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(ids(&page), ["r0", "r3"]);
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn a_cursor_stays_valid_while_records_arrive() {
        let store = store();
        let first = store
            .query(&AuditQuery {
                limit: Some(5),
                ..Default::default()
            })
            .unwrap();
        let cursor = first.next_cursor.unwrap();
        store.append([record(6, "hq", Outcome::Executed)]);
        let rest = store
            .query(&AuditQuery {
                cursor: Some(cursor),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(ids(&rest), ["r5", "r6"]);
    }

    #[test]
    fn a_foreign_cursor_is_an_error() {
        let error = store()
            .query(&AuditQuery {
                cursor: Some("bogus".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(error, AuditError::BadCursor(ref c) if c == "bogus"));
    }

    #[test]
    fn reaping_drops_expired_records_and_keeps_cursors() {
        let store = AuditStore::new();
        store.append((0..4).map(|n| {
            let mut r = record(n, "hq", Outcome::Executed);
            r.expires_at_ms = Some(at(&format!("2026-11-28T10:00:{n:02}.000Z")));
            r
        }));
        let first = store
            .query(&AuditQuery {
                limit: Some(2),
                ..Default::default()
            })
            .unwrap();
        let cursor = first.next_cursor.unwrap();
        let now = at("2026-11-28T10:00:02Z");
        assert_eq!(store.reap(now), 3);
        assert_eq!(store.len(), 1);
        assert_eq!(ids(&store.query(&AuditQuery::default()).unwrap()), ["r3"]);
        let rest = store
            .query(&AuditQuery {
                cursor: Some(cursor),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(ids(&rest), ["r3"]);
        assert_eq!(store.reap(now), 0);
    }

    #[test]
    fn clones_share_records_across_threads() {
        let store = AuditStore::new();
        let writer = store.clone();
        std::thread::spawn(move || writer.append([record(0, "hq", Outcome::Executed)]))
            .join()
            .unwrap();
        assert_eq!(store.len(), 1);
        assert!(!store.is_empty());
        assert_eq!(store.records()[0].id.to_string(), "r0");
    }
}
