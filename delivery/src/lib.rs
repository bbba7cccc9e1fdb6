//! How live providers deliver: the machinery shared by every provider that calls a service
//! (the AWS kinds, the Kafka producer), apart from what each service's API looks like.
//!
//! Module map:
//! - [`dispatcher`]: batching (up to a backend's batch size, with a short linger), a limit of
//!   API calls in flight per provider, and retries with backoff and jitter; the [`Backend`]
//!   trait a provider implements.
//! - [`error`]: [`CallError`], one failed attempt, transient or final.
//! - [`runtime`]: [`DeliveryRuntime`], the run's one tokio runtime, which starts backends as
//!   engine providers.

pub mod dispatcher;
pub mod error;
pub mod runtime;

pub use dispatcher::{Backend, Dispatcher, Policy};
pub use error::CallError;
pub use runtime::DeliveryRuntime;
