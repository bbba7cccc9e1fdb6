//! The source: reads this worker's share of the input lines, decodes each once, and stamps it
//! with its epoch.
//!
//! Holds one capability per output. On the event clock it sits at the epoch of (the largest
//! event time read so far − the allowed lateness), and every action goes out at its own
//! epoch, so the operators after it decide each epoch's actions once all of them are in, in
//! event-time order. Lateness is judged per input, not per worker: an action is late when its
//! event time is more than the allowed lateness below the largest event time at an earlier
//! position of its file (every worker reads every line's `created_at`, decoding only its own
//! lines) or of its partition. A late action is not decided: it is audited `late` and written
//! to the dead letters, from which it can be fed again. Rejected and late records go out at
//! the epoch of the input's event time at their position, so where they land in the audit does
//! not depend on how the input was shared out. On the processing clock the capability follows
//! the wall clock, waking itself every epoch even when no input arrives, so held actions are
//! released. Both capabilities are dropped when the input ends.
//!
//! A feed (Kafka) is read by lanes (partitions): on the event clock the capability follows the
//! slowest lane that is not caught up, and a worker whose lanes are all caught up follows the
//! other workers. The source also holds, per lane, the positions it emitted in each epoch, until
//! the probe after the audit writer passes that epoch plus the plan's longest hold: then it
//! hands them to the feed to commit. Whatever the input, while more than [`MAX_IN_FLIGHT`]
//! emitted records wait for the probe, it stops reading (backpressure), so a fast file does
//! not pile up in front of a slower dataflow; likewise while a sink buffer is full. When a feed ends, the operator stays until
//! the probe is done, to complete and close the feed.
//!
//! With checkpoints, the source cuts whenever its capability passes a checkpoint's epoch (see
//! [`crate::checkpoint::cut`]), marks checkpoints whose audit is written, and hands the feed
//! only the positions of stored checkpoints to commit. At start it resumes from the restored
//! cut: its capability at the checkpoint's epoch, the cut's pending records emitted again,
//! lines already read skipped (a feed is opened at the cut's positions).

use super::decided::DecidedFrontier;
use super::{position_details, AuditEntry, DeadLetter, Flow, Renderer};
use crate::action::{Action, Position};
use crate::audit::buffer::Backpressure;
use crate::audit::record::{AuditRecord, RecordId};
use crate::checkpoint::cut::{LaneCut, Pending, SourceCheckpoints, SourceCut};
use crate::checkpoint::Checkpointer;
use crate::control::GroupFlush;
use crate::decode::{created_at_of, generated_id, Decoder, Rejection};
use crate::feed::{FeedReader, Polled};
use crate::name::Name;
use crate::time::{parse_rfc3339_ms, wall_clock_ms, Clock, Epochs};
use acteon_dsl::plan::Outcome;
use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::{ProbeHandle, Scope, Stream};
use timely::scheduling::Activator;

/// Lines decoded per activation before the source yields to the rest of the dataflow.
const BATCH: usize = 1024;

/// Records emitted in epochs the source has moved past but the probe has not: above this the
/// source stops polling its feed until the dataflow catches up.
pub const MAX_IN_FLIGHT: usize = 50_000;

/// Where the lines come from.
pub enum Lines {
    File(BufReader<File>),
    Memory(Arc<Vec<String>>, usize),
    /// Lines read by a thread (stdin), which wakes the source when it sends.
    Channel(Receiver<String>),
    /// This worker's part of a feed; a worker whose lanes are all caught up follows the
    /// settings' watermark. `wakes`: the feed wakes the source when records arrive, so an
    /// idle source waits for that (or its next tick) instead of polling.
    Feed {
        reader: Box<dyn FeedReader>,
        wakes: bool,
    },
    Empty,
}

enum Read {
    Line,
    Record {
        lane: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
    },
    Decoded {
        lane: i32,
        offset: i64,
        action: Box<Action>,
    },
    FlushGroups(GroupFlush),
    CaughtUp(i32),
    Pending,
    Done,
}

