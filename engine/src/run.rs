//! The public entry point: run a plan over an input to the end, or run a script's test.

use crate::action::Position;
use crate::answers::Answers;
use crate::audit::buffer::Backpressure;
use crate::audit::record::{AuditRecord, AuditTtl};
use crate::audit::redact::Redactor;
use crate::audit::sink::{JsonLinesWriter, LineThread, RecordSink};
use crate::audit::AuditError;
use crate::chains::status::ChainStore;
use crate::chains::{ChainBook, ChainError};
use crate::checkpoint::store::Layout;
use crate::checkpoint::{CheckpointError, Checkpointer, StateStore};
use crate::dataflow::{assemble, Assembly};
use crate::decode::Decoder;
use crate::eval::Evaluator;
use crate::feed::{FeedReader, SharedFeed};
use crate::operators::audit_writer::AuditRoute;
use crate::operators::keyed::dedup::{DedupMemory, SharedWindows};
use crate::operators::source::{Lines, SourceSettings};
use crate::operators::{AuditEntry, Renderer};
use crate::provider::{ProviderCall, ProviderFactory};
use crate::providers::breaker::ProviderHealth;
use crate::providers::dry_run::Fixtures;
use crate::providers::registry::{ProviderError, ProviderMode, ProviderRegistry};
use crate::report::Views;
use crate::tables::{TableBook, TableInputError, TableInputs, Tables};
pub use crate::time::Clock;
use crate::time::Epochs;
use acteon_dsl::plan::Plan;
use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicI64;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub input: Input,
    pub workers: usize,
    pub clock: Clock,
    pub audit: AuditOutput,
    pub delivery: Delivery,
    /// Rejected lines, as JSON lines `{ "line", "reason", "record" }`, and failed deliveries.
    pub dead_letter: Option<PathBuf>,
    /// The dead-letter file is appended to rather than started afresh (a served engine's
    /// generations, and its restarts, share it).
    pub dead_letter_appends: bool,
    /// Longer lines are rejected.
    pub max_action_bytes: usize,
    /// The length of a timely epoch.
    pub epoch_ms: u64,
    /// On the event clock: how far behind its input's latest event time an action may be
    /// read and still be decided by its own event time; an older one is `late`: audited, sent
    /// to the dead letters, and not decided.
    pub max_lateness_ms: u64,
    /// With [`Delivery::Live`]: builds the providers of kinds the engine does not deliver
    /// itself (the AWS kinds).
    pub live_providers: Option<Arc<dyn ProviderFactory>>,
    /// Where every chain's status goes, and where cancels come from; clone it to read.
    pub chains: ChainStore,
    /// This process is one of several running one dataflow; `None` runs alone.
    pub cluster: Option<Cluster>,
    /// Told the run's live state once it starts (the HTTP API reads it while the run goes on).
    pub observer: Option<Arc<dyn RunObserver>>,
    /// Dedup windows to keep beyond this run: a later run given the same memory still drops
    /// repeats for its unchanged dedup rules (a served engine's reload).
    pub dedup_memory: Option<DedupMemory>,
    /// In a cluster, write each action's audit records in the process whose feed lane read
    /// it (lane `p` is process `p`'s) rather than where it was decided: a served cluster
    /// answers a dispatch from the records of the process that received it.
    pub audit_at_entry: bool,
    /// Durable state: checkpoints taken at an interval, the newest restored at start.
    pub checkpoints: Option<CheckpointConfig>,
    /// Where the decisions of actions read with an API token go as they are made (the
    /// requests waiting for them); see [`crate::answers`].
    pub answers: Option<Arc<dyn Answers>>,
    /// The plan's tables' rows, shared with whoever reads or changes them while the run goes
    /// on (the HTTP API), and how tables from topics are read.
    pub tables: Tables,
    /// The sink buffers' backpressure: while engaged, the sources read nothing.
    pub backpressure: Option<Backpressure>,
}

/// Where checkpoints go and how often they are taken.
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    pub store: Arc<dyn StateStore>,
    pub interval: Duration,
}

