//! Circuit breakers around live providers, and the per-provider health they keep.
//!
//! A breaker counts a provider's results after its own retries. `failure_threshold`
//! consecutive failures open it; while open, calls go to the breaker's fallback (whose own
//! breaker is consulted in turn; a provider already tried ends the walk) or fail at once. After
//! `recovery_timeout` one probe call at a time goes through (half-open); `success_threshold`
//! successful probes close it, a failed probe opens it again. Every failure counts, client
//! errors included: a provider that rejects every call is as unusable as one that is down, and
//! a single bad call among good ones never trips it, since a success resets the count.

use crate::provider::{CallResult, Provider, ProviderCall, Reply};
use acteon_dsl::plan::Breaker;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A probe that has not answered in this long no longer blocks the next one (its reply may
/// have been lost with a dataflow that shut down).
const STALE_PROBE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// Why a breaker cannot be set by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakerError {
    #[error("no provider `{0}`")]
    NoProvider(String),
    #[error("provider `{0}` has no circuit breaker (disabled in the script, or a dry run)")]
    NoBreaker(String),
    #[error("a breaker is set open or closed; it goes half-open by itself")]
    HalfOpen,
}

/// One provider's figures, as [`ProviderHealth::snapshot`] reads them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthFigures {
    pub provider: String,
    /// `None` for a provider with no breaker (disabled in the script).
    pub state: Option<BreakerState>,
    pub successes: u64,
    pub failures: u64,
    /// Calls not made because the breaker was open (delivered to a fallback or failed).
    pub rejected: u64,
    /// Calls this provider delivered as another provider's fallback.
    pub fallback_deliveries: u64,
    pub mean_latency_ms: f64,
    pub max_latency_ms: u64,
}

/// The breaker states and figures of every provider of a run; cheap to clone and shared.
#[derive(Debug, Clone, Default)]
pub struct ProviderHealth {
    entries: Arc<BTreeMap<String, Arc<Guard>>>,
}

impl ProviderHealth {
    /// Opens (`Open`) or closes (`Closed`) `provider`'s breaker by hand, as an operator trips
    /// or resets it: opened, it stays open for its recovery timeout and then lets a probe
    /// through as usual; closed, its failure count starts again. The state it is in now.
    pub fn set_state(
        &self,
        provider: &str,
        state: BreakerState,
    ) -> Result<BreakerState, BreakerError> {
        let guard = self
            .entries
            .get(provider)
            .ok_or_else(|| BreakerError::NoProvider(provider.to_owned()))?;
        let Some(settings) = &guard.settings else {
            return Err(BreakerError::NoBreaker(provider.to_owned()));
        };
        let phase = match state {
            BreakerState::Open => Phase::Open {
                since: Instant::now(),
            },
            BreakerState::Closed => Phase::Closed { failures: 0 },
            BreakerState::HalfOpen => return Err(BreakerError::HalfOpen),
        };
        tracing::warn!(provider = %settings.provider, ?state, "circuit breaker set by hand");
        guard.lock().phase = phase;
        Ok(state)
    }

    /// Every provider's figures, sorted by name.
    pub fn snapshot(&self) -> Vec<HealthFigures> {
        self.entries
            .iter()
            .map(|(name, guard)| guard.figures(name))
            .collect()
    }
}

/// Wraps every provider of `providers` in its breaker (from `breakers`, by provider name);
/// returns the wrapped providers and their shared health.
pub fn guard(
    providers: BTreeMap<String, Arc<dyn Provider>>,
    breakers: &[Breaker],
) -> (BTreeMap<String, Arc<dyn Provider>>, ProviderHealth) {
    let entries: BTreeMap<String, Arc<Guard>> = providers
        .into_iter()
        .map(|(name, provider)| {
            let settings = breakers
                .iter()
                .find(|b| b.provider == name && b.enabled)
                .cloned();
            let guard = Guard {
                provider,
                settings,
                state: Mutex::new(State::default()),
            };
            (name, Arc::new(guard))
        })
        .collect();
    let health = ProviderHealth {
        entries: Arc::new(entries),
    };
    let wrapped = health
        .entries
        .keys()
        .map(|name| {
            let guarded: Arc<dyn Provider> = Arc::new(Guarded {
                name: name.clone(),
                health: health.clone(),
            });
            (name.clone(), guarded)
        })
        .collect();
    (wrapped, health)
}

