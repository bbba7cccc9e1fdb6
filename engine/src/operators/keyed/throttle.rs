//! Throttle: at most `limit` admitted actions per sliding window of event time, per key.
//!
//! Key: (rule, tenant, the `by` value or nothing). State: the event times of the admissions
//! still inside the window (at most `limit`), in order; forgotten once the newest has left the
//! window. An action is admitted when fewer than `limit` admissions lie in (now − window,
//! now]; otherwise it is `throttled`, with `retry_after_ms` the time until the oldest leaves.

use super::{Fingerprint, Key, Out, Window};
use crate::audit::record::Details;
use crate::checkpoint::Restored;
use crate::eval::{Evaluator, RuleKind};
use crate::operators::{Decision, Flow};
use acteon_dsl::plan::Outcome;
use std::collections::VecDeque;
use std::sync::Arc;

pub struct Throttle {
    pub evaluator: Arc<Evaluator>,
}

impl Throttle {
    fn window_ms(&self, rule: u32) -> i64 {
        match self.evaluator.rule(rule).kind {
            RuleKind::Throttle { window_ms, .. } => window_ms as i64,
            _ => 0,
        }
    }
}

/// Admissions of one key, oldest first, with the window they were admitted under.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Admitted {
    times: VecDeque<i64>,
    window_ms: i64,
}

impl Window for Throttle {
    type State = Admitted;
    const NAME: &'static str = "throttle";

    fn key(&self, flow: &Flow) -> Option<Key> {
        let rule = flow.next_rule;
        let RuleKind::Throttle { by, .. } = &self.evaluator.rule(rule).kind else {
            return None;
        };
        let mut print = Fingerprint::default();
        print
            .text(&flow.action.tenant)
            .field(by.as_ref().and_then(|by| by.read(&flow.action)));
        Some(print.key(rule))
    }

    fn decide(&self, key: Key, state: &mut Option<Admitted>, mut flow: Flow, out: &mut Out) {
        let RuleKind::Throttle { limit, .. } = self.evaluator.rule(key.rule).kind else {
            out.passed.push(flow);
            return;
        };
        let window_ms = self.window_ms(key.rule);
        let now = flow.action.event_time_ms;
        let admitted = state.get_or_insert_with(|| Admitted {
            times: VecDeque::new(),
            window_ms,
        });
        admitted.window_ms = window_ms;
        // The window is (now − window, now]: older admissions no longer count.
        while admitted
            .times
            .front()
            .is_some_and(|&t| t <= now - window_ms)
        {
            admitted.times.pop_front();
        }
        if (admitted.times.len() as u64) < limit {
            // Actions are decided in event-time order, so this is the newest admission; an
            // equal time goes after its equals.
            let at = admitted.times.partition_point(|&t| t <= now);
            admitted.times.insert(at, now);
            flow.next_rule = key.rule + 1;
            out.passed.push(flow);
            return;
        }
        let oldest = admitted.times.front().copied().unwrap_or(now);
        let details = Details::new()
            .with("retry_after_ms", oldest + window_ms - now)
            .with("limit", limit)
            .with("window_ms", window_ms);
        out.decided.push(Decision::record(
            flow,
            Some(key.rule),
            Outcome::Throttled,
            details,
        ));
    }

    fn expires(&self, admitted: &Admitted) -> i64 {
        admitted
            .times
            .back()
            .map_or(i64::MIN, |&last| last.saturating_add(admitted.window_ms))
    }

    fn restore(&self, key: Key, restored: &Restored) -> Option<Key> {
        Some(Key {
            rule: restored.rule(key.rule)?,
            ..key
        })
    }
}
