//! The run's one tokio runtime for provider calls, and backends started on it as engine
//! providers. Every live provider of a run (each AWS kind, the Kafka producer) and the
//! DynamoDB audit share it, so timely workers never wait on the network and the run has one
//! small pool of threads for all of its I/O.

use crate::dispatcher::{Backend, Dispatcher, Policy};
use acteon_engine::provider::{Provider, ProviderCall, Reply};
use std::sync::Arc;
use tokio::runtime::{Handle, Runtime};

/// Threads of the runtime: the work is waiting on sockets, not computing.
const THREADS: usize = 2;

pub struct DeliveryRuntime {
    runtime: Runtime,
    policy: Policy,
}

impl std::fmt::Debug for DeliveryRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryRuntime")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl DeliveryRuntime {
    /// A runtime whose providers retry by `policy`.
    pub fn new(policy: Policy) -> std::io::Result<DeliveryRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .thread_name("acteon-delivery")
            .enable_all()
            .build()?;
        Ok(DeliveryRuntime { runtime, policy })
    }

    pub fn handle(&self) -> &Handle {
        self.runtime.handle()
    }

    /// Starts `backend` on this runtime behind the shared batching and retries.
    pub fn start<B: Backend>(&self, backend: B) -> Arc<dyn Provider> {
        Arc::new(Live(Dispatcher::start(
            backend,
            self.policy,
            self.runtime.handle(),
        )))
    }
}

/// A backend's dispatcher as an engine provider.
struct Live<B: Backend>(Dispatcher<B>);

impl<B: Backend> Provider for Live<B> {
    fn submit(&self, call: ProviderCall, reply: Reply) {
        self.0.submit(call, reply);
    }
}
