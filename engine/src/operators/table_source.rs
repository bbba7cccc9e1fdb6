//! A table's source: its file's rows (at the start), its topic's records and the updates sent
//! over the HTTP API, each stamped with the epoch it takes effect at, as the table's updates.
//!
//! Holds one capability. While its topic has lanes that are not caught up, the capability stays
//! at the slowest of them (the last epoch each emitted at), so the lookups of later epochs wait
//! for the records still to come; once every lane is caught up (or the table has no topic) it
//! follows the actions' frontier, so a quiet table never holds actions back. An update takes
//! effect at its time (a row's `updated_at`, else the record's timestamp, else when it arrived;
//! an HTTP update when it arrived), or, when that is behind what the source may still emit (the
//! capability, or its lane's last epoch), at the start of that epoch: an update arriving behind
//! the frontier takes effect at the frontier. Within a lane, epochs never go back.
//!
//! With checkpoints, cuts whenever its capability passes a checkpoint's epoch: per lane, the
//! first offset it emitted at or after the epoch (else the next to read), from which the topic
//! is read again after a restore.

use super::frontier_epoch;
use crate::checkpoint::store::encode;
use crate::checkpoint::Checkpointer;
use crate::feed::Polled;
use crate::tables::{
    CompiledTable, RowPosition, TableReader, TableRecord, TableStore, Update, Version,
};
use crate::time::{wall_clock_ms, Epochs};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;

/// Records read per activation before the source yields to the rest of the dataflow.
const BATCH: usize = 1024;

/// The name of a table source's checkpoint part.
pub fn part_name(table: &str) -> String {
    format!("table-source-{table}")
}

/// A table source's cut: per lane, the offset to read again from after a restore.
pub type TableCut = BTreeMap<i32, i64>;

/// What one worker's source of one table reads.
pub struct TableSourceSettings {
    pub table: Arc<CompiledTable>,
    pub store: Arc<TableStore>,
    /// The file's rows, when this worker reads them (the run's first worker, unless the rows
    /// come from a checkpoint or the run before).
    pub rows: Vec<Update>,
    /// The topic's reader, when this worker reads it (the run's first worker).
    pub reader: Option<Box<dyn TableReader>>,
    /// Whether this worker takes the HTTP API's updates (each process's first worker).
    pub http: bool,
    pub epochs: Epochs,
    pub checkpointer: Option<Arc<Checkpointer>>,
}

/// A topic lane's progress.
#[derive(Default)]
struct Lane {
    /// The epoch it last emitted at: its next record goes out at this epoch or later.
    floor: u64,
    caught_up: bool,
    /// The next offset to read.
    next: Option<i64>,
    /// (epoch, first offset emitted at it), for the epochs a checkpoint may still cut at.
    runs: VecDeque<(u64, i64)>,
}