impl Lines {
    fn next(&mut self, buffer: &mut Vec<u8>) -> Read {
        buffer.clear();
        match self {
            Lines::File(reader) => match read_line(reader, buffer) {
                Ok(0) => Read::Done,
                Ok(_) => {
                    while matches!(buffer.last(), Some(b'\n' | b'\r')) {
                        buffer.pop();
                    }
                    Read::Line
                }
                Err(error) => {
                    tracing::error!(%error, "input read failed; ending the input");
                    Read::Done
                }
            },
            Lines::Memory(lines, next) => match lines.get(*next) {
                Some(line) => {
                    *next += 1;
                    buffer.extend_from_slice(line.as_bytes());
                    Read::Line
                }
                None => Read::Done,
            },
            Lines::Channel(receiver) => match receiver.try_recv() {
                Ok(line) => {
                    buffer.extend_from_slice(line.as_bytes());
                    Read::Line
                }
                Err(TryRecvError::Empty) => Read::Pending,
                Err(TryRecvError::Disconnected) => Read::Done,
            },
            Lines::Feed { reader, .. } => match reader.poll(buffer) {
                Polled::Record {
                    lane,
                    offset,
                    timestamp_ms,
                } => Read::Record {
                    lane,
                    offset,
                    timestamp_ms,
                },
                Polled::Decoded {
                    lane,
                    offset,
                    action,
                } => Read::Decoded {
                    lane,
                    offset,
                    action,
                },
                Polled::FlushGroups(request) => Read::FlushGroups(request),
                Polled::CaughtUp { lane } => Read::CaughtUp(lane),
                Polled::Pending => Read::Pending,
                Polled::Ended => Read::Done,
            },
            Lines::Empty => Read::Done,
        }
    }
}

/// `read_until(b'\n')`, searching with the `memchr` crate (std's search is slower on lines of
/// this length).
fn read_line(reader: &mut impl BufRead, buffer: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut read = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok(read);
        }
        match memchr::memchr(b'\n', available) {
            Some(end) => {
                buffer.extend_from_slice(&available[..=end]);
                reader.consume(end + 1);
                return Ok(read + end + 1);
            }
            None => {
                let n = available.len();
                buffer.extend_from_slice(available);
                reader.consume(n);
                read += n;
            }
        }
    }
}

/// A feed lane's event-time progress and the positions it emitted that are not yet complete.
#[derive(Default)]
struct Lane {
    max_seen: Option<i64>,
    /// The next offset to read.
    next: Option<i64>,
    caught_up: bool,
    /// Runs of (epoch, last offset emitted in it), in offset order.
    unfinished: VecDeque<(u64, i64)>,
}

/// What the source tracks of a feed's lanes.
#[derive(Default)]
struct Lanes {
    lanes: BTreeMap<i32, Lane>,
}

/// Records emitted per epoch that the probe has not passed: the source reads no more while
/// there are too many (backpressure), so memory is bounded by what is in flight, not by the
/// input's length.
#[derive(Default)]
struct InFlight(BTreeMap<u64, usize>);

impl InFlight {
    fn emitted(&mut self, epoch: u64) {
        *self.0.entry(epoch).or_default() += 1;
    }

    /// Records emitted before `time` that the probe has not passed.
    fn waiting_before(&mut self, probe: &ProbeHandle<u64>, time: u64) -> usize {
        self.0.retain(|epoch, _| probe.less_equal(epoch));
        self.0.range(..time).map(|(_, n)| n).sum()
    }
}

impl Lanes {
    fn emitted(&mut self, lane: i32, offset: i64, epoch: u64) {
        let state = self.lanes.entry(lane).or_default();
        // Records emitted again from a restored cut were read before its positions.
        state.next = Some(state.next.map_or(offset + 1, |next| next.max(offset + 1)));
        let unfinished = &mut state.unfinished;
        match unfinished.back_mut() {
            Some((last, run_offset)) if *last == epoch => *run_offset = offset,
            _ => unfinished.push_back((epoch, offset)),
        }
    }

