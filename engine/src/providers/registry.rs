//! A provider for every provider name of a plan, chosen by the run's mode: dry-run to files,
//! dry-run to memory, or live.

use crate::provider::{CallResult, Provider, ProviderCall, ProviderFactory, Reply};
use crate::providers::breaker::{self, ProviderHealth};
use crate::providers::dry_run::{CallFile, CallLog, DryRun, Fixtures, RecordedCall};
use crate::providers::log::Log;
use acteon_dsl::plan::{Plan, ProviderKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub enum ProviderMode {
    /// Real deliveries, each provider behind its circuit breaker. Kinds the engine does not
    /// deliver itself come from the factory; without one, their calls fail.
    Live(Option<Arc<dyn ProviderFactory>>),
    /// `--dry-run DIR`: calls recorded in `DIR/<provider>.jsonl`, behind the script's breakers;
    /// `/dev/null`: answered and recorded nowhere.
    DryRunDir(PathBuf),
    /// `acteon test`: calls recorded in memory, read back with
    /// [`ProviderRegistry::recorded_calls`].
    DryRunMemory,
    /// Like [`ProviderMode::DryRunMemory`], with answers scripted per provider (tests).
    DryRunScripted(Fixtures),
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("cannot create the dry-run directory {}: {source}", path.display())]
    DryRunDir { path: PathBuf, source: io::Error },
    #[error("provider {name}: {reason}")]
    Build { name: String, reason: String },
}

