//! The audit writer: one per dataflow (every line goes to worker 0), writing each completed
//! epoch's lines sorted by (event time, input position, record place), so a replay writes a
//! byte-identical audit whatever the number of workers.
//!
//! Holds each epoch's lines until the input frontier passes the epoch; holds no capability.

use super::AuditLine;
use std::collections::BTreeMap;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::Stream;

/// `write` receives every audit line, in written order.
pub fn audit_writer<'s>(
    lines: Vec<Stream<'s, u64, Vec<AuditLine>>>,
    mut write: impl FnMut(AuditLine) + 'static,
) {
    let Some(scope) = lines.first().map(Stream::scope) else {
        return;
    };
    let mut builder = OperatorBuilder::new("AuditWriter".to_owned(), scope);
    let mut inputs: Vec<_> = lines
        .into_iter()
        .map(|stream| builder.new_input(stream, Exchange::new(|_: &AuditLine| 0)))
        .collect();
    builder.build(move |_capabilities| {
        let mut held: BTreeMap<u64, Vec<AuditLine>> = BTreeMap::new();
        move |frontiers| {
            for input in inputs.iter_mut() {
                input.for_each(|cap, data| {
                    if let Some(&time) = cap.stamp().iter().next() {
                        held.entry(time).or_default().append(data);
                    }
                });
            }
            while let Some(entry) = held.first_entry() {
                if frontiers.iter().any(|f| f.less_equal(entry.key())) {
                    break;
                }
                let mut epoch = entry.remove();
                epoch.sort_by(|a, b| (a.order, &a.text).cmp(&(b.order, &b.text)));
                for line in epoch {
                    write(line);
                }
            }
        }
    });
}