    /// A record of `lane` was read: its event time (if it has one) joins the lane's.
    fn seen(&mut self, lane: i32, time_ms: Option<i64>) {
        let lane = self.lanes.entry(lane).or_default();
        lane.caught_up = false;
        if let Some(time_ms) = time_ms {
            lane.max_seen = Some(lane.max_seen.map_or(time_ms, |m| m.max(time_ms)));
        }
    }

    /// The event time the capability may follow: the slowest lane that is not caught up;
    /// with every lane caught up, the largest event time any worker has read.
    fn progress_ms(&self, watermark: &AtomicI64) -> Option<i64> {
        let active = self.lanes.values().filter(|l| !l.caught_up);
        match active.map(|l| l.max_seen.unwrap_or(i64::MIN)).min() {
            Some(i64::MIN) => None,
            Some(slowest) => Some(slowest),
            None => Some(watermark.load(Ordering::Relaxed)).filter(|&w| w != i64::MIN),
        }
    }

    /// The last complete offset per lane: every run whose epoch plus `hold` the probe passed.
    fn completions(&mut self, probe: &ProbeHandle<u64>, hold: u64) -> Vec<(i32, i64)> {
        let mut done = Vec::new();
        for (&lane, state) in self.lanes.iter_mut() {
            let mut last = None;
            while let Some(&(epoch, offset)) = state.unfinished.front() {
                if probe.less_equal(&epoch.saturating_add(hold)) {
                    break;
                }
                last = Some(offset);
                state.unfinished.pop_front();
            }
            if let Some(offset) = last {
                done.push((lane, offset));
            }
        }
        done
    }
}

pub struct SourceSettings {
    pub clock: Clock,
    pub epochs: Epochs,
    pub max_lateness_ms: u64,
    pub decoder: Decoder,
    /// This worker takes lines where (line − 1) % share.1 == share.0; `None`: every line.
    pub share: Option<(u64, u64)>,
    /// How many epochs after its own an action may still be held (schedules, groups, chains):
    /// a feed's positions are complete only once the probe passes their epoch plus this.
    pub hold_epochs: u64,
    /// The largest event time any worker of this process has read (`i64::MIN`: none yet).
    pub watermark: Arc<AtomicI64>,
    /// With checkpoints: the feed commits only the positions of stored checkpoints.
    pub checkpointer: Option<Arc<Checkpointer>>,
    /// While engaged (a sink buffer is full), nothing is read.
    pub backpressure: Option<Backpressure>,
}

