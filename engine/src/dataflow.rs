//! Assembles the operators into one dataflow per worker:
//!
//! ```text
//! source ─► quota ─► ┌ loop (epoch, rule) ──────────────────────────────┐
//!   │                │ evaluate ─► dedup / throttle / schedule ─► (rule+1) ┐│
//!   │                │    ▲                                               ││
//!   │                │    └───────────────── feedback ◄──────────────────┘│
//!   │                │ evaluate, dedup, throttle, group, schedule: decisions ┘
//!   │                          └─► decided ─► deliver ─► audit writer (each process's first worker)
//!   │                                           └─► chain (the chains it started) ─► audit writer
//!   └─ rejected and late records ──────────────► audit writer
//! ```
//!
//! Quota, dedup, throttle and group are the one keyed operator ([`keyed`]) over their own
//! logic: exchanged to the worker owning the key, and sent back after it (evaluation and
//! delivery read their inputs exchanged by the action's position), so only the decision itself
//! happens where the key lives. Operators exist only for the rule kinds the plan uses, and
//! never one per rule. `decided` only watches the decisions' frontier: on the processing clock
//! it paces the source's epochs.

use crate::chains::status::ChainStore;
use crate::chains::ChainBook;
use crate::checkpoint::Checkpointer;
use crate::control::GroupFlush;
use crate::eval::{Evaluator, Gate};
use crate::operators::audit_writer::AuditRoute;
use crate::operators::chain::{chain, ChainSettings};
use crate::operators::decided::{decided, DecidedFrontier};
use crate::operators::deliver::deliver;
use crate::operators::evaluate::{evaluate, LoopTime};
use crate::operators::keyed::dedup::{Dedup, SharedWindows};
use crate::operators::keyed::group::Group;
use crate::operators::keyed::quota::Quotas;
use crate::operators::keyed::throttle::Throttle;
use crate::operators::keyed::{self, keyed};
use crate::operators::lookup::{lookup, LookupSettings};
use crate::operators::source::{source, Lines, SourceSettings, SourceStreams};
use crate::operators::table::table;
use crate::operators::table_source::{table_source, TableSourceSettings};
use crate::operators::tap::tap;
use crate::operators::{audit_writer, schedule};
use crate::operators::{AuditEntry, Decision, Flow, Renderer};
use crate::providers::registry::ProviderRegistry;
use crate::report::{install_views, Views};
use crate::tables::{TableBook, Version};
use crate::time::Epochs;
use acteon_dsl::plan::Quota;
use differential_dataflow::operators::arrange::arrangement::arrange_core;
use differential_dataflow::trace::implementations::{ValBatcher, ValSpine};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Exchange;
use timely::dataflow::operators::{
    Concatenate, ConnectLoop, Enter, Feedback, Inspect, Leave, Probe,
};
use timely::dataflow::{ProbeHandle, Scope, Stream};
use timely::order::Product;
use timely::scheduling::SyncActivator;

pub struct Assembly {
    pub evaluator: Arc<Evaluator>,
    pub quotas: Vec<Quota>,
    pub source: SourceSettings,
    pub renderer: Rc<Renderer>,
    pub providers: ProviderRegistry,
    pub views: Views,
    /// The plan's chains and where their statuses go; `None` when no rule starts a chain.
    pub chains: Option<(Arc<ChainBook>, ChainStore)>,
    /// With checkpoints: every stateful operator saves its state for them and restores it.
    pub checkpointer: Option<Arc<Checkpointer>>,
    /// Which process's first worker writes each audit line.
    pub audit_route: AuditRoute,
    /// Dedup windows kept beyond this dataflow (a served engine's reloads).
    pub dedup_windows: Option<SharedWindows>,
    /// The plan's tables and lookups, and this worker's share of each table's inputs; `None`
    /// when the plan makes no lookup.
    pub tables: Option<(Arc<TableBook>, Vec<TableSourceSettings>)>,
}

/// Builds the dataflow in `scope`; `write` receives the audit entries in written order (on
/// the process's first worker) and `written` is called after each batch of completed epochs
/// and as the frontier moves (the time before which everything is written, and whether this
/// call follows a batch);
/// `lines_read` counts the input lines this worker decoded.
pub fn assemble(
    scope: Scope<'_, u64>,
    assembly: Assembly,
    lines: impl FnOnce(SyncActivator) -> Lines + 'static,
    (write, written): (
        impl FnMut(AuditEntry) + 'static,
        impl FnMut(u64, bool) + 'static,
    ),
    lines_read: Rc<Cell<u64>>,
) {
    let Assembly {
        evaluator,
        quotas,
        source: settings,
        renderer,
        providers,
        views,
        chains,
        checkpointer,
        audit_route,
        dedup_windows,
        tables,
    } = assembly;
    let audited = checkpointer.clone();
    let epochs = settings.epochs;
    let watermark = Arc::clone(&settings.watermark);
    // Passes an epoch once its audit is written: the source commits a feed's positions behind it.
    let probe = ProbeHandle::new();
    let decided_frontier = DecidedFrontier::default();
    let SourceStreams {
        flows,
        rejected,
        flushes,
    } = source(
        scope,
        lines,
        settings,
        Rc::clone(&renderer),
        lines_read,
        (probe.clone(), decided_frontier.clone()),
    );
    let mut decisions = Vec::new();
    let flows = if quotas.is_empty() {
        flows
    } else {
        let settings = keyed::Settings {
            epochs,
            checkpointer: checkpointer.clone(),
        };
        let (admitted, exceeded) = keyed(flows, Quotas { quotas }, settings, None);
        decisions.push(exceeded);
        admitted
    };
    let flows = match tables {
        Some((book, sources)) => join(flows, &book, sources, checkpointer.clone()),
        None => flows,
    };
    let settings = RuleSettings {
        evaluator,
        epochs,
        checkpointer: checkpointer.clone(),
        dedup_windows,
    };
    decisions.push(rules(scope, flows, flushes, settings));
    let decisions = decided(scope.concatenate(decisions), decided_frontier);
    let (delivered, starts) = deliver(decisions, providers.clone(), Rc::clone(&renderer));
    let mut audit = vec![delivered, rejected];
    if let Some((book, store)) = chains {
        let settings = ChainSettings {
            book,
            providers,
            store,
            renderer,
            epochs,
            watermark,
            checkpointer,
        };
        audit.push(chain(starts, settings));
    }
    if let Some(counted) = audit_writer::audit_writer(audit, audit_route, write, written, audited) {
        install_views(counted.probe_with(&probe), &views);
    }
}

