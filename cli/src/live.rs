//! The run's live providers: the `kafka` kind from acteon-kafka, every AWS kind from
//! acteon-aws. Both run on the same delivery runtime (batching, retries), so a Kafka provider
//! fails, retries and trips its breaker exactly as an AWS one does.

use acteon_aws::AwsProviders;
use acteon_dsl::plan::{Provider as PlanProvider, ProviderKind};
use acteon_engine::provider::{Provider, ProviderFactory};
use acteon_kafka::provider::KafkaBackend;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct LiveProviders {
    aws: Arc<AwsProviders>,
}

impl LiveProviders {
    pub fn new(aws: Arc<AwsProviders>) -> LiveProviders {
        LiveProviders { aws }
    }
}

impl ProviderFactory for LiveProviders {
    fn build(&self, provider: &PlanProvider) -> Result<Arc<dyn Provider>, String> {
        match &provider.kind {
            ProviderKind::Kafka {
                brokers,
                topic,
                key,
                properties,
            } => {
                let backend = KafkaBackend::new(brokers, topic, key.clone(), properties)
                    .map_err(|e| e.to_string())?;
                Ok(self.aws.delivery().start(backend))
            }
            _ => self.aws.build(provider),
        }
    }
}
