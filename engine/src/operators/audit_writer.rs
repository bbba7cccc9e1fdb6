//! The audit writer: one per process (every entry goes to its process's first worker, so a
//! decision is audited where it is made, and a one-process run has one audit), writing each
//! completed epoch's entries sorted by (event time, input position, record place), so a replay
//! writes a byte-identical audit whatever the number of workers. Entries arrive rendered (each
//! worker renders what it decides): the writer only orders them.
//!
//! Holds each epoch's entries, and a capability for the epoch on its output, until the input
//! frontier passes the epoch; then writes them, counts their facts for the live views (its
//! output: one count per distinct fact of the epoch), calls `written` (which flushes), and
//! drops the capability. So a probe on the output passes an epoch only once its audit is out,
//! which is what a feed's offset commits wait for. With checkpoints, the process's writer then
//! marks every checkpoint whose epoch its input frontier passed as audited.

use super::AuditEntry;
use crate::action::{api_worker, Position};
use crate::checkpoint::Checkpointer;
use crate::report::{Fact, FactCount};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

/// Which worker writes an audit line: always the first worker of some process, which writes
/// that process's audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditRoute {
    /// The process that made the decision (`leader`: its first worker). A run's processes'
    /// audits together are the run's audit.
    Decider { leader: u64 },
    /// The process that received the action over HTTP (its request token names the worker
    /// that read it). A served cluster answers each dispatch decided in another process from
    /// the records written in the process that received it. Other actions (a Kafka source's,
    /// group batches, scheduled releases) stay with the decider (`leader`).
    Entry { workers: u64, leader: u64 },
}

impl AuditRoute {
    /// This process's first worker.
    fn leader(&self) -> u64 {
        match *self {
            AuditRoute::Decider { leader } | AuditRoute::Entry { leader, .. } => leader,
        }
    }

    pub fn worker(&self, entry: &AuditEntry) -> u64 {
        match (*self, entry.order.1) {
            // The first worker of the process whose lane read the request.
            (AuditRoute::Entry { workers, .. }, Position::Api(token)) => {
                api_worker(token) / workers * workers
            }
            _ => self.leader(),
        }
    }
}

/// `write` receives the audit entries `route` sends to this worker, in written order; `written`
/// is called after each batch of completed epochs (`true`), and whenever the frontier moves,
/// with the time before which everything is written. Returns the count of each fact of each
/// written epoch (for [`crate::report::install_views`]); its frontier passes an epoch once
/// the epoch is written.
pub fn audit_writer<'s>(
    lines: Vec<Stream<'s, u64, Vec<AuditEntry>>>,
    route: AuditRoute,
    mut write: impl FnMut(AuditEntry) + 'static,
    mut written: impl FnMut(u64, bool) + 'static,
    checkpointer: Option<Arc<Checkpointer>>,
) -> Option<Stream<'s, u64, Vec<FactCount>>> {
    let scope = lines.first().map(Stream::scope)?;
    // Checkpoints are taken in one process only, whose audit is all on its first worker.
    let checkpointer = checkpointer.filter(|_| scope.index() as u64 == route.leader());
    let mut builder = OperatorBuilder::new("AuditWriter".to_owned(), scope);
    let mut inputs: Vec<_> = lines
        .into_iter()
        .map(|stream| builder.new_input(stream, Exchange::new(move |line| route.worker(line))))
        .collect();
    let (output, counted) = builder.new_output::<Vec<FactCount>>();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<FactCount>>>::from(output);
    builder.build(move |_capabilities| {
        let mut held: BTreeMap<u64, (Capability<u64>, Vec<AuditEntry>)> = BTreeMap::new();
        let mut facts: FxHashMap<Fact, isize> = FxHashMap::default();
        let mut through = 0;
        move |frontiers| {
            let mut output = output.activate();
            for input in inputs.iter_mut() {
                input.for_each(|cap, data| {
                    if let Some(&time) = cap.stamp().iter().next() {
                        held.entry(time)
                            .or_insert_with(|| (cap.delayed(&time, 0), Vec::new()))
                            .1
                            .append(data);
                    }
                });
            }
            let mut released = Vec::new();
            while let Some(entry) = held.first_entry() {
                if frontiers.iter().any(|f| f.less_equal(entry.key())) {
                    break;
                }
                let (capability, mut epoch) = entry.remove();
                // Orders are unique but for a group's batch beside its first member's record
                // at one time: the line breaks that tie.
                epoch.sort_unstable_by(|a, b| {
                    a.order.cmp(&b.order).then_with(|| a.line.cmp(&b.line))
                });
                let time = *capability.time();
                for entry in epoch {
                    *facts.entry(entry.fact.clone()).or_default() += 1;
                    write(entry);
                }
                output
                    .session(&capability)
                    .give_iterator(facts.drain().map(|(fact, n)| (fact, time, n)));
                released.push(capability);
            }
            let now_through = frontiers
                .iter()
                .map(|f| f.frontier().iter().min().copied().unwrap_or(u64::MAX))
                .min()
                .unwrap_or(u64::MAX);
            let now_through = held
                .keys()
                .next()
                .map_or(now_through, |&t| t.min(now_through));
            if !released.is_empty() || now_through != through {
                through = now_through;
                written(through, !released.is_empty());
            }
            if let Some(checkpointer) = &checkpointer {
                checkpointer.audited(|epoch| frontiers.iter().all(|f| !f.less_than(&epoch)));
            }
        }
    });
    Some(counted)
}