/// The source of one table; `actions` carries the frontier of the actions that look it up.
pub fn table_source<'s>(
    actions: Stream<'s, u64, Vec<()>>,
    settings: TableSourceSettings,
) -> Stream<'s, u64, Vec<Update>> {
    let TableSourceSettings {
        table,
        store,
        rows,
        mut reader,
        http,
        epochs,
        checkpointer,
    } = settings;
    let scope = actions.scope();
    let worker = scope.index();
    let mut builder = OperatorBuilder::new(format!("TableSource {}", table.table.name), scope);
    let info = builder.operator_info();
    let activator = scope.activator_for(std::rc::Rc::clone(&info.address));
    let sync_activator = scope.worker().sync_activator_for(info.address.to_vec());
    let mut actions = builder.new_input(actions, Pipeline);
    let (output, updates) = builder.new_output::<Vec<Update>>();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<Update>>>::from(output);
    let part = part_name(&table.table.name);
    builder.build_reschedule(move |mut capabilities| {
        let mut capability = capabilities.pop();
        if http {
            store.listen(sync_activator);
        }
        let mut participant = checkpointer.map(|c| c.participant(&part, worker));
        if let (Some(restored), Some(capability)) = (
            participant.as_ref().and_then(|p| p.restored()),
            capability.as_mut(),
        ) {
            capability.downgrade(&restored.epoch());
        }
        let mut rows = Some(rows);
        let mut lanes: BTreeMap<i32, Lane> = BTreeMap::new();
        if let Some(reader) = &reader {
            for lane in reader.lanes() {
                lanes.entry(lane).or_default();
            }
        }
        let mut record = TableRecord::default();
        let mut idle_polls = 0u32;
        move |frontiers| {
            actions.for_each(|_, data| data.clear());
            let Some(cap) = capability.as_mut() else {
                return false;
            };
            let now = *cap.time();
            let mut emitted: BTreeMap<u64, Vec<Update>> = BTreeMap::new();
            if let Some(rows) = rows.take() {
                emitted.entry(now).or_default().extend(rows);
            }
            let mut pending = false;
            let mut ended = false;
            let mut read = 0;
            if let Some(reader) = reader.as_mut() {
                while read < BATCH {
                    match reader.poll(&mut record) {
                        Polled::Record {
                            lane,
                            offset,
                            timestamp_ms,
                        } => {
                            read += 1;
                            let state = lanes.entry(lane).or_default();
                            state.caught_up = false;
                            state.next = Some(offset + 1);
                            let position = RowPosition::Kafka {
                                partition: lane,
                                offset,
                            };
                            let Some((key, row)) = parse(&table, &record, position) else {
                                continue;
                            };
                            let time_ms = row
                                .as_ref()
                                .and_then(|row| table.updated_at(row))
                                .or(timestamp_ms)
                                .unwrap_or_else(wall_clock_ms);
                            let (epoch, at_ms) = effective(epochs, time_ms, state.floor.max(now));
                            if state.runs.back().is_none_or(|(e, _)| *e != epoch) {
                                state.runs.push_back((epoch, offset));
                            }
                            state.floor = epoch;
                            emitted.entry(epoch).or_default().push(Update {
                                key,
                                version: Version {
                                    at_ms,
                                    position,
                                    row,
                                },
                            });
                        }
                        Polled::CaughtUp { lane } => lanes.entry(lane).or_default().caught_up = true,
                        // A table's feed gives records; actions and requests come from others.
                        Polled::Decoded { .. } | Polled::FlushGroups(_) => {}
                        Polled::Pending => {
                            pending = true;
                            break;
                        }
                        Polled::Ended => {
                            lanes.values_mut().for_each(|l| l.caught_up = true);
                            ended = true;
                            break;
                        }
                    }
                }
            }
            if ended {
                reader = None;
            }
            if http {
                for inbound in store.take_inbox() {
                    let position = RowPosition::Api(inbound.sequence);
                    let row = match inbound.row.as_deref().map(|text| table.row(text)) {
                        Some(Ok((_, row))) => Some(row),
                        Some(Err(reason)) => {
                            // The API checks a row before sending it; this is a bug, not input.
                            tracing::error!(table = %table.table.name, %reason, "an HTTP row is not a row");
                            continue;
                        }
                        None => None,
                    };
                    let (epoch, at_ms) = effective(epochs, inbound.at_ms, now);
                    emitted.entry(epoch).or_default().push(Update {
                        key: inbound.key,
                        version: Version {
                            at_ms,
                            position,
                            row,
                        },
                    });
                }
            }
            let mut out = output.activate();
            for (epoch, updates) in emitted {
                out.session(&cap.delayed(&epoch))
                    .give_iterator(updates.into_iter());
            }
            // The slowest lane still reading holds the table back; else the actions lead.
            let reading = lanes
                .values()
                .filter(|l| !l.caught_up)
                .map(|l| l.floor.max(now))
                .min();
            let actions_at = frontier_epoch(&frontiers[0]);
            let target = reading.unwrap_or(actions_at);
            if let Some(participant) = participant.as_mut() {
                participant.reach(target, |epoch| encode(&cut(&lanes, epoch)));
            }
            // A checkpoint is only ever requested above the actions' frontier: runs wholly
            // before it are cut at no more.
            for lane in lanes.values_mut() {
                while lane.runs.len() > 1 && lane.runs[1].0 <= actions_at {
                    lane.runs.pop_front();
                }
            }
            if target == u64::MAX {
                capability = None;
                return false;
            }
            if target > now {
                cap.downgrade(&target);
            }
            if read == BATCH {
                idle_polls = 0;
                activator.activate();
            } else if reader.is_some() && pending {
                let delay_ms = (1u64 << idle_polls.min(16)).min(epochs.length_ms());
                idle_polls += 1;
                activator.activate_after(Duration::from_millis(delay_ms));
            }
            true
        }
    });
    updates
}

