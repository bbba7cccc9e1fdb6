//! The source: reads this worker's share of the input lines, decodes each once, and stamps it
//! with its epoch.
//!
//! Holds one capability per output. On the event clock it sits at the epoch of (the largest
//! event time this worker has read − the allowed lateness); an action older than that is
//! late and goes out at the current time, marked. On the processing clock it follows the wall
//! clock, waking itself every epoch even when no input arrives, so held actions are released.
//! Both capabilities are dropped when the input ends.
//!
//! A feed (Kafka) is read by lanes (partitions): on the event clock the capability follows the
//! slowest lane that is not caught up, and a worker whose lanes are all caught up follows the
//! other workers. The source also holds, per lane, the positions it emitted in each epoch, until
//! the probe after the audit writer passes that epoch plus the plan's longest hold: then it
//! hands them to the feed to commit. While more than [`MAX_IN_FLIGHT`] emitted records wait
//! for the probe, it stops polling (backpressure). When a feed ends, the operator stays until
//! the probe is done, to complete and close the feed.
//!
//! With checkpoints, the source cuts whenever its capability passes a checkpoint's epoch (see
//! [`crate::checkpoint::cut`]), marks checkpoints whose audit is written, and hands the feed
//! only the positions of stored checkpoints to commit. At start it resumes from the restored
//! cut: its capability at the checkpoint's epoch, the cut's pending records emitted again,
//! lines already read skipped (a feed is opened at the cut's positions).

use super::{position_fields, DeadLetter};
use super::{AuditLine, Flow, Renderer};
use crate::action::Position;
use crate::audit::record::AuditRecord;
use crate::checkpoint::cut::{LaneCut, Pending, SourceCheckpoints, SourceCut};
use crate::checkpoint::Checkpointer;
use crate::decode::{decode, generated_id, Rejection};
use crate::feed::{FeedReader, Polled};
use crate::time::{format_rfc3339_ms, wall_clock_ms, Clock, Epochs};
use acteon_dsl::plan::Outcome;
use serde_json::Value;
use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::{ProbeHandle, Scope, Stream};

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
    /// settings' watermark.
    Feed {
        reader: Box<dyn FeedReader>,
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
    CaughtUp(i32),
    Pending,
    Done,
}

