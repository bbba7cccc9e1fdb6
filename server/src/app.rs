//! The server's shared state, built once from the script: the engine host, the dispatcher, the
//! stores the routes read, and the runtime policies; and the two ways the plan changes while
//! serving, a script reload and a runtime policy change.

use crate::auth::{ApiKey, ApiKeys};
use crate::dispatch::Dispatcher;
use crate::engine::EngineHost;
use crate::error::{ApiError, ServerError};
use crate::metrics::Metrics;
use crate::policies::Policies;
use crate::recurring::RecurringBook;
use crate::sink::ServerSink;
use crate::views::StateViews;
use crate::waiting::Waiting;
use acteon_dsl::compile_file;
use acteon_dsl::plan::Plan;
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::audit::sink::{FileSink, JsonLinesWriter, RecordSink};
use acteon_engine::audit::store::AuditStore;
use acteon_engine::chains::status::ChainStore;
use acteon_engine::feed::Feed;
use acteon_engine::time::wall_clock_ms;
use acteon_engine::{AuditOutput, RunConfig};
use axum::http::StatusCode;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::broadcast;

/// What `acteon serve` is asked to do.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The script (its includes are followed and watched).
    pub script: PathBuf,
    pub api_keys: Vec<ApiKey>,
    /// Workers, delivery, providers, the audit destination: as for `acteon run`. The input,
    /// clock and chain store are the server's own.
    pub engine: RunConfig,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// How long a dispatch waits for its decision.
    pub decision_timeout: Duration,
    /// How often the script files are checked for changes; `None`: never.
    pub watch_interval: Option<Duration>,
    /// How often every background job runs (recurring actions, the retention reaper, chain
    /// cleanup); `None`: the script's `background` settings.
    pub background_interval: Option<Duration>,
    /// The script's own source (its Kafka topic), read beside the API; `None`: HTTP only.
    pub source: Option<Arc<dyn Feed>>,
}

impl ServerConfig {
    pub fn new(script: impl Into<PathBuf>, engine: RunConfig) -> ServerConfig {
        ServerConfig {
            script: script.into(),
            api_keys: Vec::new(),
            engine,
            max_body_bytes: 4 << 20,
            decision_timeout: Duration::from_secs(30),
            watch_interval: Some(Duration::from_millis(500)),
            background_interval: None,
            source: None,
        }
    }
}

/// How a reload went.
#[derive(Debug, Clone, PartialEq)]
pub enum Reload {
    /// The new plan decides from now on.
    Applied { generation: u64 },
    /// The script has errors: the old plan keeps deciding.
    Refused { diagnostics: String },
}

pub struct App {
    pub config: ServerConfig,
    pub engine: Arc<EngineHost>,
    pub dispatcher: Dispatcher,
    pub store: AuditStore,
    /// Each action's latest state and the waiting groups, folded from the audit.
    pub views: Arc<StateViews>,
    pub chains: ChainStore,
    pub policies: Policies,
    pub recurring: RecurringBook,
    pub metrics: Arc<Metrics>,
    pub keys: ApiKeys,
    /// Where the engine's records go; read by [`App::subscribe`].
    sink: Arc<ServerSink>,
    /// The script's own plan, before runtime policies are added.
    script_plan: RwLock<Plan>,
    /// One plan change at a time.
    changing: Mutex<()>,
}

