//! The engine behind the API, as a sequence of generations: each generation is one
//! `acteon_engine::run` over its own [`ApiFeed`] with one plan. A new plan (a reload, a runtime
//! quota or retention policy) starts a new generation; once it has started, new actions go to
//! it and the previous generation's feed ends, so it finishes what it holds (releasing held
//! actions, finishing chains) and returns. Every generation writes to the same sink and chain
//! store, so the audit and chain statuses outlive a reload, and the same dedup memory, so
//! unchanged dedup rules keep their windows. Other held state (groups waiting, scheduled
//! actions, throttle and quota windows) belongs to its generation: the old one releases its
//! groups and scheduled actions as it ends, and the new one counts windows afresh.

use crate::error::ServerError;
use crate::feed::{api_feed, ApiLanes};
use crate::sink::ServerSink;
use crate::source::{ScriptSource, ServedFeed};
use crate::waiting::Waiting;
use acteon_dsl::plan::Plan;
use acteon_engine::chains::status::ChainStore;
use acteon_engine::decode::Decoder;
use acteon_engine::eval::Evaluator;
use acteon_engine::feed::Feed;
use acteon_engine::operators::keyed::dedup::DedupMemory;
use acteon_engine::providers::breaker::ProviderHealth;
use acteon_engine::{AuditOutput, Clock, Input, RunConfig, RunObserver};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a new generation may take to build its providers before it counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The plan a generation runs, compiled once for dry runs and listings, and the lanes its
/// actions go in by.
#[derive(Debug)]
pub struct Generation {
    pub number: u64,
    pub plan: Plan,
    pub evaluator: Evaluator,
    /// Reads request bodies as the plan's actions (with its payload paths).
    pub decoder: Decoder,
    pub lanes: ApiLanes,
    health: Arc<RwLock<ProviderHealth>>,
    /// The dataflow time before which its audit is written (times are wall-clock ms).
    audited: Arc<AtomicU64>,
}

impl Generation {
    /// The time before which every record of this generation is in the audit store.
    pub fn audited(&self) -> u64 {
        self.audited.load(Ordering::Acquire)
    }

    /// The breaker states and per-provider figures of this generation's providers.
    pub fn health(&self) -> ProviderHealth {
        self.health
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

pub struct EngineHost {
    /// Workers, delivery, providers: everything but the input, clock, audit and chains.
    template: RunConfig,
    sink: Arc<ServerSink>,
    chains: ChainStore,
    /// The requests waiting for decisions, whichever generation makes them.
    waiting: Arc<Waiting>,
    /// Request sequence numbers, across generations. It starts at the wall clock in
    /// microseconds (in the 48 bits a token holds), so a restarted server does not give an
    /// action without an id the id of one before it.
    sequence: Arc<AtomicU64>,
    /// Dedup windows every generation shares: a reload keeps unchanged rules' windows.
    dedup: DedupMemory,
    /// The script's own source, read by every generation in turn beside the API.
    source: Option<ScriptSource>,
    current: RwLock<Option<Arc<Generation>>>,
    /// Running engines, the current one and those still draining.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for EngineHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineHost")
            .field("generation", &self.current().map(|g| g.number))
            .finish_non_exhaustive()
    }
}

/// Hands a generation's provider health to the host once the run has built its providers.
#[derive(Debug)]
struct Started {
    health: Arc<RwLock<ProviderHealth>>,
    signal: Mutex<Option<std_mpsc::Sender<()>>>,
    audited: Arc<AtomicU64>,
}

impl RunObserver for Started {
    fn started(&self, health: &ProviderHealth) {
        *self.health.write().unwrap_or_else(|e| e.into_inner()) = health.clone();
        if let Some(signal) = self.signal.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = signal.send(());
        }
    }

    fn audited(&self, through: u64) {
        self.audited.store(through, Ordering::Release);
    }
}

