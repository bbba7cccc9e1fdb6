//! A table's versions: its updates, exchanged to the worker owning their key, become the
//! differential collection of `(key, version)` the lookups read through an arrangement.
//!
//! Holds each epoch's updates until the input frontier passes it, then applies them in (event
//! time, position) order: each update adds its version at the epoch, and retracts the version
//! it replaces (and a deletion its own marker) one millisecond later. So the lookups of an
//! epoch see every version an action of that epoch could need (the ones before and after an
//! update inside the epoch), and from the next epoch on a key holds its latest version only.
//! Its latest versions are the [`TableStore`]'s, which the HTTP API reads.
//!
//! With checkpoints, saves its keys' versions before applying anything at or after a
//! checkpoint's epoch; at start it adds the versions of its keys from a restored checkpoint, or
//! from the run before it (a served engine's reload), at its first epoch.

use super::{frontier_epoch, owns};
use crate::checkpoint::store::encode;
use crate::checkpoint::Checkpointer;
use crate::tables::{route, TableStore, Update, Version};
use std::collections::BTreeMap;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

/// A change of the collection: `((key, version), epoch, +1 or -1)`.
pub type Change = ((Arc<str>, Version), u64, isize);

/// The name of a table's checkpoint part.
pub fn part_name(table: &str) -> String {
    format!("table-{table}")
}

/// The collection of `store`'s table, from its `updates`.
pub fn table<'s>(
    updates: Stream<'s, u64, Vec<Update>>,
    store: Arc<TableStore>,
    checkpointer: Option<Arc<Checkpointer>>,
) -> Stream<'s, u64, Vec<Change>> {
    let scope = updates.scope();
    let (index, peers) = (scope.index(), scope.peers());
    let mut builder = OperatorBuilder::new(format!("Table {}", store.table.name), scope);
    let mut input = builder.new_input(updates, Exchange::new(|update: &Update| route(&update.key)));
    let (output, changes) = builder.new_output::<Vec<Change>>();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<Change>>>::from(output);
    let part = part_name(&store.table.name);
    builder.build(move |mut capabilities| {
        let mine = move |key: &str| owns(route(key), index, peers);
        let mut participant = checkpointer.map(|c| c.participant(&part, index));
        let initial = capabilities.pop();
        // The versions this run starts from: a restored checkpoint's, else the previous run's.
        let restored = participant
            .as_ref()
            .and_then(|p| p.restored())
            .map(|restored| {
                restored
                    .parts::<Vec<(Arc<str>, Version)>>(&part)
                    .into_iter()
                    .flat_map(|(_, versions)| versions)
                    .filter(|(key, _)| mine(key))
                    .collect::<Vec<_>>()
            });
        let start = restored.or_else(|| {
            store.seed().map(|seed| {
                seed.iter()
                    .filter(|(key, _)| mine(key))
                    .map(|(k, v)| (Arc::clone(k), v.clone()))
                    .collect()
            })
        });
        // Given on the first activation: what a constructor sends is not tracked.
        let mut start = start.zip(initial);
        let mut held: BTreeMap<u64, (Capability<u64>, Vec<Update>)> = BTreeMap::new();
        move |frontiers| {
            if let Some((start, initial)) = start.take() {
                let time = *initial.time();
                let mut out = output.activate();
                let mut session = out.session(&initial);
                for (key, version) in start {
                    store.apply(&key, Some(version.clone()));
                    session.give(((key, version), time, 1));
                }
            }
            input.for_each(|cap, data| {
                if let Some(&time) = cap.stamp().iter().next() {
                    held.entry(time)
                        .or_insert_with(|| (cap.delayed(&time, 0), Vec::new()))
                        .1
                        .append(data);
                }
            });
            let frontier = &frontiers[0];
            let mut output = output.activate();
            while let Some(entry) = held.first_entry() {
                if frontier.less_equal(entry.key()) {
                    break;
                }
                let time = *entry.key();
                if let Some(participant) = participant.as_mut() {
                    participant.reach(time, |_| encode(&store.owned(mine)));
                }
                let (capability, mut updates) = entry.remove();
                updates.sort_by(|a, b| a.version.cmp(&b.version));
                let mut changes = Vec::with_capacity(updates.len() * 2);
                // Retractions take effect after the epoch: its lookups still see them.
                let mut later = Vec::new();
                for Update { key, version } in updates {
                    let live = version.row.is_some().then(|| version.clone());
                    if live.is_none() {
                        later.push(((Arc::clone(&key), version.clone()), time + 1, -1));
                    }
                    if let Some(replaced) = store.apply(&key, live) {
                        later.push(((Arc::clone(&key), replaced), time + 1, -1));
                    }
                    changes.push(((key, version), time, 1));
                }
                output
                    .session(&capability)
                    .give_iterator(changes.into_iter());
                let next = capability.delayed(&(time + 1));
                output.session(&next).give_iterator(later.into_iter());
            }
            if let Some(participant) = participant.as_mut() {
                participant.reach(frontier_epoch(frontier), |_| encode(&store.owned(mine)));
            }
        }
    });
    changes
}