impl App {
    /// Compiles the script and starts the engine on it.
    pub fn start(config: ServerConfig) -> Result<Arc<App>, ServerError> {
        let compiled = compile_file(&config.script);
        let Some(plan) = compiled.plan.clone() else {
            return Err(ServerError::Script(compiled.render_diagnostics()));
        };
        let diagnostics = compiled.render_diagnostics();
        if !diagnostics.is_empty() {
            tracing::warn!("{diagnostics}");
        }
        let forward: Option<Arc<dyn RecordSink>> = match &config.engine.audit {
            AuditOutput::File(path) => {
                let writer =
                    JsonLinesWriter::create(path).map_err(|source| ServerError::AuditFile {
                        path: path.clone(),
                        source,
                    })?;
                Some(Arc::new(FileSink::new(writer)))
            }
            AuditOutput::Sink(sink) => Some(sink.clone()),
            AuditOutput::Memory | AuditOutput::None => None,
        };
        let store = AuditStore::new();
        let metrics = Arc::new(Metrics::default());
        let views = Arc::new(StateViews::default());
        let sink = Arc::new(ServerSink::new(
            store.clone(),
            views.clone(),
            metrics.clone(),
            forward,
        ));
        let chains = ChainStore::new();
        let waiting = Arc::new(Waiting::default());
        let engine = Arc::new(EngineHost::new(
            config.engine.clone(),
            sink.clone(),
            chains.clone(),
            waiting.clone(),
            config.source.clone(),
        ));
        let policies = Policies::from_script(&plan);
        engine.start(policies.overlay(&plan))?;
        // In a cluster the script's recurring actions fire from process 0 alone: from every
        // process, each occurrence would be dispatched once per process.
        let script_recurring = match &config.engine.cluster {
            Some(cluster) if cluster.process > 0 => &[][..],
            _ => &plan.recurring[..],
        };
        let recurring = RecurringBook::new(
            script_recurring,
            plan.background.max_recurring_per_tenant as usize,
            wall_clock_ms(),
        );
        Ok(Arc::new(App {
            dispatcher: Dispatcher::new(engine.clone(), waiting, config.decision_timeout),
            keys: Arc::new(config.api_keys.clone()),
            config,
            engine,
            store,
            views,
            chains,
            policies,
            recurring,
            metrics,
            sink,
            script_plan: RwLock::new(plan),
            changing: Mutex::new(()),
        }))
    }

    /// The plan deciding now: the script's with the runtime policies.
    pub fn plan(&self) -> Plan {
        match self.engine.current() {
            Some(generation) => generation.plan.clone(),
            None => self.policies.overlay(&self.script_plan()),
        }
    }

    /// Every audit record written from now on (the console's live tail and counts).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AuditRecord>> {
        self.sink.subscribe()
    }

    fn script_plan(&self) -> Plan {
        self.script_plan
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Compiles the script again: a clean script replaces the plan, one with errors is
    /// refused (its diagnostics logged) and the old plan keeps deciding. Blocking.
    pub fn reload(&self) -> Reload {
        let _one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let compiled = compile_file(&self.config.script);
        let Some(plan) = compiled.plan.clone() else {
            let diagnostics = compiled.render_diagnostics();
            tracing::error!("the script has errors; the running plan stays:\n{diagnostics}");
            return Reload::Refused { diagnostics };
        };
        self.policies.refresh_script(&plan);
        match self.engine.start(self.policies.overlay(&plan)) {
            Ok(generation) => {
                *self.script_plan.write().unwrap_or_else(|e| e.into_inner()) = plan;
                tracing::info!(generation = generation.number, "script reloaded");
                Reload::Applied {
                    generation: generation.number,
                }
            }
            Err(error) => {
                tracing::error!(%error, "the reloaded plan cannot start; the running plan stays");
                Reload::Refused {
                    diagnostics: error.to_string(),
                }
            }
        }
    }

    /// Whether runtime policies may change: not in a cluster, whose processes run one plan
    /// (see [`crate::engine::EngineHost::start`]).
    pub fn changeable(&self) -> Result<(), ApiError> {
        match self.config.engine.cluster {
            Some(_) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "cluster_plan_fixed",
                ServerError::ClusterPlan.to_string(),
            )),
            None => Ok(()),
        }
    }

    /// Starts a generation with the current runtime policies. Blocking.
    pub fn apply_policies(&self) -> Result<(), ApiError> {
        let _one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        self.engine
            .start(self.policies.overlay(&self.script_plan()))
            .map(|_| ())
            .map_err(|error| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "engine_restart_failed",
                    error.to_string(),
                )
            })
    }

    /// The script's files (root and includes) as compiled last.
    pub fn script_files(&self) -> Vec<PathBuf> {
        let compiled = compile_file(&self.config.script);
        compiled
            .program
            .sources
            .files()
            .map(|(_, file)| file.path.clone())
            .collect()
    }
}