impl Lines {
    fn next(&mut self, buffer: &mut Vec<u8>) -> Read {
        buffer.clear();
        match self {
            Lines::File(reader) => match reader.read_until(b'\n', buffer) {
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
                Polled::CaughtUp { lane } => Read::CaughtUp(lane),
                Polled::Pending => Read::Pending,
                Polled::Ended => Read::Done,
            },
            Lines::Empty => Read::Done,
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
    /// Records emitted per epoch that the probe has not passed (backpressure).
    in_flight: BTreeMap<u64, usize>,
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
        *self.in_flight.entry(epoch).or_default() += 1;
    }

    fn seen(&mut self, lane: i32, time_ms: i64) {
        let lane = self.lanes.entry(lane).or_default();
        lane.caught_up = false;
        lane.max_seen = Some(lane.max_seen.map_or(time_ms, |m| m.max(time_ms)));
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

    /// Records emitted before `time` that the probe has not passed.
    fn waiting_before(&mut self, probe: &ProbeHandle<u64>, time: u64) -> usize {
        self.in_flight.retain(|epoch, _| probe.less_equal(epoch));
        self.in_flight.range(..time).map(|(_, n)| n).sum()
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
    pub max_action_bytes: usize,
    /// This worker takes lines where (line − 1) % share.1 == share.0; `None`: every line.
    pub share: Option<(u64, u64)>,
    /// How many epochs after its own an action may still be held (schedules, groups, chains):
    /// a feed's positions are complete only once the probe passes their epoch plus this.
    pub hold_epochs: u64,
    /// The largest event time any worker of this process has read (`i64::MIN`: none yet).
    pub watermark: Arc<AtomicI64>,
    /// With checkpoints: the feed commits only the positions of stored checkpoints.
    pub checkpointer: Option<Arc<Checkpointer>>,
}

/// Builds the source; `lines_read` counts the input lines this worker decoded; `probe` is
/// after the audit writer (a feed's positions are committed behind it).
#[allow(clippy::type_complexity)]
pub fn source<'s>(
    scope: Scope<'s, u64>,
    make_lines: impl FnOnce(timely::scheduling::SyncActivator) -> Lines + 'static,
    settings: SourceSettings,
    renderer: Rc<Renderer>,
    lines_read: Rc<Cell<u64>>,
    probe: ProbeHandle<u64>,
) -> (Stream<'s, u64, Vec<Flow>>, Stream<'s, u64, Vec<AuditLine>>) {
    let (worker, peers) = (scope.index(), scope.peers());
    let mut builder = OperatorBuilder::new("Source".to_owned(), scope);
    let info = builder.operator_info();
    let activator = scope.activator_for(Rc::clone(&info.address));
    let sync_activator = scope.worker().sync_activator_for(info.address.to_vec());
    let (flows, flow_stream) = builder.new_output::<Vec<Flow>>();
    let (rejections, rejection_stream) = builder.new_output::<Vec<AuditLine>>();
    let mut flows = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(flows);
    let mut rejections =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<AuditLine>>>::from(rejections);

    builder.build_reschedule(move |mut capabilities| {
        let mut rejection_cap = capabilities.pop();
        let mut flow_cap = capabilities.pop();
        let mut lines = make_lines(sync_activator);
        let mut buffer = Vec::new();
        let mut line_no = 0u64;
        let mut max_seen: Option<i64> = None;
        let mut lanes = Lanes::default();
        if let Lines::Feed { reader, .. } = &lines {
            for lane in reader.lanes() {
                lanes.lanes.entry(lane).or_default();
            }
        }
        let mut idle_polls = 0u32;
        let mut by_epoch: BTreeMap<u64, Vec<Flow>> = BTreeMap::new();
        let mut rejected = Vec::new();
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
            for cap in [flow_cap.as_mut(), rejection_cap.as_mut()]
                .into_iter()
                .flatten()
            {
                cap.downgrade(&start);
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
                let decoded = decode(
                    &pending.record,
                    pending.position,
                    settings.max_action_bytes,
                    pending.default_ms,
                    clock_ms,
                );
                let Ok(action) = decoded else { continue };
                if let Position::Kafka { partition, offset } = pending.position {
                    lanes.emitted(partition, offset, pending.time);
                }
                by_epoch
                    .entry(pending.time)
                    .or_default()
                    .push(Flow::new(action, false));
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

            let (Some(flow_time), Some(_)) =
                (flow_cap.as_ref().map(|c| *c.time()), rejection_cap.as_ref())
            else {
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
            let mut now_epoch = flow_time;
            if settings.clock == Clock::Processing {
                now_epoch = now_epoch.max(epochs.of(wall));
            }
            let mut decoded = 0;
            let mut ended = false;
            let mut pending = false;
            let feed = matches!(lines, Lines::Feed { .. });
            if feed && lanes.waiting_before(&probe, flow_time) > MAX_IN_FLIGHT {
                pending = true;
            }
            while decoded < BATCH && !pending {
                let mut record = None;
                match lines.next(&mut buffer) {
                    Read::Done => {
                        ended = true;
                        break;
                    }
                    Read::Pending => {
                        pending = true;
                        break;
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
                }
                let position = match record {
                    Some((partition, offset, _)) => Position::Kafka { partition, offset },
                    None => {
                        line_no += 1;
                        if let Some((index, peers)) = settings.share {
                            if (line_no - 1) % peers != index {
                                continue;
                            }
                        }
                        Position::Line(line_no)
                    }
                };
                // A blank line holds no record; it is not an input (see the README).
                if buffer.iter().all(u8::is_ascii_whitespace) {
                    if let Some((lane, offset, _)) = record {
                        lanes.emitted(lane, offset, now_epoch);
                    }
                    continue;
                }
                decoded += 1;
                let (default_ms, clock_ms) = match settings.clock {
                    Clock::Event => (
                        record
                            .and_then(|(_, _, timestamp)| timestamp)
                            .or(max_seen)
                            .unwrap_or(0),
                        None,
                    ),
                    Clock::Processing => (wall, Some(wall)),
                };
                match decode(
                    &buffer,
                    position,
                    settings.max_action_bytes,
                    default_ms,
                    clock_ms,
                ) {
                    Ok(action) => {
                        let epoch = epochs.of(action.event_time_ms);
                        let late = settings.clock == Clock::Event && epoch < now_epoch;
                        if settings.clock == Clock::Event {
                            max_seen = Some(
                                max_seen
                                    .map_or(action.event_time_ms, |m| m.max(action.event_time_ms)),
                            );
                        }
                        let time = if late || settings.clock == Clock::Processing {
                            now_epoch
                        } else {
                            epoch
                        };
                        if let Some((lane, offset, _)) = record {
                            lanes.seen(lane, action.event_time_ms);
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
                        by_epoch
                            .entry(time)
                            .or_default()
                            .push(Flow::new(action, late));
                    }
                    Err(rejection) => {
                        if let Some((lane, offset, _)) = record {
                            lanes.emitted(lane, offset, now_epoch);
                        }
                        rejected.push((
                            position,
                            default_ms,
                            rejection,
                            String::from_utf8_lossy(&buffer).into_owned(),
                        ));
                    }
                }
            }
            lines_read.set(lines_read.get() + decoded as u64);

            if let (Some(flow_cap), Some(rejection_cap)) =
                (flow_cap.as_mut(), rejection_cap.as_mut())
            {
                let mut flows = flows.activate();
                for (time, batch) in std::mem::take(&mut by_epoch) {
                    let cap = flow_cap.delayed(&time);
                    flows.session(&cap).give_iterator(batch.into_iter());
                }
                let mut rejections = rejections.activate();
                let cap = rejection_cap.delayed(&now_epoch);
                let mut session = rejections.session(&cap);
                for (position, time_ms, rejection, text) in rejected.drain(..) {
                    let time_ms = match settings.clock {
                        Clock::Event => time_ms,
                        Clock::Processing => wall,
                    };
                    session.give(rejected_line(&renderer, position, time_ms, rejection, text));
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
                flow_cap = None;
                rejection_cap = None;
                activator.activate();
                return true;
            }
            // The capabilities move forward only: to the lateness bound on the event clock,
            // to the wall clock's epoch on the processing clock.
            let progress_ms = match &lines {
                Lines::Feed { .. } => lanes.progress_ms(&settings.watermark),
                _ => max_seen,
            };
            let target = match settings.clock {
                Clock::Event => progress_ms.map_or(0, |m| {
                    epochs.of(m.saturating_sub(settings.max_lateness_ms as i64))
                }),
                Clock::Processing => now_epoch,
            };
            if let (Some(flow_cap), Some(rejection_cap)) =
                (flow_cap.as_mut(), rejection_cap.as_mut())
            {
                if target > *flow_cap.time() {
                    flow_cap.downgrade(&target);
                    rejection_cap.downgrade(&target);
                    if let Some(checkpoints) = checkpoints.as_mut() {
                        checkpoints.advance(Some(target), cut);
                    }
                }
            }
            // Idle: back off from 1 ms to an epoch, so a quiet feed costs little and a busy
            // one is polled at once.
            if pending {
                let delay_ms = (1u64 << idle_polls.min(16)).min(epochs.length_ms());
                idle_polls += 1;
                activator.activate_after(Duration::from_millis(delay_ms));
            } else {
                idle_polls = 0;
                activator.activate();
            }
            true
        }
    });
    (flow_stream, rejection_stream)
}

/// The audit line of a rejected input line, with its dead-letter entry.
fn rejected_line(
    renderer: &Renderer,
    position: Position,
    time_ms: i64,
    rejection: Rejection,
    text: String,
) -> AuditLine {
    let mut details = position_fields(position);
    details.insert("reason".into(), rejection.reason.clone().into());
    let dead_letter = DeadLetter::Input {
        position,
        reason: rejection.reason.clone(),
        record: text.into_bytes(),
    };
    let mut record = AuditRecord {
        id: format!(
            "{}#0",
            rejection.id.as_deref().unwrap_or(&generated_id(position))
        ),
        action_id: rejection.id.unwrap_or_else(|| generated_id(position)),
        namespace: rejection.namespace.unwrap_or_default(),
        tenant: rejection.tenant.unwrap_or_default(),
        action_type: rejection.action_type.unwrap_or_default(),
        provider: None,
        target: None,
        rule: None,
        outcome: Outcome::Rejected,
        details: Value::Object(details),
        payload: None,
        chain_id: None,
        dispatched_at: format_rfc3339_ms(time_ms),
        completed_at: format_rfc3339_ms(time_ms),
        duration_ms: 0,
        expires_at: None,
    };
    record.expires_at = renderer.ttl.expires_at(&record);
    renderer.line(&mut record, (time_ms, position, 0), Some(dead_letter))
}
