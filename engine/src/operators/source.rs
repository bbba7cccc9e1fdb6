//! The source: reads this worker's share of the input lines, decodes each once, and stamps it
//! with its epoch.
//!
//! Holds one capability per output. On the event clock it sits at the epoch of (the largest
//! event time this worker has read − the allowed lateness); an action older than that is
//! late and goes out at the current time, marked. On the processing clock it follows the wall
//! clock, waking itself every epoch even when no input arrives, so held actions are released.
//! Both capabilities are dropped when the input ends.

use super::{AuditLine, Flow, Renderer};
use crate::action::Position;
use crate::audit::record::AuditRecord;
use crate::decode::{decode, generated_id, Rejection};
use crate::time::{format_rfc3339_ms, wall_clock_ms, Clock, Epochs};
use acteon_dsl::plan::Outcome;
use serde_json::json;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::{Scope, Stream};

/// Lines decoded per activation before the source yields to the rest of the dataflow.
const BATCH: usize = 1024;

/// Where the lines come from.
pub enum Lines {
    File(BufReader<File>),
    Memory(Arc<Vec<String>>, usize),
    /// Lines read by a thread (stdin), which wakes the source when it sends.
    Channel(Receiver<String>),
    Empty,
}

enum Read {
    Line,
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
            Lines::Empty => Read::Done,
        }
    }
}

pub struct SourceSettings {
    pub clock: Clock,
    pub epochs: Epochs,
    pub max_lateness_ms: u64,
    pub max_action_bytes: usize,
    /// This worker takes lines where (line − 1) % share.1 == share.0; `None`: every line.
    pub share: Option<(u64, u64)>,
}

/// Builds the source; `lines_read` counts the input lines this worker decoded.
#[allow(clippy::type_complexity)]
pub fn source<'s>(
    scope: Scope<'s, u64>,
    make_lines: impl FnOnce(timely::scheduling::SyncActivator) -> Lines + 'static,
    settings: SourceSettings,
    renderer: Rc<Renderer>,
    lines_read: Rc<Cell<u64>>,
) -> (Stream<'s, u64, Vec<Flow>>, Stream<'s, u64, Vec<AuditLine>>) {
    let mut builder = OperatorBuilder::new("Source".to_owned(), scope);
    let info = builder.operator_info();
    let activator = scope.activator_for(Rc::clone(&info.address));
    let sync_activator = scope.worker().sync_activator_for(info.address.to_vec());
    let (flows, flow_stream) = builder.new_output::<Vec<Flow>>();
    let (rejections, rejection_stream) = builder.new_output::<Vec<AuditLine>>();
    let mut flows = OutputBuilder::<_, CapacityContainerBuilder<Vec<Flow>>>::from(flows);
    let mut rejections =
        OutputBuilder::<_, CapacityContainerBuilder<Vec<AuditLine>>>::from(rejections);

    builder.build(move |mut capabilities| {
        let mut rejection_cap = capabilities.pop();
        let mut flow_cap = capabilities.pop();
        let mut lines = make_lines(sync_activator);
        let mut buffer = Vec::new();
        let mut line_no = 0u64;
        let mut max_seen: Option<i64> = None;
        let mut by_epoch: BTreeMap<u64, Vec<Flow>> = BTreeMap::new();
        let mut rejected = Vec::new();
        let epochs = settings.epochs;
        move |_frontiers| {
            let (Some(flow_time), Some(_)) =
                (flow_cap.as_ref().map(|c| *c.time()), rejection_cap.as_ref())
            else {
                return;
            };
            let wall = wall_clock_ms();
            let mut now_epoch = flow_time;
            if settings.clock == Clock::Processing {
                now_epoch = now_epoch.max(epochs.of(wall));
            }
            let mut decoded = 0;
            let mut ended = false;
            let mut pending = false;
            while decoded < BATCH {
                match lines.next(&mut buffer) {
                    Read::Done => {
                        ended = true;
                        break;
                    }
                    Read::Pending => {
                        pending = true;
                        break;
                    }
                    Read::Line => {}
                }
                line_no += 1;
                if let Some((index, peers)) = settings.share {
                    if (line_no - 1) % peers != index {
                        continue;
                    }
                }
                // A blank line holds no record; it is not an input (see the README).
                if buffer.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                decoded += 1;
                let position = Position::Line(line_no);
                let (default_ms, clock_ms) = match settings.clock {
                    Clock::Event => (max_seen.unwrap_or(0), None),
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
                        by_epoch
                            .entry(time)
                            .or_default()
                            .push(Flow::new(action, late));
                    }
                    Err(rejection) => {
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

            if ended {
                flow_cap = None;
                rejection_cap = None;
                return;
            }
            // The capabilities move forward only: to the lateness bound on the event clock,
            // to the wall clock's epoch on the processing clock.
            let target = match settings.clock {
                Clock::Event => max_seen.map_or(0, |m| {
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
                }
            }
            if pending {
                activator.activate_after(Duration::from_millis(epochs.length_ms()));
            } else {
                activator.activate();
            }
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
    let line = match position {
        Position::Line(line) => line,
        Position::Kafka { offset, .. } => offset.max(0) as u64,
        Position::Api(n) => n,
    };
    let dead_letter =
        json!({ "line": line, "reason": &rejection.reason, "record": text }).to_string();
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
        details: json!({ "reason": &rejection.reason, "line": line }),
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
