//! Assembles the operators into one dataflow per worker:
//!
//! ```text
//! source ─► quota ─► ┌ loop (epoch, rule) ──────────────────────────────┐
//!   │                │ evaluate ─► dedup / throttle / schedule ─► (rule+1) ┐│
//!   │                │    ▲                                               ││
//!   │                │    └───────────────── feedback ◄──────────────────┘│
//!   │                │ evaluate, dedup, throttle, group, schedule: decisions ┘
//!   │                          ├─► deliver ─► audit writer (each process's first worker)
//!   │                          └─► chain (chain_started, exchanged by chain id) ─► audit writer
//!   └─ rejected lines ─────────────────────────► audit writer
//! ```
//!
//! Operators exist only for the rule kinds the plan uses, and never one per rule.

use crate::chains::status::ChainStore;
use crate::chains::ChainBook;
use crate::checkpoint::Checkpointer;
use crate::eval::{Evaluator, Gate};
use crate::operators::audit_writer::AuditRoute;
use crate::operators::chain::{chain, ChainSettings, ChainStart};
use crate::operators::dedup::SharedWindows;
use crate::operators::deliver::deliver;
use crate::operators::evaluate::{evaluate, LoopTime};
use crate::operators::source::{source, Lines, SourceSettings};
use crate::operators::{audit_writer, dedup, group, quota, schedule, throttle};
use crate::operators::{AuditLine, Decision, Flow, Renderer};
use crate::providers::registry::ProviderRegistry;
use crate::report::{install_views, Views};
use crate::time::Epochs;
use acteon_dsl::plan::{Outcome, Quota};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use timely::dataflow::operators::vec::{Map, Partition};
use timely::dataflow::operators::{Concatenate, ConnectLoop, Enter, Feedback, Leave, Probe};
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
}

/// Builds the dataflow in `scope`; `write` receives the audit lines in written order (on
/// the process's first worker) and `written` is called after each batch of completed epochs; `lines_read` counts
/// the input lines this worker decoded.
pub fn assemble(
    scope: Scope<'_, u64>,
    assembly: Assembly,
    lines: impl FnOnce(SyncActivator) -> Lines + 'static,
    (write, written): (impl FnMut(AuditLine) + 'static, impl FnMut() + 'static),
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
    } = assembly;
    let audited = checkpointer.clone();
    let epochs = settings.epochs;
    let watermark = Arc::clone(&settings.watermark);
    let max_lateness_ms = settings.max_lateness_ms;
    // Passes an epoch once its audit is written: the source commits a feed's positions behind it.
    let probe = ProbeHandle::new();
    let (flows, rejected) = source(
        scope,
        lines,
        settings,
        Rc::clone(&renderer),
        lines_read,
        probe.clone(),
    );
    let mut decisions = Vec::new();
    let flows = if quotas.is_empty() {
        flows
    } else {
        let (admitted, exceeded) = quota::quota(flows, quotas, checkpointer.clone());
        decisions.push(exceeded);
        admitted
    };
    let settings = RuleSettings {
        evaluator,
        epochs,
        max_lateness_ms,
        checkpointer: checkpointer.clone(),
        dedup_windows,
    };
    decisions.push(rules(scope, flows, settings));
    let decisions = scope.concatenate(decisions);
    let audit = match chains {
        None => vec![deliver(decisions, providers, renderer), rejected],
        Some((book, store)) => {
            // Only chain_started decisions are copied (deliver still records them).
            let mut parts = decisions.partition(2, |decision: Decision| {
                ((decision.outcome == Outcome::ChainStarted) as u64, decision)
            });
            let started = parts.pop().expect("two parts");
            let starts = started.clone().flat_map(|decision: Decision| {
                let chain = decision.details.get("chain")?.as_str()?.to_owned();
                Some::<ChainStart>((decision.flow, chain))
            });
            let settings = ChainSettings {
                book,
                providers: providers.clone(),
                store,
                renderer: Rc::clone(&renderer),
                epochs,
                watermark,
                checkpointer,
            };
            let decided = scope.concatenate(parts.into_iter().chain([started]));
            vec![
                deliver(decided, providers, renderer),
                chain(starts, settings),
                rejected,
            ]
        }
    };
    let facts = scope
        .concatenate(audit.iter().cloned())
        .map(|line: AuditLine| line.fact);
    install_views(facts, &views);
    if let Some(completed) = audit_writer::audit_writer(audit, audit_route, write, written, audited)
    {
        completed.probe_with(&probe);
    }
}

/// What the rule loop's operators share.
struct RuleSettings {
    evaluator: Arc<Evaluator>,
    epochs: Epochs,
    max_lateness_ms: u64,
    checkpointer: Option<Arc<Checkpointer>>,
    dedup_windows: Option<SharedWindows>,
}

/// The rule loop: returns every decision made inside it.
fn rules<'s>(
    scope: Scope<'s, u64>,
    flows: Stream<'s, u64, Vec<Flow>>,
    settings: RuleSettings,
) -> Stream<'s, u64, Vec<Decision>> {
    let RuleSettings {
        evaluator,
        epochs,
        max_lateness_ms,
        checkpointer,
        dedup_windows,
    } = settings;
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
            let (passed, repeated) = dedup::dedup(
                evaluated.dedup,
                Arc::clone(&evaluator),
                max_lateness_ms,
                checkpointer.clone(),
                dedup_windows,
            );
            resumes.push(passed);
            decided.push(repeated);
        }
        if throttles {
            let (admitted, throttled) = throttle::throttle(
                evaluated.throttle,
                Arc::clone(&evaluator),
                max_lateness_ms,
                checkpointer.clone(),
            );
            resumes.push(admitted);
            decided.push(throttled);
        }
        if groups {
            decided.push(group::group(
                evaluated.group,
                Arc::clone(&evaluator),
                epochs,
                checkpointer.clone(),
            ));
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
