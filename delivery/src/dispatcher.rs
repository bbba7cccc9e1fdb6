//! The dispatcher every live provider runs on: calls queue up from the timely workers,
//! are grouped into batches (up to the API's batch size, waiting a short linger for more),
//! sent on the run's tokio runtime with at most `max_in_flight` API calls at once per provider,
//! and retried with exponential backoff and jitter while their error is transient. Each call's
//! result, with its attempts and error, goes back through its [`Reply`].

use crate::CallError;
use acteon_engine::provider::{CallResult, ProviderCall, Reply};
use serde_json::Value;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Semaphore};

/// How a provider turns calls into API requests.
pub trait Backend: Send + Sync + 'static {
    /// One call's part of a request, built from its payload once and reused by retries.
    type Entry: Clone + Send + Sync + 'static;

    /// The largest batch one API call takes (1 for APIs without a batch form).
    const BATCH: usize;

    /// Maps the call's payload to its entry, or says why it cannot be sent (never retried).
    fn prepare(&self, call: &ProviderCall) -> Result<Self::Entry, String>;

    /// Sends `entries` (at most [`Backend::BATCH`]) in one API call; one result per entry,
    /// in order. A failure of the whole call is every entry's error.
    fn send(
        &self,
        entries: Vec<Self::Entry>,
    ) -> impl Future<Output = Vec<Result<Value, CallError>>> + Send;
}

/// Batching and retry settings of one provider.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a partial batch waits for more calls.
    pub linger: Duration,
    /// Calls per API call at most (below the API's own limit to measure or to spread load;
    /// 1 makes one API call per action).
    pub max_batch: usize,
    /// API calls in flight at once.
    pub max_in_flight: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 4,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            linger: Duration::from_millis(5),
            max_batch: usize::MAX,
            max_in_flight: 8,
        }
    }
}

impl Policy {
    /// The wait before attempt `attempt + 1`: base × 2^(attempt-1), capped, with jitter
    /// between half and all of it so that failed calls do not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .base_backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let capped = exponential.min(self.max_backoff);
        capped.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

struct Job<E> {
    entry: E,
    reply: Reply,
    queued: Instant,
}

/// Queues calls for one provider's backend.
pub struct Dispatcher<B: Backend> {
    backend: Arc<B>,
    queue: mpsc::UnboundedSender<Job<B::Entry>>,
    api_calls: Arc<AtomicU64>,
}

impl<B: Backend> Dispatcher<B> {
    /// Starts the provider's batching task on `runtime`; it ends when the dispatcher is dropped.
    pub fn start(backend: B, policy: Policy, runtime: &Handle) -> Dispatcher<B> {
        let backend = Arc::new(backend);
        let (queue, jobs) = mpsc::unbounded_channel();
        let api_calls = Arc::new(AtomicU64::new(0));
        let sender = Sender {
            backend: Arc::clone(&backend),
            policy,
            api_calls: Arc::clone(&api_calls),
        };
        runtime.spawn(batch_and_send(sender, jobs));
        Dispatcher {
            backend,
            queue,
            api_calls,
        }
    }

    /// API calls made so far, retries included.
    pub fn api_calls(&self) -> u64 {
        self.api_calls.load(Ordering::Relaxed)
    }

    pub fn submit(&self, call: ProviderCall, reply: Reply) {
        let entry = match self.backend.prepare(&call) {
            Ok(entry) => entry,
            Err(error) => return reply.send(failure(error, 0, 0)),
        };
        let job = Job {
            entry,
            reply,
            queued: Instant::now(),
        };
        if let Err(mpsc::error::SendError(job)) = self.queue.send(job) {
            job.reply
                .send(failure("the AWS runtime has shut down".into(), 0, 0));
        }
    }
}

fn failure(error: String, attempts: u32, duration_ms: u64) -> CallResult {
    CallResult {
        success: false,
        body: Value::Null,
        error: Some(error),
        attempts,
        duration_ms,
        delivered_by: None,
        failed_over: None,
    }
}

/// What a batch task needs.
struct Sender<B> {
    backend: Arc<B>,
    policy: Policy,
    api_calls: Arc<AtomicU64>,
}

async fn batch_and_send<B: Backend>(
    sender: Sender<B>,
    mut jobs: mpsc::UnboundedReceiver<Job<B::Entry>>,
) {
    let sender = Arc::new(sender);
    let policy = sender.policy;
    let batch_size = B::BATCH.min(policy.max_batch).max(1);
    let permits = Arc::new(Semaphore::new(policy.max_in_flight.max(1)));
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        if batch_size > 1 {
            let deadline = tokio::time::Instant::now() + policy.linger;
            while batch.len() < batch_size {
                match tokio::time::timeout_at(deadline, jobs.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    _ => break,
                }
            }
        }
        // The semaphore is never closed, so acquiring only waits.
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let sender = Arc::clone(&sender);
        tokio::spawn(async move {
            sender.send_with_retries(batch).await;
            drop(permit);
        });
    }
}

