//! A loaded checkpoint mapped onto the current plan: state refers to rules and quotas by their
//! index, so each old index maps to the new index of the rule with the same name and action
//! (and each quota to the same quota), or to nothing when the rule was removed or changed.

use super::store::{decode, Checkpoint, Layout, Manifest};
use acteon_dsl::plan::RuleAction;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    parts: BTreeMap<String, Vec<u8>>,
    /// Old rule index -> new rule index.
    rules: Vec<Option<u32>>,
    /// Old quota index -> new quota index.
    quotas: Vec<Option<usize>>,
}

impl Restored {
    /// Maps `checkpoint` onto `layout`, reporting each rule whose state is dropped.
    pub fn new(checkpoint: Checkpoint, layout: &Layout) -> Restored {
        let old = &checkpoint.manifest.layout;
        let rules = old
            .rules
            .iter()
            .map(|rule| {
                let kept = layout.rules.iter().position(|r| r == rule);
                if kept.is_none() && holds_state(&rule.action) {
                    let renamed = layout.rules.iter().any(|r| r.name == rule.name);
                    tracing::warn!(
                        rule = %rule.name,
                        "the checkpoint's state of this rule is dropped: the rule was {}",
                        if renamed { "changed" } else { "removed" }
                    );
                }
                kept.map(|i| i as u32)
            })
            .collect();
        let quotas = old
            .quotas
            .iter()
            .map(|quota| {
                let kept = layout.quotas.iter().position(|q| q == quota);
                if kept.is_none() {
                    tracing::warn!(tenant = %quota.tenant, "the checkpoint's quota counter is dropped: the quota was changed or removed");
                }
                kept
            })
            .collect();
        Restored {
            manifest: checkpoint.manifest,
            parts: checkpoint.parts,
            rules,
            quotas,
        }
    }

    pub fn epoch(&self) -> u64 {
        self.manifest.epoch
    }

    /// The current index of a rule the checkpoint knew by `old`.
    pub fn rule(&self, old: u32) -> Option<u32> {
        self.rules.get(old as usize).copied().flatten()
    }

    /// The current index of a quota the checkpoint knew by `old`.
    pub fn quota(&self, old: usize) -> Option<usize> {
        self.quotas.get(old).copied().flatten()
    }

    /// The decoded parts of one operator (`dedup`, `source`, ...), from every worker, with the
    /// worker that wrote each.
    pub fn parts<T: for<'de> Deserialize<'de>>(&self, operator: &str) -> Vec<(usize, T)> {
        let prefix = format!("{operator}/");
        self.parts
            .iter()
            .filter_map(|(name, bytes)| {
                let worker = name.strip_prefix(&prefix)?.parse().ok()?;
                match decode(bytes) {
                    Ok(state) => Some((worker, state)),
                    Err(error) => {
                        tracing::error!(part = %name, %error, "checkpoint part not restored");
                        None
                    }
                }
            })
            .collect()
    }
}

/// Rules whose operators keep state between actions.
fn holds_state(action: &RuleAction) -> bool {
    matches!(
        action,
        RuleAction::Dedup { .. }
            | RuleAction::Throttle { .. }
            | RuleAction::Group { .. }
            | RuleAction::Schedule { .. }
            | RuleAction::Chain { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::store::{Checkpoint, Manifest, RuleIdentity, FORMAT};

    fn identity(name: &str, ttl_ms: u64) -> RuleIdentity {
        RuleIdentity {
            name: name.into(),
            action: RuleAction::Dedup { ttl_ms, by: None },
        }
    }

    #[test]
    fn rules_that_kept_name_and_action_keep_their_state() {
        let old = Layout {
            rules: vec![
                identity("a", 1000),
                identity("b", 1000),
                identity("c", 1000),
            ],
            quotas: Vec::new(),
        };
        let checkpoint = Checkpoint {
            manifest: Manifest {
                format: FORMAT,
                sequence: 1,
                epoch: 100,
                workers: 1,
                written_at_ms: 0,
                layout: old,
                positions: Default::default(),
                parts: Vec::new(),
            },
            parts: Default::default(),
        };
        // `a` moved, `b` changed its TTL, `c` was removed.
        let new = Layout {
            rules: vec![identity("b", 2000), identity("a", 1000)],
            quotas: Vec::new(),
        };
        let restored = Restored::new(checkpoint, &new);
        assert_eq!(restored.rule(0), Some(1));
        assert_eq!(restored.rule(1), None);
        assert_eq!(restored.rule(2), None);
    }
}
