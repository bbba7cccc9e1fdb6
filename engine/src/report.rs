//! Live views of the audit: outcome counts per tenant, per rule and per provider, kept by
//! differential dataflow as audit records stream by, read by `--report` at the end of a run and
//! by the server while it runs.
//!
//! The audit writer counts the [`Fact`]s of each epoch it writes (an epoch's records are many,
//! their distinct facts few) and hands [`install_views`] one count per distinct fact; each
//! becomes one update per view, and one differential `count()` over the three views' keys
//! keeps every count (one arrangement rather than three). The count changes are sent to worker 0, which applies a
//! time's changes to the shared [`Views`] only once the frontier has passed that time, so a
//! reader never sees half of an epoch.

use crate::audit::record::AuditRecord;
use crate::name::Name;
use acteon_dsl::plan::Outcome;
use differential_dataflow::AsCollection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::Probe;
use timely::dataflow::operators::{Capability, Operator};
use timely::dataflow::{ProbeHandle, Stream};

/// What the views need from one audit record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Fact {
    pub tenant: Name,
    pub outcome: Outcome,
    pub rule: Option<Name>,
    /// The provider called, else the action's own provider.
    pub provider: Option<Name>,
}

impl Fact {
    pub fn of(record: &AuditRecord) -> Fact {
        Fact {
            tenant: record.tenant.clone(),
            outcome: record.outcome,
            rule: record.rule.clone(),
            provider: record.target.clone().or_else(|| record.provider.clone()),
        }
    }

    fn view_keys(self) -> [ViewKey; 3] {
        [
            (View::Tenant, self.tenant, self.outcome),
            (
                View::Rule,
                self.rule.unwrap_or(Name::from_static(NO_RULE)),
                self.outcome,
            ),
            (
                View::Provider,
                self.provider.unwrap_or(Name::from_static(NO_PROVIDER)),
                self.outcome,
            ),
        ]
    }
}

/// How many records of one epoch (the time) have one fact.
pub type FactCount = (Fact, u64, isize);

/// The views' time step: counts are settled for whole seconds of dataflow time.
const VIEW_STEP_MS: u64 = 1000;

/// Shown for records no rule decided (the action ran on its own provider, or was rejected).
pub const NO_RULE: &str = "(no rule)";
/// Shown for records with neither a target nor an own provider.
pub const NO_PROVIDER: &str = "(no provider)";

/// The three views, in the order the table shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    Tenant,
    Rule,
    Provider,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::Tenant => "tenant",
            View::Rule => "rule",
            View::Provider => "provider",
        }
    }
}

type ViewKey = (View, Name, Outcome);
/// A count change as differential emits it: `((key, count), time, +1 or -1)`.
type CountChange = ((ViewKey, isize), u64, isize);

/// One row of a view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub view: View,
    /// The tenant, rule or provider.
    pub key: String,
    pub outcome: Outcome,
    pub count: u64,
}

/// The current counts, shared: the dataflow writes, the engine's caller and the server read.
#[derive(Debug, Clone, Default)]
pub struct Views {
    counts: Arc<Mutex<BTreeMap<ViewKey, u64>>>,
}

impl Views {
    pub fn new() -> Views {
        Views::default()
    }

    /// Every count, sorted by view, then key, then outcome.
    pub fn snapshot(&self) -> Vec<Count> {
        self.lock()
            .iter()
            .map(|((view, key, outcome), count)| Count {
                view: *view,
                key: key.to_string(),
                outcome: *outcome,
                count: *count,
            })
            .collect()
    }

    /// The count of one view's row, 0 when absent.
    pub fn count(&self, view: View, key: &str, outcome: Outcome) -> u64 {
        self.lock()
            .get(&(view, Name::new(key), outcome))
            .copied()
            .unwrap_or(0)
    }