/// Timely's cluster mode: every process runs `workers` workers of one dataflow, connected over
/// TCP. Keyed state is exchanged to its owner wherever it lives; each process reads its share
/// of the input (a file's lines, a feed's partitions) and writes the audit of the decisions
/// made in it.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// This process's index in `addresses`.
    pub process: usize,
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
}

impl Cluster {
    fn timely(&self, workers: usize) -> timely::Config {
        timely::Config {
            communication: timely::CommunicationConfig::Cluster {
                threads: workers,
                process: self.process,
                addresses: self.addresses.clone(),
                report: false,
                zerocopy: false,
            },
            worker: timely::WorkerConfig::default(),
        }
    }
}

/// Watches a run from outside while it goes on.
pub trait RunObserver: Send + Sync + std::fmt::Debug {
    /// Called once, before the first action is read: the providers' breaker states and figures.
    fn started(&self, health: &ProviderHealth);

    /// Every record of a time before `through` has been handed to the audit's destinations
    /// (called on each process's first worker as its audit writer's frontier moves).
    fn audited(&self, _through: u64) {}
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            input: Input::Stdin,
            workers: 1,
            clock: Clock::Event,
            audit: AuditOutput::None,
            delivery: Delivery::DryRunMemory,
            dead_letter: None,
            dead_letter_appends: false,
            max_action_bytes: 1 << 20,
            epoch_ms: 100,
            max_lateness_ms: 0,
            live_providers: None,
            chains: ChainStore::new(),
            cluster: None,
            observer: None,
            dedup_memory: None,
            audit_at_entry: false,
            checkpoints: None,
            answers: None,
            tables: Tables::new(),
            backpressure: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Input {
    File(PathBuf),
    Stdin,
    /// Lines given in memory (`acteon test`, tests).
    Lines(Vec<String>),
    /// A live feed (Kafka): rejected records also go to its dead-letter output, and positions
    /// are committed once every effect of their records is done.
    Feed(SharedFeed),
}

#[derive(Debug, Clone)]
pub enum AuditOutput {
    File(PathBuf),
    Memory,
    /// An external store (the DynamoDB table).
    Sink(Arc<dyn RecordSink>),
    None,
}

#[derive(Debug, Clone)]
pub enum Delivery {
    /// Every provider call is recorded in `DIR/<provider>.jsonl` instead of made.
    DryRunDir(PathBuf),
    /// Every provider call is recorded in the report.
    DryRunMemory,
    /// Like `DryRunMemory`, with answers scripted per provider (tests of chains).
    DryRunScripted(Fixtures),
    /// Calls are made, behind circuit breakers: the log provider logs; other kinds need
    /// [`RunConfig::live_providers`], else their calls fail.
    Live,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot read the input {path}: {source}")]
    Input {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Providers(#[from] ProviderError),
    #[error(transparent)]
    Chains(#[from] ChainError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot open the feed: {0}")]
    Feed(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Table(#[from] TableInputError),
    #[error("the dataflow failed: {0}")]
    Dataflow(String),
}

#[derive(Debug, Clone)]
pub struct RunReport {
    /// Input lines read (blank lines are not inputs).
    pub inputs: u64,
    /// Audit records written.
    pub records: u64,
    /// With [`AuditOutput::Memory`]: the records, in written order.
    pub audit: Vec<AuditRecord>,
    /// With [`Delivery::DryRunMemory`]: every provider call.
    pub calls: Vec<ProviderCall>,
    /// Outcome counts per tenant, rule and provider.
    pub views: Views,
    /// Breaker states and per-provider figures at the end (live delivery only).
    pub health: ProviderHealth,
    pub elapsed: Duration,
}

/// Runs `plan` over the whole input and returns once every action is decided, every held
/// action released, every group flushed, every call answered and the audit written.
pub fn run(plan: &Plan, config: RunConfig) -> Result<RunReport, EngineError> {
    let started = Instant::now();
    if config.workers == 0 {
        return Err(EngineError::Config("at least one worker is needed".into()));
    }
    // Worker indices are global: this process's workers are `first..first + workers`.
    let (first, peers, timely_config) = match &config.cluster {
        Some(cluster) if cluster.process >= cluster.addresses.len() => {
            return Err(EngineError::Config(format!(
                "process {} of a cluster of {}: processes count from 0",
                cluster.process,
                cluster.addresses.len()
            )))
        }
        Some(cluster) => (
            cluster.process * config.workers,
            cluster.addresses.len() * config.workers,
            cluster.timely(config.workers),
        ),
        None => (0, config.workers, timely::Config::process(config.workers)),
    };
    // A checkpoint is one process's state at an epoch its own workers agreed on; processes
    // of a cluster would each pick their own epochs, and no set of their checkpoints would be
    // one consistent cut of the keyed state they exchange.
    if config.cluster.is_some() && config.checkpoints.is_some() {
        return Err(EngineError::Config(
            "checkpoints are not supported in a cluster (--processes > 1) yet".into(),
        ));
    }
    if let Input::File(path) = &config.input {
        File::open(path).map_err(|source| EngineError::Input {
            path: path.clone(),
            source,
        })?;
    }
    let audit_file = match &config.audit {
        AuditOutput::File(path) => Some(LineThread::start(JsonLinesWriter::create(path)?)),
        _ => None,
    };
    let dead_letter = config
        .dead_letter
        .as_ref()
        .map(|path| match config.dead_letter_appends {
            true => JsonLinesWriter::append(path),
            false => JsonLinesWriter::create(path),
        })
        .transpose()?;
    let providers = ProviderRegistry::build(
        plan,
        match &config.delivery {
            Delivery::DryRunDir(dir) => ProviderMode::DryRunDir(dir.clone()),
            Delivery::DryRunMemory => ProviderMode::DryRunMemory,
            Delivery::DryRunScripted(fixtures) => ProviderMode::DryRunScripted(fixtures.clone()),
            Delivery::Live => ProviderMode::Live(config.live_providers.clone()),
        },
    )?;
    if let Some(observer) = &config.observer {
        observer.started(providers.health());
    }
    let views = Views::new();
    let checkpointer = match &config.checkpoints {
        Some(checkpoints) => Some(Arc::new(Checkpointer::open(
            Arc::clone(&checkpoints.store),
            checkpoints.interval,
            Epochs::new(config.epoch_ms),
            config.workers,
            Layout::of(plan),
        )?)),
        None => None,
    };
    let resume = checkpointer
        .as_ref()
        .and_then(|c| c.restored())
        .map(|r| r.manifest.positions.clone())
        .unwrap_or_default();
    // Each worker's part of a feed is opened here, so a feed that cannot start fails the run.
    let readers = match &config.input {
        Input::Feed(feed) => (first..first + config.workers)
            .map(|index| feed.open(index, peers, &resume).map(Some))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EngineError::Feed)?,
        _ => Vec::new(),
    };
    let feed = match &config.input {
        Input::Feed(feed) => Some(Arc::clone(feed)),
        _ => None,
    };
    let hold_epochs = longest_hold_ms(plan).div_ceil(config.epoch_ms.max(1)) + 1;
    let chains = match starts_chains_of(plan) {
        true => Some(Arc::new(ChainBook::new(plan)?)),
        false => None,
    };

    let evaluator = Arc::new(Evaluator::new(plan));
    let tables = TableBook::new(plan, evaluator.paths())
        .map(|book| TableInputs::open(book, &config.tables, checkpointer.as_deref(), first == 0))
        .transpose()?;
    let shared = Arc::new(Shared {
        evaluator,
        tables,
        watermark: Arc::new(AtomicI64::new(i64::MIN)),
        dedup_identities: Arc::new(match config.dedup_memory {
            Some(_) => DedupMemory::identities(plan),
            None => Vec::new(),
        }),
        chains,
        plan: plan.clone(),
        providers: providers.clone(),
        views: views.clone(),
        input: match &config.input {
            Input::Lines(lines) => SharedInput::Lines(Arc::new(lines.clone())),
            Input::File(path) => SharedInput::File(path.clone()),
            Input::Stdin => SharedInput::Stdin,
            Input::Feed(_) => SharedInput::Feed,
        },
        readers: Mutex::new(readers),
        memory_audit: matches!(config.audit, AuditOutput::Memory),
        outputs: Mutex::new(Some((audit_file, dead_letter))),
        config: config.clone(),
        checkpointer: checkpointer.clone(),
    });
    let guards = timely::execute(timely_config, move |worker| {
        let shared = Arc::clone(&shared);
        let index = worker.index() as u64;
        let peers = worker.peers() as u64;
        let local = worker.index() - first;
        let lines_read = Rc::new(Cell::new(0u64));
        let written = Rc::new(RefCell::new(Written::default()));
        let outputs = if local == 0 {
            shared.outputs.lock().ok().and_then(|mut o| o.take())
        } else {
            None
        };
        if let Some((audit_file, dead_letter)) = outputs {
            let mut written = written.borrow_mut();
            written.audit_file = audit_file;
            written.dead_letter = dead_letter;
            written.feed = feed.clone();
            if let AuditOutput::Sink(sink) = &shared.config.audit {
                written.sink = Some(Arc::clone(sink));
            }
            // A decision made in another process reaches the requests of this one here.
            if shared.config.cluster.is_some() {
                written.answers = shared.config.answers.clone();
            }
        }
        let memory_audit = shared.memory_audit;
        let sink = Rc::clone(&written);
        let write = move |entry: AuditEntry| sink.borrow_mut().write(entry, memory_audit);
        // Each batch of epochs goes to the file's thread; live, it is also flushed before the
        // batch counts as written: a feed commits behind it, and a checkpoint is complete only
        // once its audit is out.
        let sink = Rc::clone(&written);
        let live = feed.as_ref().is_some_and(|f| f.commits()) || shared.checkpointer.is_some();
        let observer = shared.config.observer.clone();
        let flush = move |through: u64, wrote: bool| {
            let mut written = sink.borrow_mut();
            if wrote {
                written.hand_over();
                if live {
                    written.flush();
                }
            }
            if let Some(observer) = &observer {
                observer.audited(through);
            }
        };
        let config = &shared.config;
        let source = SourceSettings {
            clock: config.clock,
            epochs: Epochs::new(config.epoch_ms),
            max_lateness_ms: config.max_lateness_ms,
            decoder: Decoder {
                max_action_bytes: config.max_action_bytes,
                paths: Arc::clone(shared.evaluator.paths().set()),
            },
            share: match shared.input {
                SharedInput::Stdin | SharedInput::Feed => None,
                _ => Some((index, peers)),
            },
            hold_epochs,
            watermark: Arc::clone(&shared.watermark),
            checkpointer: shared.checkpointer.clone(),
            backpressure: config.backpressure.clone(),
        };
        let renderer = Rc::new(Renderer {
            evaluator: Arc::clone(&shared.evaluator),
            clock: config.clock,
            store_payload: shared.plan.audit.store_payload,
            redactor: Redactor::new(&shared.plan.audit),
            ttl: AuditTtl::new(&shared.plan),
            keep_records: matches!(config.audit, AuditOutput::Memory | AuditOutput::Sink(_)),
            answers: config.answers.clone(),
        });
        let input = shared.input.clone();
        let reader = shared
            .readers
            .lock()
            .ok()
            .and_then(|mut readers| readers.get_mut(local).and_then(Option::take));
        let lines = move |activator| input.open(index, activator, reader);
        worker.dataflow::<u64, _, _>(|scope| {
            assemble(
                scope,
                Assembly {
                    evaluator: Arc::clone(&shared.evaluator),
                    quotas: shared.plan.quotas.clone(),
                    source,
                    renderer,
                    providers: shared.providers.clone(),
                    views: shared.views.clone(),
                    chains: shared
                        .chains
                        .as_ref()
                        .map(|book| (Arc::clone(book), shared.config.chains.clone())),
                    checkpointer: shared.checkpointer.clone(),
                    audit_route: match (config.audit_at_entry, &config.cluster) {
                        (true, Some(_)) => AuditRoute::Entry {
                            workers: config.workers as u64,
                            leader: first as u64,
                        },
                        _ => AuditRoute::Decider {
                            leader: first as u64,
                        },
                    },
                    dedup_windows: shared.config.dedup_memory.as_ref().map(|memory| {
                        SharedWindows {
                            memory: memory.clone(),
                            identities: Arc::clone(&shared.dedup_identities),
                        }
                    }),
                    tables: shared.tables.as_ref().map(|tables| {
                        let epochs = Epochs::new(config.epoch_ms);
                        let checkpointer = shared.checkpointer.clone();
                        let sources = tables.for_worker(local, epochs, checkpointer);
                        (Arc::clone(&tables.book), sources)
                    }),
                },
                lines,
                (write, flush),
                Rc::clone(&lines_read),
            )
        });
        if let Some(checkpointer) = &shared.checkpointer {
            checkpointer.built();
        }
        while worker.has_dataflows() {
            worker.step_or_park(None);
        }
        let mut written = written.take();
        written.hand_over();
        written.flush();
        if let Some(Err(error)) = written.audit_file.take().map(LineThread::finish) {
            written.error.get_or_insert_with(|| error.to_string());
        }
        (lines_read.get(), written)
    })
    .map_err(EngineError::Dataflow)?;

    let mut report = RunReport {
        inputs: 0,
        records: 0,
        audit: Vec::new(),
        calls: Vec::new(),
        views,
        health: providers.health().clone(),
        elapsed: Duration::ZERO,
    };
    let results = guards.join();
    if let Some(checkpointer) = &checkpointer {
        checkpointer.finish();
    }
    for result in results {
        let (inputs, written) = result.map_err(EngineError::Dataflow)?;
        if let Some(error) = written.error {
            return Err(EngineError::Dataflow(format!(
                "writing the audit failed: {error}"
            )));
        }
        report.inputs += inputs;
        report.records += written.records;
        report.audit.extend(written.records_kept);
    }
    providers
        .flush()
        .map_err(|e| EngineError::Dataflow(format!("writing the dry-run calls failed: {e}")))?;
    report.calls = providers
        .recorded_calls()
        .into_iter()
        .map(|recorded| recorded.call)
        .collect();
    report.elapsed = started.elapsed();
    Ok(report)
}

struct Shared {
    evaluator: Arc<Evaluator>,
    tables: Option<TableInputs>,
    /// The largest event time any worker of this process has read: a feed's caught-up workers
    /// follow it, and chains still running when the input ends time out from it.
    watermark: Arc<AtomicI64>,
    /// With [`RunConfig::dedup_memory`]: each rule's identity in the memory.
    dedup_identities: Arc<Vec<u64>>,
    chains: Option<Arc<ChainBook>>,
    plan: Plan,
    providers: ProviderRegistry,
    views: Views,
    input: SharedInput,
    memory_audit: bool,
    #[allow(clippy::type_complexity)]
    outputs: Mutex<Option<(Option<LineThread>, Option<JsonLinesWriter>)>>,
    checkpointer: Option<Arc<Checkpointer>>,
    /// Each worker's part of a feed, taken by the worker.
    readers: Mutex<Vec<Option<Box<dyn FeedReader>>>>,
    config: RunConfig,
}

#[derive(Clone)]
enum SharedInput {
    File(PathBuf),
    Lines(Arc<Vec<String>>),
    Stdin,
    Feed,
}

/// Whether a rule of the plan starts a chain.
fn starts_chains_of(plan: &Plan) -> bool {
    plan.rules
        .iter()
        .any(|r| matches!(r.action, acteon_dsl::plan::RuleAction::Chain { .. }))
}

/// How long after its own epoch an action's effects may still be pending: the longest
/// schedule delay, group wait or chain timeout in the plan.
fn longest_hold_ms(plan: &Plan) -> u64 {
    use acteon_dsl::plan::RuleAction;
    let rules = plan.rules.iter().map(|rule| match &rule.action {
        RuleAction::Schedule { delay_ms } => *delay_ms,
        RuleAction::Group { wait_ms, .. } => *wait_ms,
        _ => 0,
    });
    let chains = plan.chains.iter().map(|chain| chain.timeout_ms);
    rules.chain(chains).max().unwrap_or(0)
}

impl SharedInput {
    /// The lines as worker `index` reads them: every worker reads a file (decoding only its
    /// share); stdin can only be read once, by worker 0; a feed is read through the worker's
    /// own reader.
    fn open(
        self,
        index: u64,
        activator: timely::scheduling::SyncActivator,
        reader: Option<Box<dyn FeedReader>>,
    ) -> Lines {
        match self {
            SharedInput::Feed => match reader {
                Some(mut reader) => {
                    let wakes = reader.wake_with(activator);
                    Lines::Feed { reader, wakes }
                }
                None => Lines::Empty,
            },
            SharedInput::File(path) => match File::open(&path) {
                Ok(file) => Lines::File(BufReader::with_capacity(1 << 18, file)),
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "input vanished before the run");
                    Lines::Empty
                }
            },
            SharedInput::Lines(lines) => Lines::Memory(lines, 0),
            SharedInput::Stdin if index == 0 => {
                let (sender, receiver) = mpsc::sync_channel::<String>(4096);
                std::thread::spawn(move || {
                    for line in std::io::stdin().lock().lines() {
                        let Ok(line) = line else { break };
                        if sender.send(line).is_err() {
                            break;
                        }
                        let _ = activator.activate();
                    }
                    let _ = activator.activate();
                });
                Lines::Channel(receiver)
            }
            SharedInput::Stdin => Lines::Empty,
        }
    }
}

/// What worker 0's audit writer has written.
#[derive(Default)]
struct Written {
    records: u64,
    /// With a memory audit: the records, in written order.
    records_kept: Vec<AuditRecord>,
    error: Option<String>,
    audit_file: Option<LineThread>,
    /// Lines for the audit file, handed over once per batch of epochs.
    batch: Vec<Vec<u8>>,
    sink: Option<Arc<dyn RecordSink>>,
    dead_letter: Option<JsonLinesWriter>,
    /// Dead letters written since the file was last flushed.
    dead_letters_unflushed: bool,
    feed: Option<SharedFeed>,
    /// In a cluster: requests of this process whose actions were decided in another.
    answers: Option<Arc<dyn Answers>>,
}

impl Written {
    fn write(&mut self, entry: AuditEntry, memory: bool) {
        self.records += 1;
        let mut result = Ok(());
        if let (Some(answers), Some(record), Position::Api(token)) =
            (&self.answers, &entry.record, entry.order.1)
        {
            if record.outcome.decides() {
                answers.answer(token, record);
            }
        }
        if let (Some(sink), Some(record)) = (&self.sink, &entry.record) {
            sink.write(record, &entry.line);
        }
        if let Some(entry) = entry.dead_letter.as_ref() {
            if let Some(file) = self.dead_letter.as_mut() {
                result = result.and(file.write_line(entry.json_line().as_bytes()));
                self.dead_letters_unflushed = true;
            }
            if let Some(feed) = &self.feed {
                let (position, reason, record) = entry.parts();
                feed.dead_letter(position, reason, record);
            }
        }
        if let Err(error) = result {
            self.error.get_or_insert_with(|| error.to_string());
        }
        if let (true, Some(record)) = (memory, entry.record) {
            self.records_kept.push(*record);
        }
        if self.audit_file.is_some() {
            self.batch.push(entry.line);
        }
    }

    /// Hands the lines written so far to the audit file's thread, and flushes the dead
    /// letters written since the last batch: they are read while a served engine runs.
    fn hand_over(&mut self) {
        if let Some(file) = &self.audit_file {
            if !self.batch.is_empty() {
                file.write(std::mem::take(&mut self.batch));
            }
        }
        if std::mem::take(&mut self.dead_letters_unflushed) {
            if let Some(Err(error)) = self.dead_letter.as_mut().map(JsonLinesWriter::flush) {
                self.error.get_or_insert_with(|| error.to_string());
            }
        }
    }

    /// Waits until everything written is stored: the files flushed, the sink finished.
    fn flush(&mut self) {
        let mut result = self.audit_file.as_ref().map_or(Ok(()), LineThread::flush);
        if let Some(file) = self.dead_letter.as_mut() {
            result = result.and(file.flush());
        }
        if let Err(error) = result {
            self.error.get_or_insert_with(|| error.to_string());
        }
        if let Some(Err(error)) = self.sink.as_ref().map(|sink| sink.finish()) {
            self.error.get_or_insert(error);
        }
    }
}
