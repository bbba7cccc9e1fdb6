//! Requests that act on held state rather than decide an action: today, flushing waiting groups
//! now (`DELETE /v1/groups/{key}`).
//!
//! A request comes in through a feed ([`Polled::FlushGroups`](crate::feed::Polled)), once to
//! every worker of the process, since any of them may hold a matching group. Each worker's
//! source passes it on at its current epoch to the group operator, which flushes the groups it
//! holds that match, as `group_flushed` at that epoch, and reports how many to the request's
//! [`FlushTally`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Flush every waiting group with this key text that the rest of the request allows.
#[derive(Debug, Clone)]
pub struct GroupFlush {
    /// The group's key, as records show it (`group_key`: the `by` values joined by commas).
    pub key: String,
    /// Only the groups of this rule.
    pub rule: Option<String>,
    /// Only groups of these tenants.
    pub tenants: Option<Vec<String>>,
    /// When it was asked (Unix ms): the flushed batches' time.
    pub at_ms: i64,
    pub tally: Arc<FlushTally>,
}

impl PartialEq for GroupFlush {
    fn eq(&self, other: &GroupFlush) -> bool {
        Arc::ptr_eq(&self.tally, &other.tally)
    }
}

impl GroupFlush {
    /// Whether a group of `rule` and `tenant` with key text `key` is one this request names.
    pub fn names(&self, rule: &str, tenant: &str, key: &str) -> bool {
        self.key == key
            && self.rule.as_deref().is_none_or(|r| r == rule)
            && self
                .tenants
                .as_ref()
                .is_none_or(|tenants| tenants.iter().any(|t| t == tenant))
    }
}

/// How a flush request went: the workers still to answer and the groups flushed so far.
#[derive(Debug)]
pub struct FlushTally {
    remaining: AtomicUsize,
    flushed: AtomicUsize,
}

impl FlushTally {
    /// A tally for a request sent to `workers` workers.
    pub fn new(workers: usize) -> FlushTally {
        FlushTally {
            remaining: AtomicUsize::new(workers),
            flushed: AtomicUsize::new(0),
        }
    }

    /// One worker has flushed `groups` groups.
    pub fn report(&self, groups: usize) {
        self.flushed.fetch_add(groups, Ordering::AcqRel);
        self.remaining.fetch_sub(1, Ordering::AcqRel);
    }

    /// The groups flushed, once every worker has answered.
    pub fn flushed(&self) -> Option<usize> {
        (self.remaining.load(Ordering::Acquire) == 0).then(|| self.flushed.load(Ordering::Acquire))
    }
}