/// Builds the source; `lines_read` counts the input lines this worker decoded; `probe` is
/// after the audit writer (a feed's positions are committed behind it); `decided` is the
/// decisions' frontier, which paces the processing clock's epochs.
#[allow(clippy::type_complexity)]
pub fn source<'s>(
    scope: Scope<'s, u64>,
    make_lines: impl FnOnce(timely::scheduling::SyncActivator) -> Lines + 'static,
    settings: SourceSettings,
    renderer: Rc<Renderer>,
    lines_read: Rc<Cell<u64>>,
    (probe, decided): (ProbeHandle<u64>, DecidedFrontier),
) -> SourceStreams<'s> {
    let (worker, peers) = (scope.index(), scope.peers());
    let mut builder = OperatorBuilder::new("Source".to_owned(), scope);
    let info = builder.operator_info();
    let activator = scope.activator_for(Rc::clone(&info.address));
    decided.wake(activator.clone());
    let sync_activator = scope.worker().sync_activator_for(info.address.to_vec());
    let (flows, flow_stream) = builder.new_output::<Vec<Flow>>();
    let (rejections, rejection_stream) = builder.new_output::<Vec<AuditEntry>>();
    let (flushes, flush_stream) = builder.new_output::<Vec<GroupFlush>>();
    let mut flows = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(flows);
    let mut rejections =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<AuditEntry>>>::from(rejections);
    let mut flushes = OutputBuilder::<_, CapacityContainerBuilder<Vec<GroupFlush>>>::from(flushes);

    builder.build_reschedule(move |mut capabilities| {
        let mut caps = match (capabilities.pop(), capabilities.pop(), capabilities.pop()) {
            (Some(flushes), Some(rejections), Some(flows)) => Some(Caps {
                flows,
                rejections,
                flushes,
            }),
            _ => None,
        };
        let mut lines = make_lines(sync_activator);
        let mut buffer = Vec::new();
        let mut line_no = 0u64;
        let mut max_seen: Option<i64> = None;
        let mut lanes = Lanes::default();
        let mut in_flight = InFlight::default();
        if let Lines::Feed { reader, .. } = &lines {
            for lane in reader.lanes() {
                lanes.lanes.entry(lane).or_default();
            }
        }
        let mut idle_polls = 0u32;
        let mut ticks = Ticks::default();
        // On the processing clock, the epoch emitted into and not yet closed.
        let mut open_at: Option<u64> = None;
        let mut by_epoch: BTreeMap<u64, Vec<Flow>> = BTreeMap::new();
        // Rejected and late records, each with the epoch it goes out at.
        let mut undecided: Vec<(u64, AuditEntry)> = Vec::new();
        let epochs = settings.epochs;
        let mut checkpoints = settings
            .checkpointer
            .as_ref()
            .map(|c| SourceCheckpoints::new(c.participant("source", worker), worker));
        // Lines of a lines input a restored checkpoint already covers.
        let mut skip_lines = 0;
        if let Some(restored) = settings.checkpointer.as_ref().and_then(|c| c.restored()) {
            let mine = match &lines {
                Lines::Feed { reader, .. } => Some(reader.lanes()),
                _ => None,
            };
            let cut = SourceCut::resume(restored, worker, peers, mine.as_deref());
            let start = restored.epoch();
            if let Some(caps) = caps.as_mut() {
                caps.downgrade(start);
            }
            max_seen = cut.max_seen;
            skip_lines = cut.lines;
            for lane in cut.lanes {
                let state = lanes.lanes.entry(lane.lane).or_default();
                state.max_seen = lane.max_seen;
                state.next = lane.next;
                state.caught_up = lane.caught_up;
            }
            for pending in cut.pending {
                let clock_ms = (settings.clock == Clock::Processing).then_some(pending.default_ms);
                let decoded = settings.decoder.decode(
                    &pending.record,
                    pending.position,
                    pending.default_ms,
                    clock_ms,
                );
                let Ok(action) = decoded else { continue };
                if let Position::Kafka { partition, offset } = pending.position {
                    lanes.emitted(partition, offset, pending.time);
                }
                in_flight.emitted(pending.time);
                by_epoch
                    .entry(pending.time)
                    .or_default()
                    .push(Flow::new(action));
                if let Some(checkpoints) = checkpoints.as_mut() {
                    checkpoints.emitted(pending);
                }
            }
        }
        move |_frontiers| {
            if let Lines::Feed { reader, .. } = &mut lines {
                // Called even with nothing new: the feed commits what it holds when it is due.
                // With checkpoints, what is complete is what a stored checkpoint covers.
                let completed = lanes.completions(&probe, settings.hold_epochs);
                match checkpoints.as_mut().map(SourceCheckpoints::newly_durable) {
                    None => reader.completed(&completed),
                    Some(Some(stored)) => {
                        let mine: Vec<(i32, i64)> = stored
                            .into_iter()
                            .filter(|(lane, _)| lanes.lanes.contains_key(lane))
                            .map(|(lane, next)| (lane, next - 1))
                            .collect();
                        reader.completed(&mine);
                    }
                    Some(None) => reader.completed(&[]),
                }
            }

            let Some(flow_time) = caps.as_ref().map(Caps::time) else {
                // The input has ended: a feed stays until every effect is done, then closes.
                if let Lines::Feed { reader, .. } = &mut lines {
                    if !probe.done() {
                        activator.activate_after(Duration::from_millis(epochs.length_ms()));
                        return true;
                    }
                    reader.close();
                    lines = Lines::Empty;
                }
                return false;
            };
            let wall = wall_clock_ms();
            // On the processing clock, while an earlier epoch is still being decided, arrivals
            // join the open epoch (the capability's), which closes once that one is decided.
            let processing = settings.clock == Clock::Processing;
            let deciding = processing && decided.deciding_before(flow_time);
            let mut now_epoch = flow_time;
            if processing && !deciding {
                now_epoch = now_epoch.max(epochs.of(wall));
            }
            let mut decoded = 0;
            let mut ended = false;
            let mut pending = false;
            let held_back = in_flight.waiting_before(&probe, flow_time) > MAX_IN_FLIGHT
                || settings
                    .backpressure
                    .as_ref()
                    .is_some_and(Backpressure::engaged);
            // The latest time this activation emitted actions at (the processing clock closes
            // it at once, below).
            let mut emitted_at = None;
            let mut requested = Vec::new();
            while decoded < BATCH && !pending && !held_back {
                let mut record = None;
                let mut predecoded = None;
                match lines.next(&mut buffer) {
                    Read::Done => {
                        ended = true;
                        break;
                    }
                    Read::Pending => {
                        pending = true;
                        break;
                    }
                    Read::FlushGroups(request) => {
                        // Passed on at this epoch, which it closes like an arrival.
                        emitted_at = emitted_at.max(Some(now_epoch));
                        requested.push(request);
                        continue;
                    }
                    Read::CaughtUp(lane) => {
                        lanes.lanes.entry(lane).or_default().caught_up = true;
                        continue;
                    }
                    Read::Line if line_no < skip_lines => {
                        line_no += 1;
                        continue;
                    }
                    Read::Line => {}
                    Read::Record {
                        lane,
                        offset,
                        timestamp_ms,
                    } => record = Some((lane, offset, timestamp_ms)),
                    Read::Decoded {
                        lane,
                        offset,
                        action,
                    } => {
                        record = Some((lane, offset, None));
                        predecoded = Some(action);
                    }
                }
                let position = match (&predecoded, record) {
                    (Some(action), _) => action.position,
                    (None, Some((partition, offset, _))) => Position::Kafka { partition, offset },
                    (None, None) => {
                        line_no += 1;
                        Position::Line(line_no)
                    }
                };
                // How far event time had gone before this record, in its own input: its file,
                // or its partition.
                let before = match record {
                    Some((lane, _, _)) => lanes.lanes.get(&lane).and_then(|l| l.max_seen),
                    None => max_seen,
                };
                let timestamp = record.and_then(|(_, _, timestamp)| timestamp);
                let event_clock = settings.clock == Clock::Event;
                // Every record's time moves its input's time on, whoever decodes it: its
                // `created_at`, else the feed's timestamp for it.
                let mut note = |time: Option<i64>| match record {
                    Some((lane, _, _)) => lanes.seen(lane, time.filter(|_| event_clock)),
                    None => {
                        if let Some(time) = time.filter(|_| event_clock) {
                            max_seen = Some(max_seen.map_or(time, |m| m.max(time)));
                        }
                    }
                };
                // The time of a line this worker does not decode, read without decoding it
                // (and of one that does not decode): its `created_at` when it has one. A record
                // that is not an action does not move its input's time by the feed's
                // timestamp (the time it was produced, not an event time), or one garbled
                // record would make every action after it late.
                let read_time =
                    |buffer: &[u8]| created_at_of(buffer).and_then(|text| parse_rfc3339_ms(&text));
                let mine = match (record, settings.share) {
                    (None, Some((index, peers))) => (line_no - 1) % peers == index,
                    _ => true,
                };
                if !mine {
                    if event_clock {
                        note(read_time(&buffer));
                    }
                    continue;
                }
                // A blank line holds no record; it is not an input (see the README).
                if predecoded.is_none() && buffer.iter().all(u8::is_ascii_whitespace) {
                    if let Some((lane, offset, _)) = record {
                        lanes.emitted(lane, offset, now_epoch);
                    }
                    continue;
                }
                decoded += 1;
                // Where rejected and late records go: the epoch of the input's time here.
                let (default_ms, clock_ms, undecided_epoch) = match settings.clock {
                    Clock::Event => {
                        let default_ms = timestamp.or(before).unwrap_or(0);
                        let at = before.unwrap_or(0) - settings.max_lateness_ms as i64;
                        (default_ms, None, epochs.of(at).max(flow_time))
                    }
                    Clock::Processing => (wall, Some(wall), now_epoch),
                };
                let decoded_action = match predecoded {
                    Some(action) => Ok(*action),
                    None => settings
                        .decoder
                        .decode(&buffer, position, default_ms, clock_ms),
                };
                let action = match decoded_action {
                    Ok(action) => action,
                    Err(rejection) => {
                        note(read_time(&buffer));
                        if let Some((lane, offset, _)) = record {
                            lanes.emitted(lane, offset, undecided_epoch);
                        }
                        let text = String::from_utf8_lossy(&buffer).into_owned();
                        let time_ms = clock_ms.unwrap_or(before.unwrap_or(0));
                        let entry = rejected_entry(&renderer, position, time_ms, rejection, text);
                        in_flight.emitted(undecided_epoch);
                        undecided.push((undecided_epoch, entry));
                        continue;
                    }
                };
                // Its created_at, as `read_time` would read it, is its event time.
                note(match action.created_at {
                    Some(_) => Some(action.event_time_ms),
                    None => timestamp,
                });
                let behind = before.map(|b| b - action.event_time_ms);
                let late =
                    event_clock && behind.is_some_and(|b| b > settings.max_lateness_ms as i64);
                if late {
                    if let Some((lane, offset, _)) = record {
                        lanes.emitted(lane, offset, undecided_epoch);
                    }
                    let text = String::from_utf8_lossy(&buffer).into_owned();
                    let entry = late_entry(
                        &renderer,
                        action,
                        before.unwrap_or_default(),
                        settings.max_lateness_ms,
                        text,
                    );
                    in_flight.emitted(undecided_epoch);
                    undecided.push((undecided_epoch, entry));
                    continue;
                }
                // Not late, so never behind the capability (which trails the input's time by
                // the allowed lateness); `max` only guards the invariant.
                let time = match settings.clock {
                    Clock::Event => epochs.of(action.event_time_ms).max(flow_time),
                    Clock::Processing => now_epoch,
                };
                if let Some((lane, offset, _)) = record {
                    lanes.emitted(lane, offset, time);
                }
                if let Some(checkpoints) = checkpoints.as_mut() {
                    checkpoints.emitted(Pending {
                        time,
                        position,
                        default_ms,
                        record: buffer.clone(),
                    });
                }
                in_flight.emitted(time);
                emitted_at = emitted_at.max(Some(time));
                by_epoch.entry(time).or_default().push(Flow::new(action));
            }
            lines_read.set(lines_read.get() + decoded as u64);

            if let Some(caps) = caps.as_mut() {
                let mut flows = flows.activate();
                for (time, batch) in std::mem::take(&mut by_epoch) {
                    let cap = caps.flows.delayed(&time);
                    flows.session(&cap).give_iterator(batch.into_iter());
                }
                let mut rejections = rejections.activate();
                undecided.sort_by_key(|(epoch, _)| *epoch);
                for (epoch, entry) in undecided.drain(..) {
                    let cap = caps.rejections.delayed(&epoch);
                    rejections.session(&cap).give(entry);
                }
                if !requested.is_empty() {
                    let cap = caps.flushes.delayed(&now_epoch);
                    flushes
                        .activate()
                        .session(&cap)
                        .give_iterator(requested.drain(..));
                }
            }
            if let Some(seen) = max_seen {
                settings.watermark.fetch_max(seen, Ordering::Relaxed);
            }

            let cut = || SourceCut {
                max_seen,
                lines: line_no,
                lanes: lanes
                    .lanes
                    .iter()
                    .map(|(&lane, state)| LaneCut {
                        lane,
                        next: state.next,
                        max_seen: state.max_seen,
                        caught_up: state.caught_up,
                    })
                    .collect(),
                pending: Vec::new(),
            };
            if ended {
                if let Some(checkpoints) = checkpoints.as_mut() {
                    checkpoints.advance(None, cut);
                }
                caps = None;
                activator.activate();
                return true;
            }
            // The capabilities move forward only: to the lateness bound on the event clock,
            // to the wall clock's epoch on the processing clock. There, what this activation
            // emitted is closed at once (its time is over), so it is decided now, not at the
            // next tick: under load each activation's arrivals make one epoch, and an idle
            // source's one arrival is its own. Times stay behind the wall clock: a second
            // batch within one millisecond goes out at the next one and is closed when it
            // comes.
            let progress_ms = match &lines {
                Lines::Feed { .. } => lanes.progress_ms(&settings.watermark),
                _ => max_seen,
            };
            let target = match settings.clock {
                Clock::Event => progress_ms.map_or(0, |m| {
                    epochs.of(m.saturating_sub(settings.max_lateness_ms as i64))
                }),
                Clock::Processing if deciding => flow_time,
                Clock::Processing => match emitted_at.or(open_at) {
                    Some(at) if at <= wall.max(0) as u64 => now_epoch.max(at + 1),
                    _ => now_epoch,
                },
            };
            // What was emitted and is not closed yet: the decided frontier wakes the source
            // when it may close it; one emitted ahead of the wall clock closes a millisecond later.
            open_at = emitted_at.or(open_at).filter(|at| *at >= target);
            let closes_later = processing && !deciding && open_at.is_some();
            if let Some(caps) = caps.as_mut() {
                if target > caps.time() {
                    caps.downgrade(target);
                    if let Some(checkpoints) = checkpoints.as_mut() {
                        checkpoints.advance(Some(target), cut);
                    }
                }
            }
            // Held back: look again soon, once the dataflow has caught up a little. Idle: a
            // feed that wakes the source is looked at again when it does, or at the next
            // tick (the wall clock moves held actions on); others back off from 1 ms to an
            // epoch, so a quiet feed costs little and a busy one is polled at once. A batch
            // emitted ahead of the wall clock is closed a millisecond later.
            if held_back || (pending && closes_later) {
                ticks.after(&activator, Duration::from_millis(1));
            } else if pending {
                let delay_ms = match lines {
                    Lines::Feed { wakes: true, .. } => epochs.length_ms(),
                    _ => (1u64 << idle_polls.min(16)).min(epochs.length_ms()),
                };
                idle_polls += 1;
                ticks.after(&activator, Duration::from_millis(delay_ms));
            } else {
                idle_polls = 0;
                activator.activate();
            }
            true
        }
    });
    SourceStreams {
        flows: flow_stream,
        rejected: rejection_stream,
        flushes: flush_stream,
    }
}

