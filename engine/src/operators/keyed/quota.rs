//! Quotas: per tenant (and namespace, when the quota names one), fixed windows of event time,
//! checked before any rule.
//!
//! Key: (the first quota that applies, the tenant). State: the current window and how many
//! actions it admitted; forgotten once the window has ended. Over the limit, a `block` quota
//! decides `quota_exceeded`; a `warn` quota lets the action through and notes it on the
//! action's deciding record.

use super::{Fingerprint, Key, Out, Window};
use crate::audit::record::Details;
use crate::checkpoint::Restored;
use crate::operators::{Decision, Flow};
use acteon_dsl::plan::{Outcome, Quota, QuotaExceed};

pub struct Quotas {
    pub quotas: Vec<Quota>,
}

/// One quota's current window.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    /// The window's index: event time divided by the window's length.
    window: i64,
    window_ms: i64,
    admitted: u64,
}

impl Window for Quotas {
    type State = Counter;
    const NAME: &'static str = "quota";

    fn key(&self, flow: &Flow) -> Option<Key> {
        let action = &flow.action;
        let index = self.quotas.iter().position(|q| {
            q.tenant == *action.tenant
                && q.namespace
                    .as_deref()
                    .is_none_or(|ns| ns == &*action.namespace)
        })?;
        let mut print = Fingerprint::default();
        print.text(&action.tenant);
        Some(print.key(index as u32))
    }

    fn decide(&self, key: Key, state: &mut Option<Counter>, mut flow: Flow, out: &mut Out) {
        let quota = &self.quotas[key.rule as usize];
        let window_ms = quota.window_ms.max(1) as i64;
        let window = flow.action.event_time_ms.div_euclid(window_ms);
        let counter = state.get_or_insert(Counter {
            window,
            window_ms,
            admitted: 0,
        });
        // Actions are decided in event-time order, so windows only move forward.
        if counter.window != window {
            *counter = Counter {
                window,
                window_ms,
                admitted: 0,
            };
        }
        counter.admitted += 1;
        if counter.admitted <= quota.limit {
            out.passed.push(flow);
            return;
        }
        match quota.on_exceed {
            QuotaExceed::Warn => {
                flow.quota_warning = Some((quota.limit, quota.window_ms));
                out.passed.push(flow);
            }
            QuotaExceed::Block => {
                let details = Details::new().with(
                    "quota",
                    Details::new()
                        .with("limit", quota.limit)
                        .with("window_ms", quota.window_ms)
                        .with("behaviour", "block"),
                );
                out.decided.push(Decision::record(
                    flow,
                    None,
                    Outcome::QuotaExceeded,
                    details,
                ));
            }
        }
    }

    fn expires(&self, counter: &Counter) -> i64 {
        (counter.window + 1).saturating_mul(counter.window_ms)
    }

    fn restore(&self, key: Key, restored: &Restored) -> Option<Key> {
        Some(Key {
            rule: restored.quota(key.rule as usize)? as u32,
            ..key
        })
    }
}