/// When an update of time `time_ms` takes effect, if the source can emit no earlier than
/// `floor`: (its epoch, its time); an update behind `floor` takes effect at its start.
fn effective(epochs: Epochs, time_ms: i64, floor: u64) -> (u64, i64) {
    let epoch = epochs.of(time_ms);
    match epoch < floor {
        true => (floor, floor as i64),
        false => (epoch, time_ms),
    }
}

/// A topic record as an update's key and row (`None`: it deletes); `None` when it is neither,
/// which is logged with where it was read.
fn parse(
    table: &CompiledTable,
    record: &TableRecord,
    position: RowPosition,
) -> Option<(Arc<str>, Option<crate::payload::Payload>)> {
    let key = record
        .key
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(String::from_utf8_lossy);
    if record.deletes() {
        return match key {
            Some(key) => Some((Arc::from(&*key), None)),
            None => {
                tracing::warn!(table = %table.table.name, ?position, "a deletion without a key is ignored");
                None
            }
        };
    }
    let text = String::from_utf8_lossy(&record.value);
    match table.row(&text) {
        // The record's key names the row; the row's own key field when it has none.
        Ok((own, row)) => Some((key.map_or(own, |k| Arc::from(&*k)), Some(row))),
        Err(reason) => {
            tracing::warn!(table = %table.table.name, ?position, %reason, "a record that is not a row is ignored");
            None
        }
    }
}

/// Where each lane is read again from after a restore of a checkpoint at `epoch`.
fn cut(lanes: &BTreeMap<i32, Lane>, epoch: u64) -> TableCut {
    lanes
        .iter()
        .filter_map(|(&lane, state)| {
            let from = state
                .runs
                .iter()
                .find(|(e, _)| *e >= epoch)
                .map(|(_, offset)| *offset)
                .or(state.next)?;
            Some((lane, from))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_behind_what_the_source_may_emit_takes_effect_there() {
        let epochs = Epochs::new(100);
        // Ahead of the floor: its own epoch and time.
        assert_eq!(effective(epochs, 1_250, 1_000), (1_200, 1_250));
        // In the floor's epoch: still its own time.
        assert_eq!(effective(epochs, 1_050, 1_000), (1_000, 1_050));
        // Behind it: the start of the floor's epoch, so every later action sees it.
        assert_eq!(effective(epochs, 700, 1_000), (1_000, 1_000));
    }

    #[test]
    fn a_cut_reads_each_lane_again_from_its_first_offset_at_the_epoch() {
        let lane = |runs: &[(u64, i64)], next| Lane {
            floor: 0,
            caught_up: true,
            next,
            runs: runs.iter().copied().collect(),
        };
        let lanes = BTreeMap::from([
            (0, lane(&[(100, 5), (200, 9)], Some(12))),
            (1, lane(&[(100, 3)], Some(4))),
            (2, lane(&[], None)),
        ]);
        // Lane 0 emitted offsets 9.. at 200; lane 1 nothing since 100: its next offset.
        assert_eq!(cut(&lanes, 200), BTreeMap::from([(0, 9), (1, 4)]));
        assert_eq!(cut(&lanes, 100), BTreeMap::from([(0, 5), (1, 3)]));
    }
}
