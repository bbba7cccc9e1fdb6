//! Decided: tells the source, on the processing clock, how far the decisions have got.
//!
//! Holds nothing: every decision passes through unchanged, in the same batch, at the same time.
//! Each time its input's frontier moves it records where and wakes the source, which closes the
//! epoch it has been filling only once every epoch before it is decided. So under load the
//! arrivals of many requests gather in one open epoch while the one before it is decided, and
//! the number of epochs follows the dataflow's pace, not the requests' (each epoch costs
//! progress tracking in every operator); when idle, one arrival is its own epoch and is decided
//! at once.

use super::Decision;
use std::cell::RefCell;
use std::rc::Rc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;
use timely::scheduling::Activator;

/// The decisions' frontier as the source reads it, and the source to wake when it moves.
#[derive(Clone, Default)]
pub struct DecidedFrontier(Rc<RefCell<Watch>>);

#[derive(Default)]
struct Watch {
    /// The earliest time still to be decided; `None` once nothing more can be.
    earliest: Option<u64>,
    source: Option<Activator>,
}

impl DecidedFrontier {
    /// Whether some action at a time before `time` is still to be decided.
    pub fn deciding_before(&self, time: u64) -> bool {
        self.0
            .borrow()
            .earliest
            .is_some_and(|earliest| earliest < time)
    }

    /// The source to wake when the frontier moves.
    pub fn wake(&self, source: Activator) {
        self.0.borrow_mut().source = Some(source);
    }

    fn moved(&self, earliest: Option<u64>) {
        let mut watch = self.0.borrow_mut();
        if watch.earliest != earliest {
            watch.earliest = earliest;
            if let Some(source) = &watch.source {
                source.activate();
            }
        }
    }
}

/// Passes `decisions` on, keeping `frontier` up to date.
pub fn decided<'s>(
    decisions: Stream<'s, u64, Vec<Decision>>,
    frontier: DecidedFrontier,
) -> Stream<'s, u64, Vec<Decision>> {
    let scope = decisions.scope();
    let mut builder = OperatorBuilder::new("Decided".to_owned(), scope);
    let mut input = builder.new_input(decisions, Pipeline);
    let (output, stream) = builder.new_output::<Vec<Decision>>();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<Decision>>>::from(output);
    // Starts at time 0, like every frontier: nothing is "before" the source's first epoch.
    frontier.moved(Some(0));
    builder.build(move |capabilities| {
        drop(capabilities);
        move |frontiers| {
            let mut output = output.activate();
            input.for_each(|cap, data| {
                output.session(&cap).give_iterator(data.drain(..));
            });
            frontier.moved(frontiers[0].frontier().iter().next().copied());
        }
    });
    stream
}
