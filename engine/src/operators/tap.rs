//! The tap: passes a stream on untouched and gives a second stream that carries nothing, whose
//! frontier is the first one's. An operator that must follow a stream's progress (a table's
//! source follows the actions') reads the tap instead of the stream, which is not copied.

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;
use timely::progress::operate::FrontierInterest;
use timely::progress::Timestamp;

/// `(stream, its frontier)`.
#[allow(clippy::type_complexity)]
pub fn tap<'s, T: Timestamp, D: Clone + 'static>(
    stream: Stream<'s, T, Vec<D>>,
) -> (Stream<'s, T, Vec<D>>, Stream<'s, T, Vec<()>>) {
    let mut builder = OperatorBuilder::new("Tap".to_owned(), stream.scope());
    let mut input = builder.new_input(stream, Pipeline);
    builder.set_notify_for(0, FrontierInterest::Never);
    let (output, passed) = builder.new_output::<Vec<D>>();
    let (_, frontier) = builder.new_output::<Vec<()>>();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<D>>>::from(output);
    builder.build(move |_capabilities| {
        move |_frontiers| {
            let mut output = output.activate();
            input.for_each(|cap, data| output.session(&cap).give_container(data));
        }
    });
    (passed, frontier)
}