impl<B: Backend> Sender<B> {
    async fn send_with_retries(&self, mut pending: Vec<Job<B::Entry>>) {
        let policy = &self.policy;
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let entries = pending.iter().map(|job| job.entry.clone()).collect();
            self.api_calls.fetch_add(1, Ordering::Relaxed);
            let mut results = self.backend.send(entries).await.into_iter();
            let mut again = Vec::new();
            for job in pending {
                let result = results.next().unwrap_or_else(|| {
                    Err(CallError::fatal(
                        "the API returned no result for this entry",
                    ))
                });
                let elapsed = job.queued.elapsed().as_millis() as u64;
                match result {
                    Ok(body) => job.reply.send(CallResult {
                        success: true,
                        body,
                        error: None,
                        attempts: attempt,
                        duration_ms: elapsed,
                        delivered_by: None,
                        failed_over: None,
                    }),
                    Err(error) if error.transient && attempt < policy.max_attempts => {
                        tracing::debug!(attempt, error = %error.message, "transient failure, retrying");
                        again.push(job);
                    }
                    Err(error) => job.reply.send(failure(error.message, attempt, elapsed)),
                }
            }
            pending = again;
            if !pending.is_empty() {
                tokio::time::sleep(policy.backoff(attempt)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::mpsc::{channel, Receiver};

    /// Echoes each entry; the first `failures` API calls fail with `error`.
    struct Flaky {
        failures: AtomicU32,
        error: CallError,
    }

    impl Backend for Flaky {
        type Entry = u32;
        const BATCH: usize = 10;

        fn prepare(&self, call: &ProviderCall) -> Result<u32, String> {
            call.action_id
                .parse()
                .map_err(|_| "not a number".to_owned())
        }

        async fn send(&self, entries: Vec<u32>) -> Vec<Result<Value, CallError>> {
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            entries
                .into_iter()
                .map(|n| {
                    if failing {
                        Err(self.error.clone())
                    } else {
                        Ok(Value::from(n))
                    }
                })
                .collect()
        }
    }

    fn run(failures: u32, error: CallError, ids: &[&str]) -> (Vec<CallResult>, u64) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let policy = Policy {
            base_backoff: Duration::from_millis(1),
            ..Policy::default()
        };
        let backend = Flaky {
            failures: AtomicU32::new(failures),
            error,
        };
        let dispatcher = Dispatcher::start(backend, policy, runtime.handle());
        let activator = timely::execute_directly(|worker| worker.sync_activator_for(vec![0]));
        let (sender, results): (_, Receiver<(u64, CallResult)>) = channel();
        for (token, id) in ids.iter().enumerate() {
            let call = ProviderCall {
                provider: "p".into(),
                action_id: (*id).into(),
                namespace: "n".into(),
                tenant: "t".into(),
                action_type: "a".into(),
                payload: acteon_engine::payload::Payload::empty(),
                idempotency_key: (*id).into(),
            };
            dispatcher.submit(
                call,
                Reply::new(token as u64, sender.clone(), activator.clone()),
            );
        }
        let mut answered: Vec<(u64, CallResult)> = (0..ids.len())
            .map(|_| results.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        answered.sort_by_key(|(token, _)| *token);
        let calls = dispatcher.api_calls();
        (answered.into_iter().map(|(_, r)| r).collect(), calls)
    }

    #[test]
    fn calls_ready_together_share_api_calls() {
        let ids: Vec<String> = (0..25).map(|n| n.to_string()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let (results, api_calls) = run(0, CallError::fatal("unused"), &ids);
        assert!(results.iter().all(|r| r.success && r.attempts == 1));
        assert_eq!(results[24].body, Value::from(24));
        assert_eq!(api_calls, 3, "25 calls in batches of 10");
    }

    #[test]
    fn transient_failures_are_retried_and_final_ones_are_not() {
        let (results, api_calls) = run(2, CallError::transient("throttled"), &["1"]);
        assert!(results[0].success);
        assert_eq!((results[0].attempts, api_calls), (3, 3));

        let (results, _) = run(9, CallError::transient("down"), &["1"]);
        assert!(!results[0].success);
        assert_eq!(results[0].attempts, Policy::default().max_attempts);
        assert_eq!(results[0].error.as_deref(), Some("down"));

        let (results, api_calls) = run(1, CallError::fatal("bad request"), &["1", "x"]);
        assert_eq!((results[0].attempts, api_calls), (1, 1));
        assert_eq!(
            results[1].attempts, 0,
            "a payload that cannot be mapped makes no call"
        );
        assert_eq!(results[1].error.as_deref(), Some("not a number"));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = Policy::default();
        for attempt in 1..=8 {
            let full = (policy.base_backoff * (1 << (attempt - 1))).min(policy.max_backoff);
            let wait = policy.backoff(attempt);
            assert!(
                wait >= full / 2 && wait <= full,
                "{attempt}: {wait:?} vs {full:?}"
            );
        }
    }
}