    /// A table per view: one row per tenant (rule, provider), one column per outcome that
    /// occurs in that view, and a total; rows sorted by name.
    pub fn render_table(&self) -> String {
        let counts = self.lock();
        let mut out = String::new();
        for view in [View::Tenant, View::Rule, View::Provider] {
            let rows: BTreeMap<&str, BTreeMap<Outcome, u64>> = counts
                .iter()
                .filter(|((v, _, _), _)| *v == view)
                .fold(BTreeMap::new(), |mut rows, ((_, key, outcome), count)| {
                    rows.entry(key.as_str())
                        .or_default()
                        .insert(*outcome, *count);
                    rows
                });
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&render_view(view, &rows));
        }
        out
    }

    /// Applies settled count changes; they must be sorted by time.
    fn apply(&self, changes: impl IntoIterator<Item = CountChange>) {
        let mut counts = self.lock();
        for ((key, count), _time, diff) in changes {
            // Within one time a key gets at most one retraction (its old count) and one
            // insertion (its new count), in either order; comparing with the stored count
            // keeps a retraction from removing the insertion it follows.
            if diff > 0 {
                counts.insert(key, count as u64);
            } else if counts.get(&key) == Some(&(count as u64)) {
                counts.remove(&key);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<ViewKey, u64>> {
        // Counts are replaced whole under the lock, so a panicked writer left no torn state.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn render_view(view: View, rows: &BTreeMap<&str, BTreeMap<Outcome, u64>>) -> String {
    let outcomes: Vec<Outcome> = Outcome::ALL
        .into_iter()
        .filter(|o| rows.values().any(|row| row.contains_key(o)))
        .collect();
    let mut header: Vec<String> = vec![view.name().to_string()];
    header.extend(outcomes.iter().map(|o| o.name().to_string()));
    header.push("total".into());
    let mut lines: Vec<Vec<String>> = vec![header];
    for (key, row) in rows {
        let mut line = vec![key.to_string()];
        line.extend(
            outcomes
                .iter()
                .map(|o| row.get(o).copied().unwrap_or(0).to_string()),
        );
        line.push(row.values().sum::<u64>().to_string());
        lines.push(line);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|column| lines.iter().map(|l| l[column].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (index, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                // Names read left-aligned, numbers right-aligned.
                if column == 0 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if index == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    if rows.is_empty() {
        out.push_str("(no records)\n");
    }
    out
}

/// Maintains `views` from `facts` (one per audit record, at its epoch) inside the caller's
/// dataflow. The returned probe passes an epoch once every fact before it is in `views`; it is
/// the same on every worker, though only worker 0 writes. Every worker of every process must
/// call this (it is part of the dataflow); only process 0's `views` fill up.
pub fn install_views<'scope>(
    facts: Stream<'scope, u64, Vec<FactCount>>,
    views: &Views,
) -> ProbeHandle<u64> {
    // Each distinct time costs differential a batch: counts move on a second at a time, not
    // every epoch.
    let updates = facts.flat_map(|(fact, time, count): FactCount| {
        let time = time.div_ceil(VIEW_STEP_MS) * VIEW_STEP_MS;
        fact.view_keys()
            .into_iter()
            .map(move |key| (key, time, count))
    });
    let counts = updates.as_collection().count();

    let views = views.clone();
    let (probe, _) = counts
        .inner
        .unary_frontier::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
            Exchange::new(|_: &CountChange| 0),
            "ViewCapture",
            move |_initial, _info| {
                // Changes wait here, with a capability for their time so the probe does not
                // pass the time before they are applied.
                let mut pending: BTreeMap<u64, (Capability<u64>, Vec<CountChange>)> =
                    BTreeMap::new();
                move |(input, frontier), _output| {
                    input.for_each(|cap, changes| {
                        for change in changes.drain(..) {
                            let time = change.1;
                            pending
                                .entry(time)
                                .or_insert_with(|| (cap.delayed(&time, 0), Vec::new()))
                                .1
                                .push(change);
                        }
                    });
                    let mut settled = Vec::new();
                    while let Some(entry) = pending.first_entry() {
                        if frontier.less_equal(entry.key()) {
                            break;
                        }
                        let (_capability, changes) = entry.remove();
                        settled.extend(changes);
                    }
                    if !settled.is_empty() {
                        views.apply(settled);
                    }
                }
            },
        )
        .probe();
    probe
}

#[cfg(test)]
mod tests {
    use super::*;
    use timely::dataflow::operators::core::Input;

    fn fact(tenant: &str, outcome: Outcome, rule: Option<&str>, provider: &str) -> Fact {
        Fact {
            tenant: tenant.into(),
            outcome,
            rule: rule.map(Name::from),
            provider: Some(provider.into()),
        }
    }

    /// Two workers, two epochs: the views hold epoch 0's counts once the probe passes it, and
    /// the counts of both epochs once it passes epoch 1.
    #[test]
    fn counts_follow_the_epochs_across_workers() {
        let views = Views::new();
        let shared = views.clone();
        let guards = timely::execute(timely::Config::process(2), move |worker| {
            let index = worker.index();
            let views = shared.clone();
            let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
                let (input, facts) = scope.new_input::<Vec<FactCount>>();
                (input, install_views(facts, &views))
            });
            // Each worker sees its own share of the records, as the audit path does.
            let first = [
                fact("hq", Outcome::Rerouted, Some("critical"), "alert-fanout"),
                fact("hq", Outcome::Executed, None, "metrics-queue"),
            ];
            input.send((first[index].clone(), 0, 1));
            let quiet = fact(
                "branch",
                Outcome::Suppressed,
                Some("quiet"),
                "metrics-queue",
            );
            input.send((quiet, 0, 1));
            input.advance_to(1);
            worker.step_while(|| probe.less_than(&1));
            assert_eq!(views.count(View::Tenant, "branch", Outcome::Suppressed), 2);
            assert_eq!(views.count(View::Tenant, "hq", Outcome::Rerouted), 1);
            assert_eq!(
                views.count(View::Provider, "metrics-queue", Outcome::Executed),
                1
            );
            assert_eq!(views.count(View::Rule, NO_RULE, Outcome::Executed), 1);

            // Counts settle a whole view step (a second of dataflow time) at a time.
            let critical = fact("hq", Outcome::Rerouted, Some("critical"), "alert-fanout");
            input.send((critical, 1, 1));
            input.advance_to(2);
            worker.step_while(|| probe.less_than(&2));
            assert_eq!(views.count(View::Tenant, "hq", Outcome::Rerouted), 1);
            input.advance_to(VIEW_STEP_MS + 1);
            worker.step_while(|| probe.less_than(&(VIEW_STEP_MS + 1)));
            assert_eq!(views.count(View::Tenant, "hq", Outcome::Rerouted), 3);
            assert_eq!(views.count(View::Rule, "critical", Outcome::Rerouted), 3);
            assert_eq!(
                views.count(View::Provider, "alert-fanout", Outcome::Rerouted),
                3
            );
        })
        .unwrap();
        for result in guards.join() {
            result.unwrap();
        }
        assert_eq!(views.snapshot().len(), 9);
        assert_eq!(
            views.count(View::Provider, "metrics-queue", Outcome::Suppressed),
            2
        );
    }

    #[test]
    fn a_fact_takes_the_target_else_the_own_provider() {
        let record: AuditRecord = serde_json::from_value(serde_json::json!({
            "id": "r1", "action_id": "a1", "namespace": "iot", "tenant": "hq",
            "action_type": "sensor_reading", "provider": "metrics-queue", "target": null,
            "rule": "quiet-hours", "outcome": "suppressed", "details": {}, "payload": null,
            "chain_id": null, "dispatched_at": "2026-11-28T09:00:00.000Z",
            "completed_at": "2026-11-28T09:00:00.000Z", "duration_ms": 0, "expires_at": null
        }))
        .unwrap();
        let own = Fact::of(&record);
        assert_eq!(own.provider.as_deref(), Some("metrics-queue"));
        assert_eq!(own.rule.as_deref(), Some("quiet-hours"));
        let rerouted = Fact::of(&AuditRecord {
            target: Some("alert-fanout".into()),
            ..record
        });
        assert_eq!(rerouted.provider.as_deref(), Some("alert-fanout"));
    }

    #[test]
    fn table_lists_each_view_sorted_with_totals() {
        let views = Views::new();
        views.apply([
            (((View::Tenant, "hq".into(), Outcome::Executed), 12), 0, 1),
            (((View::Tenant, "hq".into(), Outcome::Rerouted), 2), 0, 1),
            (
                ((View::Tenant, "branch".into(), Outcome::Executed), 1),
                0,
                1,
            ),
            (
                ((View::Rule, "critical".into(), Outcome::Rerouted), 2),
                0,
                1,
            ),
            (
                (
                    (View::Provider, "alert-fanout".into(), Outcome::Rerouted),
                    2,
                ),
                0,
                1,
            ),
        ]);
        let table = views.render_table();
        let expected = "\
tenant  executed  rerouted  total
------  --------  --------  -----
branch         1         0      1
hq            12         2     14

rule      rerouted  total
--------  --------  -----
critical         2      2

provider      rerouted  total
------------  --------  -----
alert-fanout         2      2
";
        assert_eq!(table, expected);
    }

    #[test]
    fn a_retraction_never_removes_the_newer_count() {
        let views = Views::new();
        let key = || (View::Tenant, Name::new("hq"), Outcome::Executed);
        views.apply([((key(), 1), 0, 1)]);
        // Differential may emit the new count before retracting the old one.
        views.apply([((key(), 2), 1, 1), ((key(), 1), 1, -1)]);
        assert_eq!(views.count(View::Tenant, "hq", Outcome::Executed), 2);
        assert!(Views::new().render_table().contains("(no records)"));
    }
}
