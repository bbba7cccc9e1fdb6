//! Dedup: the first sighting of a key within the TTL passes, a repeat is `deduplicated`.
//!
//! Key: (rule, tenant, the `by` value, else the action's `dedup_key`, else its id). State: the
//! time the first sighting's window ends (a repeat does not extend it); forgotten once that
//! time has passed.
//!
//! With [`SharedWindows`] (a served engine), every window opened is also noted there, and a
//! key this worker has no state for is looked up there: a later dataflow running a changed
//! plan (a reload) then still drops repeats for the dedup rules that did not change.

use super::{Fingerprint, Key, Out, Window};
use crate::audit::record::Details;
use crate::checkpoint::Restored;
use crate::eval::{Evaluator, RuleKind};
use crate::operators::{Decision, Flow};
use acteon_dsl::plan::Outcome;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};

pub struct Dedup {
    pub evaluator: Arc<Evaluator>,
    pub shared: Option<SharedWindows>,
}

impl Dedup {
    /// The key's text, as the `deduplicated` record shows it.
    fn key_text(&self, flow: &Flow) -> String {
        let action = &flow.action;
        let mut text = String::new();
        match self.by(flow) {
            Some(field) => field.push_key(&mut text),
            None => text.push_str(action.dedup_key.as_deref().unwrap_or(&action.id)),
        }
        text
    }

    fn by<'a>(&'a self, flow: &'a Flow) -> Option<crate::eval::Field<'a>> {
        match &self.evaluator.rule(flow.next_rule).kind {
            RuleKind::Dedup { by: Some(by), .. } => by.read(&flow.action),
            _ => None,
        }
    }
}

impl Window for Dedup {
    /// When the key's window ends (event time, ms).
    type State = i64;
    const NAME: &'static str = "dedup";

    fn key(&self, flow: &Flow) -> Option<Key> {
        let rule = flow.next_rule;
        if !matches!(self.evaluator.rule(rule).kind, RuleKind::Dedup { .. }) {
            return None;
        }
        let action = &flow.action;
        let mut print = Fingerprint::default();
        print.text(&action.tenant);
        match self.by(flow) {
            Some(field) => print.field(Some(field)),
            None => print.text(action.dedup_key.as_deref().unwrap_or(&action.id)),
        };
        Some(print.key(rule))
    }

    fn decide(&self, key: Key, state: &mut Option<i64>, mut flow: Flow, out: &mut Out) {
        let RuleKind::Dedup { ttl_ms, .. } = self.evaluator.rule(key.rule).kind else {
            out.passed.push(flow);
            return;
        };
        let now = flow.action.event_time_ms;
        let identity = self
            .shared
            .as_ref()
            .and_then(|shared| Some((&shared.memory, *shared.identities.get(key.rule as usize)?)));
        let known = state.or_else(|| {
            let (memory, identity) = identity?;
            memory.expiry(identity, key.print)
        });
        match known {
            Some(expiry) if now < expiry => {
                let details = Details::new()
                    .with("dedup_key", self.key_text(&flow))
                    .with("expires_in_ms", expiry - now);
                out.decided.push(Decision::record(
                    flow,
                    Some(key.rule),
                    Outcome::Deduplicated,
                    details,
                ));
            }
            _ => {
                let expiry = now.saturating_add(ttl_ms as i64);
                if let Some((memory, identity)) = identity {
                    memory.open(identity, key.print, expiry, now);
                }
                *state = Some(expiry);
                flow.next_rule = key.rule + 1;
                out.passed.push(flow);
            }
        }
    }

    fn expires(&self, expiry: &i64) -> i64 {
        *expiry
    }

    fn restore(&self, key: Key, restored: &Restored) -> Option<Key> {
        Some(Key {
            rule: restored.rule(key.rule)?,
            ..key
        })
    }
}

/// Dedup windows shared by successive dataflows, keyed by rule identity (a hash of its name
/// and its dedup settings: a rule whose settings change starts afresh) and the key's
/// fingerprint. Clones share.
#[derive(Debug, Clone, Default)]
pub struct DedupMemory {
    windows: Arc<Mutex<FxHashMap<WindowKey, i64>>>,
}

/// (rule identity, key fingerprint).
type WindowKey = (u64, [u64; 2]);

/// Windows written between two sweeps of expired ones.
const SWEEP_EVERY: usize = 4096;

impl DedupMemory {
    pub fn new() -> DedupMemory {
        DedupMemory::default()
    }

    /// The identity of each rule of `plan`, by rule index: what must not change for a rule's
    /// windows to carry over.
    pub fn identities(plan: &acteon_dsl::plan::Plan) -> Vec<u64> {
        plan.rules
            .iter()
            .map(|rule| {
                let settings = serde_json::to_string(&rule.action).unwrap_or_default();
                xxhash_rust::xxh3::xxh3_64(format!("{}\n{settings}", rule.name).as_bytes())
            })
            .collect()
    }

    fn expiry(&self, identity: u64, print: [u64; 2]) -> Option<i64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.get(&(identity, print)).copied()
    }

    fn open(&self, identity: u64, print: [u64; 2], expiry: i64, now: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.insert((identity, print), expiry);
        if windows.len().is_multiple_of(SWEEP_EVERY) {
            windows.retain(|_, &mut expiry| expiry > now);
        }
    }
}

/// A [`DedupMemory`] and the identities of the running plan's rules.
#[derive(Debug, Clone)]
pub struct SharedWindows {
    pub memory: DedupMemory,
    pub identities: Arc<Vec<u64>>,
}
