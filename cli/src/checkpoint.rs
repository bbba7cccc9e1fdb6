//! Checkpoint flags: where durable state is kept (a local directory, or a DynamoDB table for
//! deployments without a shared disk) and how often it is taken.

use acteon_aws::state::DynamoStore;
use acteon_aws::AwsProviders;
use acteon_dsl::plan::{AuditSink, AwsConnection, Plan};
use acteon_engine::checkpoint::{DirectoryStore, StateStore};
use acteon_engine::CheckpointConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Durable state: checkpoints of every window, held action, counter and running chain, with
/// the feed's positions; the newest good one is restored at start.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Checkpoints")]
pub struct CheckpointArgs {
    /// Keep checkpoints in this directory (on a local or shared disk); the newest good one
    /// is restored at start.
    #[arg(long, value_name = "DIR", conflicts_with = "checkpoint_table")]
    checkpoint_dir: Option<PathBuf>,
    /// Keep checkpoints in this DynamoDB table instead of a directory, for deployments
    /// without a shared disk (key `pk` and `sk`, both strings, as the seed's `acteon_state`).
    /// The table is reached through the connection of the script's DynamoDB audit (region,
    /// endpoint, role) when it has one, else through the standard AWS environment;
    /// --checkpoint-region and --checkpoint-endpoint-url override either.
    #[arg(long, value_name = "TABLE")]
    checkpoint_table: Option<String>,
    /// The checkpoints' key prefix in the table, so that pipelines can share it (one run per
    /// prefix at a time) [default: the script file's name without its extension].
    #[arg(long, value_name = "PREFIX", requires = "checkpoint_table")]
    checkpoint_prefix: Option<String>,
    /// The checkpoint table's AWS region.
    #[arg(long, value_name = "REGION", requires = "checkpoint_table")]
    checkpoint_region: Option<String>,
    /// The checkpoint table's endpoint, e.g. http://127.0.0.1:4566 for the local emulator.
    #[arg(long, value_name = "URL", requires = "checkpoint_table")]
    checkpoint_endpoint_url: Option<String>,
    /// How often a checkpoint is taken (with --checkpoint-dir or --checkpoint-table).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse, default_value = "10s")]
    checkpoint_interval: Duration,
}

impl CheckpointArgs {
    /// `--checkpoint-dir`.
    pub fn dir(&self) -> Option<&Path> {
        self.checkpoint_dir.as_deref()
    }

    /// `None` without --checkpoint-dir or --checkpoint-table. `script` names the default
    /// prefix; `plan` and `aws` give the table's connection and the runtime of its calls.
    pub fn config(
        &self,
        script: &Path,
        plan: &Plan,
        aws: &Arc<AwsProviders>,
    ) -> anyhow::Result<Option<CheckpointConfig>> {
        let store: Arc<dyn StateStore> = match (&self.checkpoint_dir, &self.checkpoint_table) {
            (Some(dir), _) => Arc::new(DirectoryStore::open(dir)?),
            (None, Some(table)) => {
                let prefix = match &self.checkpoint_prefix {
                    Some(prefix) => prefix.clone(),
                    None => script
                        .file_stem()
                        .and_then(|stem| stem.to_str())
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "{} has no name to prefix checkpoints with: give --checkpoint-prefix",
                                script.display()
                            )
                        })?
                        .to_owned(),
                };
                Arc::new(DynamoStore::open(
                    aws,
                    table,
                    &prefix,
                    &self.connection(plan),
                )?)
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(CheckpointConfig {
            store,
            interval: self.checkpoint_interval,
        }))
    }

    /// The script's DynamoDB audit connection (or the environment's), with the flags' region
    /// and endpoint over it.
    fn connection(&self, plan: &Plan) -> AwsConnection {
        let mut connection = match &plan.audit.sink {
            AuditSink::Dynamodb { aws, .. } => aws.clone(),
            _ => AwsConnection::default(),
        };
        if let Some(region) = &self.checkpoint_region {
            connection.region = Some(region.clone());
        }
        if let Some(endpoint) = &self.checkpoint_endpoint_url {
            connection.endpoint_url = Some(endpoint.clone());
        }
        connection
    }
}