/// Each action joined with the rows of the plan's lookups, as of its event time: every table
/// arranged by key once, and each lookup reading its table's arrangement. The actions then go
/// back to the worker their position spreads to.
fn join<'s>(
    flows: Stream<'s, u64, Vec<Flow>>,
    book: &TableBook,
    sources: Vec<TableSourceSettings>,
    checkpointer: Option<Arc<Checkpointer>>,
) -> Stream<'s, u64, Vec<Flow>> {
    let (mut flows, frontier) = tap(flows);
    let arranged: Vec<_> = sources
        .into_iter()
        .map(|source| {
            let store = Arc::clone(&source.store);
            let updates = table_source(frontier.clone(), source);
            let changes = table(updates, store, checkpointer.clone());
            // Already on the key's owner: the arrangement is partitioned like the updates.
            arrange_core::<_, _, TableBatcher, TableSpine>(
                changes,
                Pipeline,
                "ArrangeTable",
                TableBatcher::new,
            )
        })
        .collect();
    for (index, (table, key)) in book.lookups.iter().enumerate() {
        let arrangement = &arranged[*table];
        let settings = LookupSettings {
            lookup: index as u32,
            lookups: book.lookups.len(),
            key: Arc::new(key.clone()),
            trace: arrangement.trace.clone(),
        };
        flows = lookup(flows, arrangement.stream.clone(), settings);
    }
    // Only the lookups' handles remain, so the traces compact as the lookups move on.
    drop(arranged);
    flows.exchange(|flow: &Flow| flow.spread())
}

type TableBatcher = ValBatcher<Arc<str>, Version, u64, isize>;
type TableSpine = ValSpine<Arc<str>, Version, u64, isize>;

/// What the rule loop's operators share.
struct RuleSettings {
    evaluator: Arc<Evaluator>,
    epochs: Epochs,
    checkpointer: Option<Arc<Checkpointer>>,
    dedup_windows: Option<SharedWindows>,
}

/// The rule loop: returns every decision made inside it.
/// Requests to flush groups now go to the group operator; without one, there is nothing to
/// flush.
fn rules<'s>(
    scope: Scope<'s, u64>,
    flows: Stream<'s, u64, Vec<Flow>>,
    flushes: Stream<'s, u64, Vec<GroupFlush>>,
    settings: RuleSettings,
) -> Stream<'s, u64, Vec<Decision>> {
    let RuleSettings {
        evaluator,
        epochs,
        checkpointer,
        dedup_windows,
    } = settings;
    let windows = || keyed::Settings {
        epochs,
        checkpointer: checkpointer.clone(),
    };
    let uses = |gate: Gate| {
        evaluator
            .rules()
            .iter()
            .any(|r| r.kind.gate() == Some(gate))
    };
    let (dedups, throttles, groups, schedules) = (
        uses(Gate::Dedup),
        uses(Gate::Throttle),
        uses(Gate::Group),
        uses(Gate::Schedule),
    );
    scope.iterative::<u32, _, _>(|inner| {
        let (resume_handle, resumed) = inner.feedback::<Vec<Flow>>(Product::new(0, 1));
        let evaluated = evaluate(flows.enter(inner), resumed, Arc::clone(&evaluator));
        let mut decided: Vec<Stream<'_, LoopTime, Vec<Decision>>> = vec![evaluated.decisions];
        let mut resumes = Vec::new();
        if dedups {
            let logic = Dedup {
                evaluator: Arc::clone(&evaluator),
                shared: dedup_windows,
            };
            let (passed, repeated) = keyed(evaluated.dedup, logic, windows(), None);
            resumes.push(passed);
            decided.push(repeated);
        }
        if throttles {
            let logic = Throttle {
                evaluator: Arc::clone(&evaluator),
            };
            let (admitted, throttled) = keyed(evaluated.throttle, logic, windows(), None);
            resumes.push(admitted);
            decided.push(throttled);
        }
        if groups {
            let logic = Group {
                evaluator: Arc::clone(&evaluator),
            };
            let flushes = Some(flushes.enter(inner));
            let (_, flushed) = keyed(evaluated.group, logic, windows(), flushes);
            decided.push(flushed);
        } else {
            flushes.inspect(|request| request.tally.report(0));
        }
        if schedules {
            let (released, scheduled) = schedule::schedule(
                evaluated.schedule,
                Arc::clone(&evaluator),
                epochs,
                checkpointer.clone(),
            );
            resumes.push(released);
            decided.push(scheduled);
        }
        inner.concatenate(resumes).connect_loop(resume_handle);
        inner.concatenate(decided).leave(scope)
    })
}