/// What the source emits: actions, rejected and late records' audit entries, and requests to
/// flush waiting groups now.
pub struct SourceStreams<'s> {
    pub flows: Stream<'s, u64, Vec<Flow>>,
    pub rejected: Stream<'s, u64, Vec<AuditEntry>>,
    pub flushes: Stream<'s, u64, Vec<GroupFlush>>,
}

/// The source's capabilities, one per output, always at the same time.
struct Caps {
    flows: Capability<u64>,
    rejections: Capability<u64>,
    flushes: Capability<u64>,
}

impl Caps {
    fn time(&self) -> u64 {
        *self.flows.time()
    }

    fn downgrade(&mut self, time: u64) {
        self.flows.downgrade(&time);
        self.rejections.downgrade(&time);
        self.flushes.downgrade(&time);
    }
}

/// The source's next timed wake-up. A source woken by its feed on every arrival would
/// otherwise queue one timer per activation (timely keeps them all in a heap until due); one
/// pending timer at a time, the earliest asked for, serves every activation before it.
#[derive(Default)]
struct Ticks {
    due: Option<Instant>,
}

impl Ticks {
    fn after(&mut self, activator: &Activator, delay: Duration) {
        let now = Instant::now();
        let at = now + delay;
        if self.due.is_some_and(|due| due > now && due <= at) {
            return;
        }
        self.due = Some(at);
        activator.activate_after(delay);
    }
}

