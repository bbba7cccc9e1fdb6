//! A lookup: each action joined with the row of its key in one table, as of its event time.
//!
//! Actions come exchanged by the hash of their key (the table's arrangement is partitioned the
//! same way, so the key's versions are on this worker); an action without a key (the field is
//! missing, or not a string) finds no row and goes on at once. The others wait, with a
//! capability for their epoch, until the arrangement's frontier has passed that epoch: then
//! every version of the key with a time up to the epoch is in the trace. An action reads the
//! greatest version (by event time, then the update's position) whose time is at or before
//! its own event time; a deletion reads as no row. Versions later than the action's event time
//! in the same epoch are in the trace too, and are passed over.
//!
//! The operator reads the shared trace through its own handle, and lets the trace forget the
//! history of epochs no action can still be held at.

use super::Flow;
use crate::eval::{Accessor, Field};
use crate::tables::{route, Version};
use differential_dataflow::operators::arrange::TraceAgent;
use differential_dataflow::trace::cursor::{cursor_list, Cursor};
use differential_dataflow::trace::implementations::ValSpine;
use differential_dataflow::trace::TraceReader;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::progress::frontier::{Antichain, AntichainRef};

/// A table's arrangement: each key's versions, with their epochs and differences.
pub type TableTrace = TraceAgent<ValSpine<Arc<str>, Version, u64, isize>>;

/// What a lookup needs: which lookup it is (the slot of the action's rows it fills, of
/// `lookups`), the action field holding the key, and the table's arrangement.
pub struct LookupSettings {
    pub lookup: u32,
    pub lookups: usize,
    pub key: Arc<Accessor>,
    pub trace: TableTrace,
}

/// Joins `flows` with the table whose arranged batches are `arranged` (read for its frontier).
pub fn lookup<'s, B: Clone + 'static>(
    flows: Stream<'s, u64, Vec<Flow>>,
    arranged: Stream<'s, u64, Vec<B>>,
    settings: LookupSettings,
) -> Stream<'s, u64, Vec<Flow>> {
    let LookupSettings {
        lookup,
        lookups,
        key,
        mut trace,
    } = settings;
    let mut builder = OperatorBuilder::new(format!("Lookup{lookup}"), flows.scope());
    let route_key = Arc::clone(&key);
    let mut flows = builder.new_input(
        flows,
        Exchange::new(move |flow: &Flow| match key_of(&route_key, flow) {
            Some(key) => route(&key),
            None => flow.spread(),
        }),
    );
    let mut batches = builder.new_input(arranged, Pipeline);
    let (output, stream) = builder.new_output::<Vec<Flow>>();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(output);
    builder.build(move |_capabilities| {
        let mut held: BTreeMap<u64, (Capability<u64>, Vec<Flow>)> = BTreeMap::new();
        move |frontiers| {
            let mut output = output.activate();
            flows.for_each(|cap, data| {
                let Some(&time) = cap.stamp().iter().next() else {
                    return;
                };
                let (keyed, keyless): (Vec<Flow>, Vec<Flow>) = data
                    .drain(..)
                    .partition(|flow| key_of(&key, flow).is_some());
                output
                    .session(&cap)
                    .give_iterator(keyless.into_iter().map(|mut flow| {
                        flow.action.rows.set(lookup, lookups, None);
                        flow
                    }));
                if !keyed.is_empty() {
                    held.entry(time)
                        .or_insert_with(|| (cap.delayed(&time, 0), Vec::new()))
                        .1
                        .extend(keyed);
                }
            });
            batches.for_each(|_, data| data.clear());
            let table = &frontiers[1];
            while let Some(entry) = held.first_entry() {
                if table.less_equal(entry.key()) {
                    break;
                }
                let (capability, mut flows) = entry.remove();
                join(
                    &mut trace,
                    *capability.time(),
                    &mut flows,
                    &key,
                    lookup,
                    lookups,
                );
                output.session(&capability).give_iterator(flows.into_iter());
            }
            // No action can come or wait at a time before these: the trace may merge them.
            let mut upto = Antichain::new();
            for time in frontiers[0].frontier().iter().chain(held.keys()) {
                upto.insert(*time);
            }
            trace.set_logical_compaction(upto.borrow());
            trace.set_physical_compaction(upto.borrow());
        }
    });
    stream
}

/// The key an action looks the table up by: the field's text, when it is a string.
fn key_of<'a>(key: &'a Accessor, flow: &'a Flow) -> Option<Cow<'a, str>> {
    match key.read(&flow.action)? {
        Field::Text(text) => Some(text),
        Field::Json(serde_json::Value::String(text)) => Some(Cow::Borrowed(text)),
        _ => None,
    }
}

/// Fills each of `flows` (all of epoch `epoch`) with its key's version as of its event time.
fn join(
    trace: &mut TableTrace,
    epoch: u64,
    flows: &mut [Flow],
    key: &Accessor,
    lookup: u32,
    lookups: usize,
) {
    let Some(batches) = trace.batches_through(AntichainRef::new(&[])) else {
        return;
    };
    let (mut cursor, storage) = cursor_list(batches);
    // Keys in order, so the cursor only moves forward.
    let mut order: Vec<(Arc<str>, usize)> = flows
        .iter()
        .enumerate()
        .filter_map(|(i, flow)| Some((Arc::from(key_of(key, flow)?), i)))
        .collect();
    order.sort_unstable();
    let mut versions: Vec<(Version, isize)> = Vec::new();
    let mut current: Option<Arc<str>> = None;
    for (wanted, index) in order {
        if current.as_deref() != Some(&*wanted) {
            versions.clear();
            cursor.seek_key(&storage, &wanted);
            if cursor.get_key(&storage) == Some(&wanted) {
                while let Some(version) = cursor.get_val(&storage) {
                    let mut count = 0;
                    cursor.map_times(&storage, |time, diff| {
                        if *time <= epoch {
                            count += *diff;
                        }
                    });
                    if count > 0 {
                        versions.push((version.clone(), count));
                    }
                    cursor.step_val(&storage);
                }
            }
            current = Some(wanted);
        }
        let flow = &mut flows[index];
        let at = flow.action.event_time_ms;
        // Versions are in order: the last one at or before the action's time is its row.
        let row = versions
            .iter()
            .rev()
            .find(|(version, _)| version.at_ms <= at)
            .and_then(|(version, _)| version.row.clone());
        flow.action.rows.set(lookup, lookups, row);
    }
}