impl EngineHost {
    pub fn new(
        template: RunConfig,
        sink: Arc<ServerSink>,
        chains: ChainStore,
        waiting: Arc<Waiting>,
        source: Option<Arc<dyn Feed>>,
    ) -> EngineHost {
        let micros = acteon_engine::time::wall_clock_us().max(1) as u64;
        EngineHost {
            template,
            sink,
            chains,
            waiting,
            sequence: Arc::new(AtomicU64::new(acteon_engine::action::api_sequence(micros))),
            dedup: DedupMemory::new(),
            source: source.map(ScriptSource::new),
            current: RwLock::new(None),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// The generation deciding new actions; `None` after shutdown.
    pub fn current(&self) -> Option<Arc<Generation>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts a generation running `plan` and makes it current once its providers are built;
    /// the previous generation then drains. If it cannot start, the previous one stays.
    pub fn start(&self, plan: Plan) -> Result<Arc<Generation>, ServerError> {
        // A generation of a cluster is one dataflow over every process's TCP connections:
        // a new one would need every process to start it together.
        if self.template.cluster.is_some() && self.current().is_some() {
            return Err(ServerError::ClusterPlan);
        }
        let process = self.template.cluster.as_ref().map_or(0, |c| c.process);
        let workers = self.template.workers.max(1);
        let (api, lanes) = api_feed(process * workers, workers, Arc::clone(&self.sequence));
        let source = self.source.as_ref().map(|s| s.next_generation(workers));
        let feed = ServedFeed::new(api, source.clone());
        let health = Arc::new(RwLock::new(ProviderHealth::default()));
        let audited = Arc::new(AtomicU64::new(0));
        let (signal, started) = std_mpsc::channel();
        let config = RunConfig {
            input: Input::Feed(Arc::new(feed)),
            // Served actions are decided as they arrive: windows follow the wall clock.
            clock: Clock::Processing,
            audit: AuditOutput::Sink(self.sink.clone()),
            // Rejected requests are answered 400; the file (`--dead-letter`) takes failed
            // deliveries and the script's source's rejected records, every generation adding
            // to it.
            dead_letter: self.template.dead_letter.clone(),
            dead_letter_appends: true,
            chains: self.chains.clone(),
            dedup_memory: Some(self.dedup.clone()),
            audit_at_entry: true,
            answers: Some(self.waiting.clone()),
            observer: Some(Arc::new(Started {
                health: health.clone(),
                signal: Mutex::new(Some(signal)),
                audited: audited.clone(),
            })),
            ..self.template.clone()
        };
        let number = self.current().map_or(1, |g| g.number + 1);
        let evaluator = Evaluator::new(&plan);
        let decoder = Decoder {
            max_action_bytes: self.template.max_action_bytes,
            paths: Arc::clone(evaluator.paths().set()),
        };
        let generation = Arc::new(Generation {
            number,
            evaluator,
            decoder,
            plan: plan.clone(),
            lanes,
            health,
            audited,
        });
        let (failed, failure) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("engine-{number}"))
            .spawn(move || match acteon_engine::run(&plan, config) {
                Ok(report) => tracing::info!(
                    generation = number,
                    actions = report.inputs,
                    records = report.records,
                    "engine generation finished"
                ),
                Err(error) => {
                    tracing::error!(generation = number, %error, "engine generation failed");
                    let _ = failed.send(error.to_string());
                }
            })
            .map_err(|e| ServerError::Engine(e.to_string()))?;
        // Started, or failed before starting: whichever comes first.
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            if started.try_recv().is_ok() {
                break;
            }
            let failed = match failure.try_recv() {
                // The run has returned its error: its thread ends.
                Ok(error) => Some((error, true)),
                Err(_) if std::time::Instant::now() > deadline => {
                    Some(("the engine did not start in time".into(), false))
                }
                Err(_) => None,
            };
            if let Some((error, ended)) = failed {
                if ended {
                    let _ = thread.join();
                }
                if let (Some(script), Some(part)) = (&self.source, &source) {
                    script.abandon(part);
                }
                return Err(ServerError::Engine(error));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut threads = self.lock_threads();
        // Generations that have drained are done with: only running ones are joined later.
        threads.retain(|t| !t.is_finished());
        threads.push(thread);
        drop(threads);
        // The previous generation's sender goes with it: its feed ends once in-flight
        // requests holding a clone of it have sent.
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(generation.clone());
        tracing::info!(generation = number, "engine generation started");
        Ok(generation)
    }

    /// Ends every generation's feed and waits for them to finish what they hold.
    pub fn shutdown(&self) {
        self.current
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let threads = std::mem::take(&mut *self.lock_threads());
        for thread in threads {
            let _ = thread.join();
        }
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }
}
