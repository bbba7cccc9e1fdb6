//! Acteon's AWS side: providers on the official aws-sdk crates, the DynamoDB audit and the
//! DynamoDB checkpoint store.
//!
//! Module map:
//! - [`connection`]: the SDK configuration for a script's region, endpoint and role.
//! - [`error`]: setup errors, and the transient/final classification of failed calls.
//! - [`payload`]: reading API fields out of an action's payload.
//! - [`batch`]: a batch API's answer (SQS, SNS) as one result per entry.
//! - [`sns`], [`sqs`], [`lambda`], [`eventbridge`], [`s3`], [`email`]: one provider each:
//!   how a payload becomes the API call, and what the result body is.
//! - [`idempotency`]: deduplication ids for FIFO targets, so replays do not repeat effects.
//! - [`audit`]: the DynamoDB audit sink (conditional transactional writes) and the query.
//! - [`state`]: the DynamoDB checkpoint store (chunked parts, the manifest as commit marker).
//! - [`dynamodb`]: BatchWriteItem with unprocessed items sent again, and retried calls, for
//!   the checkpoint store.
//!
//! [`AwsProviders`] owns the run's [`DeliveryRuntime`] (acteon-delivery: batching, retries,
//! the one tokio runtime); every provider and the audit sink it builds send their calls there,
//! so timely workers never wait on the network.

pub mod audit;
pub mod batch;
pub mod connection;
pub mod dynamodb;
pub mod email;
pub mod error;
pub mod eventbridge;
pub mod idempotency;
pub mod lambda;
pub mod payload;
pub mod s3;
pub mod sns;
pub mod sqs;
pub mod state;

use crate::audit::{AuditTable, DynamoAudit};
pub use crate::error::AwsError;
use acteon_delivery::DeliveryRuntime;
use acteon_delivery::Policy;
use acteon_dsl::plan::{AwsConnection, EmailBackend, Provider as PlanProvider, ProviderKind};
use acteon_engine::provider::{Provider, ProviderFactory};
use aws_config::SdkConfig;
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;

/// Builds AWS providers and audit sinks for a run, all on one tokio runtime.
pub struct AwsProviders {
    delivery: DeliveryRuntime,
    /// SDK configurations already loaded, one per distinct connection (credentials providers
    /// and HTTP clients are then shared by the providers that use the same connection).
    configs: Mutex<Vec<(AwsConnection, SdkConfig)>>,
}

impl std::fmt::Debug for AwsProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsProviders")
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

impl AwsProviders {
    pub fn new(policy: Policy) -> Result<AwsProviders, AwsError> {
        Ok(AwsProviders {
            delivery: DeliveryRuntime::new(policy).map_err(AwsError::Runtime)?,
            configs: Mutex::new(Vec::new()),
        })
    }

    /// The run's delivery runtime (the Kafka provider, outside this crate, starts there too).
    pub fn delivery(&self) -> &DeliveryRuntime {
        &self.delivery
    }

    /// The shared runtime (tests and the HTTP API run their own AWS calls on it).
    pub fn runtime(&self) -> &Handle {
        self.delivery.handle()
    }

    /// The SDK configuration for `connection`, loaded once.
    pub fn sdk_config(&self, connection: &AwsConnection) -> SdkConfig {
        let mut configs = self.configs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, config)) = configs.iter().find(|(c, _)| c == connection) {
            return config.clone();
        }
        let config = self
            .delivery
            .handle()
            .block_on(connection::sdk_config(connection));
        configs.push((connection.clone(), config.clone()));
        config
    }

    /// A live provider for one provider of a plan.
    pub fn provider(&self, provider: &PlanProvider) -> Result<Arc<dyn Provider>, AwsError> {
        let connection = provider.aws.clone().unwrap_or_default();
        let config = || self.sdk_config(&connection);
        let provider: Arc<dyn Provider> = match &provider.kind {
            ProviderKind::AwsSns { topic_arn } => self.delivery.start(sns::Sns {
                client: aws_sdk_sns::Client::new(&config()),
                topic_arn: topic_arn.clone(),
            }),
            ProviderKind::AwsSqs { queue_url } => self.delivery.start(sqs::Sqs {
                client: aws_sdk_sqs::Client::new(&config()),
                queue_url: queue_url.clone(),
            }),
            ProviderKind::AwsLambda {
                function_name,
                qualifier,
            } => self.delivery.start(lambda::Lambda {
                client: aws_sdk_lambda::Client::new(&config()),
                function_name: function_name.clone(),
                qualifier: qualifier.clone(),
            }),
            ProviderKind::AwsEventbridge { event_bus_name } => {
                self.delivery.start(eventbridge::EventBridge {
                    client: aws_sdk_eventbridge::Client::new(&config()),
                    event_bus_name: event_bus_name.clone(),
                })
            }
            ProviderKind::AwsS3 {
                bucket,
                object_prefix,
            } => self.delivery.start(s3::S3 {
                client: s3_client(&config()),
                bucket: bucket.clone(),
                object_prefix: object_prefix.clone(),
            }),
            ProviderKind::Email {
                backend: EmailBackend::Ses,
                from_address,
                configuration_set,
            } => self.delivery.start(email::Email {
                client: aws_sdk_sesv2::Client::new(&config()),
                from_address: from_address.clone(),
                configuration_set: configuration_set.clone(),
            }),
            ProviderKind::Log | ProviderKind::Kafka { .. } => {
                return Err(AwsError::Config {
                    provider: provider.name.clone(),
                    reason: format!(
                        "the {} provider is not an AWS provider",
                        provider.kind.type_name()
                    ),
                })
            }
        };
        Ok(provider)
    }

    /// The DynamoDB `table` as an audit destination (to write through a sink buffer).
    pub fn audit_destination(&self, table: &str, connection: &AwsConnection) -> DynamoAudit {
        DynamoAudit::new(
            self.audit_table(table, connection),
            self.delivery.handle().clone(),
        )
    }

    /// The audit table, for queries.
    pub fn audit_table(&self, table: &str, connection: &AwsConnection) -> AuditTable {
        AuditTable {
            client: aws_sdk_dynamodb::Client::new(&self.sdk_config(connection)),
            table: table.to_owned(),
        }
    }
}

impl ProviderFactory for AwsProviders {
    fn build(&self, provider: &PlanProvider) -> Result<Arc<dyn Provider>, String> {
        self.provider(provider).map_err(|e| e.to_string())
    }
}

/// S3 with path-style addressing: bucket names in the path, which local emulators need and
/// AWS still accepts.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}