/// Cheap to clone: every clone (one per worker) shares the same providers and recordings.
#[derive(Clone)]
pub struct ProviderRegistry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    files: Vec<Arc<CallFile>>,
    memory: Option<Arc<Mutex<Vec<RecordedCall>>>>,
    health: ProviderHealth,
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ProviderRegistry {
    pub fn build(plan: &Plan, mode: ProviderMode) -> Result<ProviderRegistry, ProviderError> {
        let mut registry = ProviderRegistry {
            providers: BTreeMap::new(),
            files: Vec::new(),
            memory: None,
            health: ProviderHealth::default(),
        };
        match mode {
            ProviderMode::Live(factory) => {
                let mut live = BTreeMap::new();
                for provider in &plan.providers {
                    let built: Arc<dyn Provider> = match (&provider.kind, &factory) {
                        (ProviderKind::Log, _) => Arc::new(Log),
                        (_, Some(factory)) => {
                            factory
                                .build(provider)
                                .map_err(|reason| ProviderError::Build {
                                    name: provider.name.clone(),
                                    reason,
                                })?
                        }
                        (kind, None) => Arc::new(Unavailable {
                            kind: kind.type_name(),
                        }),
                    };
                    live.insert(provider.name.clone(), built);
                }
                (registry.providers, registry.health) = breaker::guard(live, &plan.breakers);
            }
            ProviderMode::DryRunDir(dir) if dir == std::path::Path::new("/dev/null") => {
                for provider in &plan.providers {
                    let dry_run = DryRun::new(provider.kind.type_name(), CallLog::Discard);
                    registry
                        .providers
                        .insert(provider.name.clone(), Arc::new(dry_run));
                }
            }
            ProviderMode::DryRunDir(dir) => {
                std::fs::create_dir_all(&dir).map_err(|source| ProviderError::DryRunDir {
                    path: dir.clone(),
                    source,
                })?;
                let mut dry_runs: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
                for provider in &plan.providers {
                    let file =
                        Arc::new(CallFile::new(dir.join(format!("{}.jsonl", provider.name))));
                    registry.files.push(file.clone());
                    let dry_run = DryRun::new(provider.kind.type_name(), CallLog::File(file));
                    dry_runs.insert(provider.name.clone(), Arc::new(dry_run));
                }
                // Behind the script's breakers as live providers are, so a breaker can be
                // tripped by hand (`POST /v1/providers/{name}/breaker`) in a dry run too;
                // dry-run calls never fail, so nothing else changes.
                (registry.providers, registry.health) = breaker::guard(dry_runs, &plan.breakers);
            }
            ProviderMode::DryRunMemory | ProviderMode::DryRunScripted(_) => {
                let fixtures = match mode {
                    ProviderMode::DryRunScripted(fixtures) => fixtures,
                    _ => Fixtures::default(),
                };
                let calls = Arc::new(Mutex::new(Vec::new()));
                for provider in &plan.providers {
                    let dry_run =
                        DryRun::new(provider.kind.type_name(), CallLog::Memory(calls.clone()))
                            .with_fixtures(fixtures.clone());
                    registry
                        .providers
                        .insert(provider.name.clone(), Arc::new(dry_run));
                }
                registry.memory = Some(calls);
            }
        }
        Ok(registry)
    }

    /// `None` for a name the plan does not declare.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// Every provider name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Breaker states and per-provider figures (live mode; empty otherwise).
    pub fn health(&self) -> &ProviderHealth {
        &self.health
    }

    /// The calls recorded so far in [`ProviderMode::DryRunMemory`], in the order they were
    /// made (across workers, the order in which they reached the list); empty in other modes.
    pub fn recorded_calls(&self) -> Vec<RecordedCall> {
        self.memory
            .as_ref()
            .map(|calls| calls.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    /// Writes out buffered dry-run lines; the end of a run calls it (dropping the last clone
    /// flushes as well, but cannot report an error).
    pub fn flush(&self) -> io::Result<()> {
        self.files.iter().try_for_each(|file| file.flush())
    }
}

/// Stands in for a provider kind this build cannot deliver to yet: every call fails, so the
/// audit says why instead of the run stopping.
#[derive(Debug, Clone, Copy)]
struct Unavailable {
    kind: &'static str,
}

impl Provider for Unavailable {
    fn submit(&self, _call: ProviderCall, reply: Reply) {
        reply.send(CallResult {
            success: false,
            body: Value::Null,
            error: Some(format!(
                "provider type {} is not available in this build yet",
                self.kind
            )),
            attempts: 1,
            duration_ms: 0,
            delivered_by: None,
            failed_over: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing;
    use acteon_dsl::plan::Provider as PlanProvider;
    use serde_json::json;

    fn plan() -> Plan {
        let provider = |name: &str, kind: ProviderKind| PlanProvider {
            name: name.into(),
            kind,
            aws: None,
        };
        Plan {
            providers: vec![
                provider(
                    "alert-fanout",
                    ProviderKind::AwsSns {
                        topic_arn: "arn:aws:sns:us-east-1:000000000000:building-alerts".into(),
                    },
                ),
                provider(
                    "metrics-queue",
                    ProviderKind::AwsSqs {
                        queue_url: "http://localhost:4566/000000000000/telemetry-metrics".into(),
                    },
                ),
                provider("audit-log", ProviderKind::Log),
            ],
            ..Plan::default()
        }
    }

    fn submit(registry: &ProviderRegistry, provider: &str, action_id: &str) -> CallResult {
        let (reply, results) = testing::reply(0);
        registry
            .get(provider)
            .unwrap()
            .submit(testing::call(provider, action_id), reply);
        results.try_recv().unwrap().1
    }

    #[test]
    fn live_log_kind_logs_and_aws_kinds_are_unavailable() {
        let registry = ProviderRegistry::build(&plan(), ProviderMode::Live(None)).unwrap();
        assert_eq!(
            registry.names().collect::<Vec<_>>(),
            ["alert-fanout", "audit-log", "metrics-queue"]
        );
        assert!(registry.get("nowhere").is_none());
        assert_eq!(
            submit(&registry, "audit-log", "a1").body,
            json!({ "logged": true })
        );
        let failed = submit(&registry, "alert-fanout", "a1");
        assert!(!failed.success);
        assert_eq!(
            failed.error.as_deref(),
            Some("provider type aws-sns is not available in this build yet")
        );
        assert!(registry.recorded_calls().is_empty());
    }

    #[test]
    fn memory_mode_records_calls_of_every_provider() {
        let registry = ProviderRegistry::build(&plan(), ProviderMode::DryRunMemory).unwrap();
        let worker_copy = registry.clone();
        assert!(submit(&worker_copy, "alert-fanout", "a1").success);
        assert!(submit(&registry, "audit-log", "a2").success);
        let calls = registry.recorded_calls();
        let seen: Vec<(&str, &str, &str)> = calls
            .iter()
            .map(|c| {
                (
                    c.call.provider.as_str(),
                    &*c.call.action_id,
                    c.kind.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("alert-fanout", "a1", "aws-sns"),
                ("audit-log", "a2", "log")
            ]
        );
    }

    #[test]
    fn dir_mode_creates_the_directory_and_a_file_per_called_provider() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("calls").join("run-1");
        let registry =
            ProviderRegistry::build(&plan(), ProviderMode::DryRunDir(dir.clone())).unwrap();
        assert!(dir.is_dir());
        for id in ["a1", "a2"] {
            assert_eq!(
                submit(&registry, "metrics-queue", id).body,
                json!({ "dry_run": true })
            );
        }
        registry.flush().unwrap();
        let text = std::fs::read_to_string(dir.join("metrics-queue.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().all(|l| l.contains("\"kind\":\"aws-sqs\"")));
        assert!(!dir.join("alert-fanout.jsonl").exists());
    }

    #[test]
    fn dir_mode_reports_a_directory_it_cannot_create() {
        let root = tempfile::tempdir().unwrap();
        let blocker = root.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let error = ProviderRegistry::build(&plan(), ProviderMode::DryRunDir(blocker.join("d")))
            .unwrap_err();
        assert!(error.to_string().contains("dry-run directory"), "{error}");
    }
}