/// The audit entry of a rejected input line, with its dead-letter entry.
fn rejected_entry(
    renderer: &Renderer,
    position: Position,
    time_ms: i64,
    rejection: Rejection,
    text: String,
) -> AuditEntry {
    let details = position_details(position).with("reason", rejection.reason.clone());
    let dead_letter = DeadLetter::Input {
        position,
        reason: rejection.reason,
        record: text.into_bytes(),
    };
    let action_id: std::sync::Arc<str> = rejection
        .id
        .unwrap_or_else(|| generated_id(position))
        .into();
    let name = |text: Option<String>| Name::new(text.as_deref().unwrap_or_default());
    let record = AuditRecord {
        id: RecordId::new(std::sync::Arc::clone(&action_id), position, 0),
        expires_at_ms: renderer.ttl.expires_at_ms(
            rejection.namespace.as_deref().unwrap_or_default(),
            rejection.tenant.as_deref().unwrap_or_default(),
            time_ms,
        ),
        action_id,
        namespace: name(rejection.namespace),
        tenant: name(rejection.tenant),
        action_type: name(rejection.action_type),
        provider: None,
        target: None,
        rule: None,
        outcome: Outcome::Rejected,
        details,
        payload: None,
        chain_id: None,
        dispatched_at_ms: time_ms,
        completed_at_ms: time_ms,
        duration_ms: 0,
    };
    renderer.entry(record, (time_ms, position, 0), Some(dead_letter))
}