struct Guard {
    provider: Arc<dyn Provider>,
    settings: Option<Breaker>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct State {
    phase: Phase,
    successes: u64,
    failures: u64,
    rejected: u64,
    fallback_deliveries: u64,
    latency_total_ms: u64,
    max_latency_ms: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            phase: Phase::Closed { failures: 0 },
            successes: 0,
            failures: 0,
            rejected: 0,
            fallback_deliveries: 0,
            latency_total_ms: 0,
            max_latency_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed {
        failures: u32,
    },
    Open {
        since: Instant,
    },
    HalfOpen {
        probe_since: Option<Instant>,
        successes: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Call,
    Probe,
    Reject,
}

impl Guard {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(&self, now: Instant) -> Admission {
        let Some(settings) = &self.settings else {
            return Admission::Call;
        };
        let recovery = Duration::from_millis(settings.recovery_timeout_ms);
        let mut state = self.lock();
        let admission = match state.phase {
            Phase::Closed { .. } => Admission::Call,
            Phase::Open { since } if now.duration_since(since) >= recovery => {
                state.phase = Phase::HalfOpen {
                    probe_since: Some(now),
                    successes: 0,
                };
                Admission::Probe
            }
            Phase::Open { .. } => Admission::Reject,
            Phase::HalfOpen {
                probe_since,
                successes,
            } => match probe_since {
                Some(started) if now.duration_since(started) < STALE_PROBE => Admission::Reject,
                _ => {
                    state.phase = Phase::HalfOpen {
                        probe_since: Some(now),
                        successes,
                    };
                    Admission::Probe
                }
            },
        };
        if admission == Admission::Reject {
            state.rejected += 1;
        }
        admission
    }

    fn record(&self, result: &CallResult, admission: Admission, for_another: bool) {
        let mut state = self.lock();
        if result.success {
            state.successes += 1;
        } else {
            state.failures += 1;
        }
        if for_another && result.success {
            state.fallback_deliveries += 1;
        }
        state.latency_total_ms += result.duration_ms;
        state.max_latency_ms = state.max_latency_ms.max(result.duration_ms);
        let Some(settings) = &self.settings else {
            return;
        };
        let now = Instant::now();
        state.phase = match (state.phase, admission, result.success) {
            (Phase::Closed { .. }, _, true) => Phase::Closed { failures: 0 },
            (Phase::Closed { failures }, _, false) => {
                if failures + 1 >= settings.failure_threshold {
                    tracing::warn!(provider = %settings.provider, "circuit breaker opened");
                    Phase::Open { since: now }
                } else {
                    Phase::Closed {
                        failures: failures + 1,
                    }
                }
            }
            (Phase::HalfOpen { successes, .. }, Admission::Probe, true) => {
                if successes + 1 >= settings.success_threshold {
                    tracing::info!(provider = %settings.provider, "circuit breaker closed");
                    Phase::Closed { failures: 0 }
                } else {
                    Phase::HalfOpen {
                        probe_since: None,
                        successes: successes + 1,
                    }
                }
            }
            (Phase::HalfOpen { .. }, Admission::Probe, false) => Phase::Open { since: now },
            // A call admitted before the breaker opened that fails now extends the open
            // period; other late results say nothing about the provider's current state.
            (Phase::Open { .. }, _, false) => Phase::Open { since: now },
            (phase, _, _) => phase,
        };
    }

    fn figures(&self, name: &str) -> HealthFigures {
        let state = self.lock();
        let calls = state.successes + state.failures;
        HealthFigures {
            provider: name.to_owned(),
            state: self.settings.as_ref().map(|_| match state.phase {
                Phase::Closed { .. } => BreakerState::Closed,
                Phase::Open { .. } => BreakerState::Open,
                Phase::HalfOpen { .. } => BreakerState::HalfOpen,
            }),
            successes: state.successes,
            failures: state.failures,
            rejected: state.rejected,
            fallback_deliveries: state.fallback_deliveries,
            mean_latency_ms: if calls == 0 {
                0.0
            } else {
                state.latency_total_ms as f64 / calls as f64
            },
            max_latency_ms: state.max_latency_ms,
        }
    }
}

/// A provider behind its breaker.
struct Guarded {
    name: String,
    health: ProviderHealth,
}

impl Guarded {
    fn route(&self) -> Route {
        Route {
            health: self.health.clone(),
            named: self.name.clone(),
            tried: Vec::new(),
            failed: None,
        }
    }
}

impl Provider for Guarded {
    fn submit(&self, call: ProviderCall, reply: Reply) {
        self.route().submit(self.name.clone(), call, reply);
    }

    /// A provider that answers at once (a dry run, the log) is called inline while its
    /// breaker admits the call, and its result recorded there; a rejected call, and a failed
    /// one with a fallback, take the routed path.
    fn make(&self, call: ProviderCall, reply: &mut dyn FnMut() -> Reply) -> Option<CallResult> {
        let guard = self.health.entries.get(&self.name).cloned();
        let Some(guard) = guard.filter(|g| g.provider.answers_inline()) else {
            self.submit(call, reply());
            return None;
        };
        let admission = guard.admit(Instant::now());
        if admission == Admission::Reject {
            self.submit(call, reply());
            return None;
        }
        let fallback = guard.settings.as_ref().and_then(|s| s.fallback.clone());
        let again = fallback.as_ref().map(|_| call.clone());
        let result = guard.provider.make(call, reply)?;
        guard.record(&result, admission, false);
        match (result.success, fallback, again) {
            (false, Some(next), Some(call)) => {
                let mut route = self.route();
                route.tried.push(self.name.clone());
                route.failed = Some(result);
                route.submit(next, call, reply());
                None
            }
            _ => Some(result),
        }
    }

    fn answers_inline(&self) -> bool {
        true
    }
}

/// A call on its way along the fallbacks of the provider the rules named.
struct Route {
    health: ProviderHealth,
    named: String,
    /// Providers already tried, which end the walk.
    tried: Vec<String>,
    /// The last call that failed on the way, if one did: the answer when no fallback after
    /// it takes the call.
    failed: Option<CallResult>,
}

impl Route {
    /// Gives the call to `current`, or to the first fallback from it whose breaker admits it.
    /// A call that fails (after its retries) goes on to its provider's fallback when there is
    /// one not yet tried, whether or not the breaker had opened when the call started: a burst
    /// against a dead provider opens its breaker once, and every call of it still ends at
    /// the fallback.
    fn submit(mut self, mut current: String, call: ProviderCall, reply: Reply) {
        loop {
            let Some(guard) = self.health.entries.get(&current).cloned() else {
                break;
            };
            let admission = guard.admit(Instant::now());
            self.tried.push(current.clone());
            let fallback = guard
                .settings
                .as_ref()
                .and_then(|s| s.fallback.clone())
                .filter(|next| !self.tried.contains(next));
            if admission == Admission::Reject {
                match fallback {
                    Some(next) => {
                        current = next;
                        continue;
                    }
                    None => break,
                }
            }
            let for_another = current != self.named;
            let delivered_by = for_another.then(|| current.clone());
            let again = fallback.as_ref().map(|_| call.clone());
            let recorder = Arc::clone(&guard);
            let reply = reply.then(move |reply, mut result| {
                recorder.record(&result, admission, for_another);
                if delivered_by.is_some() {
                    result.failed_over = self.failed.as_ref().map(|failed| {
                        failed
                            .error
                            .clone()
                            .unwrap_or_else(|| "the call failed".into())
                    });
                }
                result.delivered_by = delivered_by;
                match (result.success, fallback, again) {
                    (false, Some(next), Some(call)) => {
                        self.failed = Some(result);
                        self.submit(next, call, reply);
                    }
                    _ => reply.send(result),
                }
            });
            guard.provider.submit(call, reply);
            return;
        }
        if let Some(failed) = self.failed {
            reply.send(failed);
            return;
        }
        reply.send(CallResult {
            success: false,
            body: Value::Null,
            error: Some(format!(
                "circuit open for {}; no fallback could take the call (tried {})",
                self.named,
                self.tried.join(", ")
            )),
            attempts: 0,
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
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Succeeds or fails as its switch says, at once.
    struct Switch(AtomicBool);

    impl Provider for Switch {
        fn submit(&self, _call: ProviderCall, reply: Reply) {
            let success = self.0.load(Ordering::SeqCst);
            reply.send(CallResult {
                success,
                body: Value::Null,
                error: (!success).then(|| "down".to_owned()),
                attempts: 1,
                duration_ms: 3,
                delivered_by: None,
                failed_over: None,
            });
        }
    }

    fn breaker(provider: &str, recovery_timeout_ms: u64, fallback: Option<&str>) -> Breaker {
        Breaker {
            provider: provider.into(),
            enabled: true,
            failure_threshold: 2,
            success_threshold: 1,
            recovery_timeout_ms,
            fallback: fallback.map(Into::into),
        }
    }

    fn submit(providers: &BTreeMap<String, Arc<dyn Provider>>, name: &str) -> CallResult {
        let (reply, results) = testing::reply(0);
        providers[name].submit(testing::call(name, "a"), reply);
        results.try_recv().unwrap().1
    }

    #[test]
    fn opens_after_the_threshold_reroutes_to_the_fallback_and_a_probe_closes_it() {
        let primary = Arc::new(Switch(AtomicBool::new(false)));
        let mut providers: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        providers.insert("sns".into(), primary.clone());
        providers.insert("local".into(), Arc::new(Switch(AtomicBool::new(true))));
        let (guarded, health) = guard(providers, &[breaker("sns", 50, Some("local"))]);

        // The calls that fail while the breaker is still closed go to the fallback too.
        for _ in 0..2 {
            let failed_over = submit(&guarded, "sns");
            assert!(failed_over.success);
            assert_eq!(failed_over.delivered_by.as_deref(), Some("local"));
            assert_eq!(failed_over.failed_over.as_deref(), Some("down"));
        }
        let rerouted = submit(&guarded, "sns");
        assert!(rerouted.success);
        assert_eq!(rerouted.delivered_by.as_deref(), Some("local"));
        assert_eq!(rerouted.failed_over, None, "the open breaker sent it");
        let figures = health.snapshot();
        assert_eq!(figures[1].provider, "sns");
        assert_eq!(figures[1].state, Some(BreakerState::Open));
        assert_eq!((figures[1].failures, figures[1].rejected), (2, 1));
        assert_eq!(figures[0].fallback_deliveries, 3);
        assert_eq!(figures[0].state, None);

        primary.0.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(60));
        let probe = submit(&guarded, "sns");
        assert!(probe.success);
        assert_eq!(probe.delivered_by, None);
        assert_eq!(health.snapshot()[1].state, Some(BreakerState::Closed));
    }

    /// Fails after a while, on another thread, as a provider retrying a dead endpoint does.
    struct Dead;

    impl Provider for Dead {
        fn submit(&self, _call: ProviderCall, reply: Reply) {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                reply.send(CallResult {
                    success: false,
                    body: Value::Null,
                    error: Some("connection refused".into()),
                    attempts: 4,
                    duration_ms: 20,
                    delivered_by: None,
                    failed_over: None,
                });
            });
        }
    }

    #[test]
    fn a_burst_against_a_dead_provider_opens_its_breaker_once_and_every_call_ends_at_the_fallback()
    {
        let mut providers: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        providers.insert("sns".into(), Arc::new(Dead));
        providers.insert("local".into(), Arc::new(Switch(AtomicBool::new(true))));
        let (guarded, health) = guard(providers, &[breaker("sns", 60_000, Some("local"))]);
        let (sender, results) = std::sync::mpsc::channel();
        // Every call starts before any has failed: none finds the breaker open.
        for token in 0..20 {
            let (reply, answer) = testing::reply(token);
            guarded["sns"].submit(testing::call("sns", "a"), reply);
            let sender = sender.clone();
            std::thread::spawn(move || {
                let _ = sender.send(answer.recv_timeout(Duration::from_secs(10)).unwrap().1);
            });
        }
        let burst: Vec<CallResult> = (0..20)
            .map(|_| results.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert!(burst
            .iter()
            .all(|r| r.success && r.delivered_by.as_deref() == Some("local")));
        assert!(burst
            .iter()
            .all(|r| r.failed_over.as_deref() == Some("connection refused")));
        // Opened once; from then on calls go straight to the fallback.
        let later = submit(&guarded, "sns");
        assert_eq!(later.delivered_by.as_deref(), Some("local"));
        assert_eq!(later.failed_over, None);
        let figures = health.snapshot();
        assert_eq!(figures[1].state, Some(BreakerState::Open));
        assert_eq!((figures[1].failures, figures[1].rejected), (20, 1));
        assert_eq!(figures[0].fallback_deliveries, 21);
    }

    #[test]
    fn a_breaker_set_open_by_hand_sends_calls_to_the_fallback_until_set_closed() {
        let mut providers: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        providers.insert("sns".into(), Arc::new(Switch(AtomicBool::new(true))));
        providers.insert("local".into(), Arc::new(Switch(AtomicBool::new(true))));
        let (guarded, health) = guard(providers, &[breaker("sns", 60_000, Some("local"))]);
        assert_eq!(
            health.set_state("sns", BreakerState::Open),
            Ok(BreakerState::Open)
        );
        assert_eq!(health.snapshot()[1].state, Some(BreakerState::Open));
        assert_eq!(
            submit(&guarded, "sns").delivered_by.as_deref(),
            Some("local")
        );
        health.set_state("sns", BreakerState::Closed).unwrap();
        assert_eq!(submit(&guarded, "sns").delivered_by, None);
        assert_eq!(
            health.set_state("local", BreakerState::Open),
            Err(BreakerError::NoBreaker("local".into()))
        );
        assert!(matches!(
            health.set_state("nope", BreakerState::Open),
            Err(BreakerError::NoProvider(_))
        ));
    }

    /// Answers at once, as a dry run does: success or failure as its switch says.
    struct Inline(AtomicBool);

    impl Provider for Inline {
        fn submit(&self, call: ProviderCall, reply: Reply) {
            if let Some(result) = self.make(call, &mut || unreachable!("answered inline")) {
                reply.send(result);
            }
        }

        fn make(&self, _: ProviderCall, _: &mut dyn FnMut() -> Reply) -> Option<CallResult> {
            let success = self.0.load(Ordering::SeqCst);
            Some(CallResult {
                success,
                body: Value::Null,
                error: (!success).then(|| "down".to_owned()),
                attempts: 1,
                duration_ms: 0,
                delivered_by: None,
                failed_over: None,
            })
        }

        fn answers_inline(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_provider_that_answers_at_once_is_decided_inline_until_its_breaker_says_otherwise() {
        let mut providers: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        providers.insert("sns".into(), Arc::new(Inline(AtomicBool::new(true))));
        providers.insert("local".into(), Arc::new(Inline(AtomicBool::new(true))));
        let (guarded, health) = guard(providers, &[breaker("sns", 60_000, Some("local"))]);
        let make = |name: &str| {
            let (reply, results) = testing::reply(0);
            let mut reply = Some(reply);
            let inline = guarded[name].make(testing::call(name, "a"), &mut || {
                reply.take().expect("one reply")
            });
            // (the result, whether it came inline)
            match inline {
                Some(result) => (result, true),
                None => (results.try_recv().unwrap().1, false),
            }
        };
        let (answered, inline) = make("sns");
        assert!(answered.success && inline);
        assert_eq!(health.snapshot()[1].successes, 1, "recorded by the breaker");
        health.set_state("sns", BreakerState::Open).unwrap();
        let (rerouted, inline) = make("sns");
        assert!(!inline, "routed to the fallback");
        assert_eq!(rerouted.delivered_by.as_deref(), Some("local"));
    }

    #[test]
    fn a_failed_probe_reopens_and_no_usable_fallback_fails_at_once() {
        let mut providers: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        providers.insert("a".into(), Arc::new(Switch(AtomicBool::new(false))));
        providers.insert("b".into(), Arc::new(Switch(AtomicBool::new(false))));
        let breakers = [breaker("a", 30, Some("b")), breaker("b", 60_000, Some("a"))];
        let (guarded, health) = guard(providers, &breakers);
        for name in ["a", "a", "b", "b"] {
            assert!(!submit(&guarded, name).success);
        }
        let refused = submit(&guarded, "a");
        assert_eq!(refused.attempts, 0);
        assert_eq!(
            refused.error.as_deref(),
            Some("circuit open for a; no fallback could take the call (tried a, b)")
        );
        std::thread::sleep(Duration::from_millis(40));
        let probe = submit(&guarded, "a");
        assert_eq!(probe.attempts, 1, "the probe reaches the provider");
        assert_eq!(health.snapshot()[0].state, Some(BreakerState::Open));
    }
}