/// The audit entry of an action too late to be decided (its event time more than the allowed
/// lateness below `latest`, the input's largest event time before it), with its dead-letter
/// entry, from which it can be fed again.
fn late_entry(
    renderer: &Renderer,
    action: crate::action::Action,
    latest: i64,
    max_lateness_ms: u64,
    text: String,
) -> AuditEntry {
    let behind = latest - action.event_time_ms;
    let reason = format!(
        "late: {behind} ms behind the input's latest event time, over the allowed lateness of {max_lateness_ms} ms"
    );
    let position = action.position;
    let details = position_details(position)
        .with("reason", reason.clone())
        .with("behind_ms", behind)
        .with("max_lateness_ms", max_lateness_ms);
    let dead_letter = DeadLetter::Input {
        position,
        reason,
        record: text.into_bytes(),
    };
    let record = AuditRecord {
        id: RecordId::new(std::sync::Arc::clone(&action.id), action.position, 0),
        expires_at_ms: renderer.ttl.expires_at_ms(
            &action.namespace,
            &action.tenant,
            action.event_time_ms,
        ),
        action_id: action.id,
        namespace: action.namespace,
        tenant: action.tenant,
        action_type: action.action_type,
        provider: action.provider,
        target: None,
        rule: None,
        outcome: Outcome::Late,
        details,
        payload: renderer
            .store_payload
            .then(|| action.payload.redacted(&renderer.redactor)),
        chain_id: None,
        dispatched_at_ms: action.event_time_ms,
        completed_at_ms: action.event_time_ms,
        duration_ms: 0,
    };
    let order = (action.event_time_ms, position, 0);
    renderer.entry(record, order, Some(dead_letter))
}
