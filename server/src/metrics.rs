//! Counters for `/metrics` (Prometheus text format) and the latency percentiles of
//! `/v1/providers/health`. Fed by the audit as it is written, so they count every engine
//! generation, and by a sampler of breaker states (transitions are counted as seen).

use acteon_dsl::plan::Outcome;
use acteon_engine::audit::buffer::BufferFigures;
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::providers::breaker::{BreakerState, HealthFigures};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds of the delivery latency histogram, in milliseconds.
const LATENCY_BUCKETS_MS: [u64; 11] = [1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000];
/// Latencies kept per provider for percentiles: the most recent ones.
const LATENCY_WINDOW: usize = 4_096;

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (outcome, rule, provider) → records.
    actions: BTreeMap<(Outcome, String, String), u64>,
    latency: BTreeMap<String, Latency>,
    breaker_states: BTreeMap<String, BreakerState>,
    /// (provider, name of the state entered) → transitions.
    breaker_transitions: BTreeMap<(String, &'static str), u64>,
    requests: BTreeMap<(String, u16), u64>,
}

#[derive(Debug, Default)]
struct Latency {
    /// Cumulative counts per bucket of [`LATENCY_BUCKETS_MS`], then the overflow.
    buckets: [u64; LATENCY_BUCKETS_MS.len() + 1],
    sum_ms: u64,
    count: u64,
    recent: VecDeque<u64>,
}

/// Latency percentiles of one provider's recent deliveries.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub p50_latency_ms: u64,
    pub p95_latency_ms: u64,
    pub p99_latency_ms: u64,
}

impl Metrics {
    /// Counts one audit record.
    pub fn observe(&self, record: &AuditRecord) {
        let provider = record
            .target
            .as_deref()
            .or(record.provider.as_deref())
            .unwrap_or_default();
        let mut inner = self.lock();
        *inner
            .actions
            .entry((
                record.outcome,
                record.rule.as_deref().unwrap_or_default().to_owned(),
                provider.to_owned(),
            ))
            .or_default() += 1;
        // A record with a delivery result is a provider call: its duration is the latency.
        if let (Some(target), Some(_)) = (&record.target, record.details.get("delivery")) {
            inner
                .latency
                .entry(target.to_string())
                .or_default()
                .add(record.duration_ms);
        }
    }

    /// Notes the breaker states now; a state that differs from the last one seen counts as a
    /// transition into it.
    pub fn sample_breakers(&self, figures: &[HealthFigures]) {
        let mut inner = self.lock();
        for figure in figures {
            let Some(state) = figure.state else { continue };
            let previous = inner.breaker_states.insert(figure.provider.clone(), state);
            if previous.is_some_and(|p| p != state) {
                *inner
                    .breaker_transitions
                    .entry((figure.provider.clone(), state_name(state)))
                    .or_default() += 1;
            }
        }
    }

    /// Counts one answered HTTP request by route and status.
    pub fn request(&self, route: &str, status: u16) {
        *self
            .lock()
            .requests
            .entry((route.to_owned(), status))
            .or_default() += 1;
    }

    pub fn percentiles(&self, provider: &str) -> Option<Percentiles> {
        self.lock().latency.get(provider).map(Latency::percentiles)
    }

    /// Everything in Prometheus' text format; `gauges` adds the figures read elsewhere
    /// (breaker states, chains by state, quota usage).
    pub fn render(&self, gauges: &Gauges) -> String {
        let inner = self.lock();
        let mut out = String::new();
        header(
            &mut out,
            "acteon_actions_total",
            "counter",
            "Audit records by outcome, deciding rule and provider.",
        );
        for ((outcome, rule, provider), count) in &inner.actions {
            let _ = writeln!(
                out,
                "acteon_actions_total{{outcome=\"{}\",rule=\"{}\",provider=\"{}\"}} {count}",
                outcome.name(),
                escape(rule),
                escape(provider)
            );
        }
        header(
            &mut out,
            "acteon_chains_finished_total",
            "counter",
            "Chains that ended, by how they ended.",
        );
        for outcome in [
            Outcome::ChainCompleted,
            Outcome::ChainFailed,
            Outcome::ChainTimedOut,
            Outcome::ChainCancelled,
        ] {
            let count: u64 = inner
                .actions
                .iter()
                .filter(|((o, _, _), _)| *o == outcome)
                .map(|(_, n)| n)
                .sum();
            let _ = writeln!(
                out,
                "acteon_chains_finished_total{{outcome=\"{}\"}} {count}",
                outcome.name()
            );
        }
        header(
            &mut out,
            "acteon_breaker_transitions_total",
            "counter",
            "Circuit breaker state changes, by the state entered.",
        );
        for ((provider, state), count) in &inner.breaker_transitions {
            let _ = writeln!(
                out,
                "acteon_breaker_transitions_total{{provider=\"{}\",state=\"{}\"}} {count}",
                escape(provider),
                state
            );
        }
        header(
            &mut out,
            "acteon_breaker_state",
            "gauge",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
        );
        for (provider, state) in &gauges.breakers {
            let value = match state {
                BreakerState::Closed => 0,
                BreakerState::HalfOpen => 1,
                BreakerState::Open => 2,
            };
            let _ = writeln!(
                out,
                "acteon_breaker_state{{provider=\"{}\"}} {value}",
                escape(provider)
            );
        }
        header(
            &mut out,
            "acteon_chains",
            "gauge",
            "Chains known to the server, by state.",
        );
        for (state, count) in &gauges.chains {
            let _ = writeln!(out, "acteon_chains{{state=\"{}\"}} {count}", escape(state));
        }
        header(
            &mut out,
            "acteon_quota_usage",
            "gauge",
            "Actions counted in each quota's current window.",
        );
        for (quota, tenant, used, limit) in &gauges.quotas {
            let _ = writeln!(
                out,
                "acteon_quota_usage{{quota=\"{}\",tenant=\"{}\"}} {used}",
                escape(quota),
                escape(tenant)
            );
            let _ = writeln!(
                out,
                "acteon_quota_limit{{quota=\"{}\",tenant=\"{}\"}} {limit}",
                escape(quota),
                escape(tenant)
            );
        }
        render_buffers(&mut out, &gauges.buffers);
        header(
            &mut out,
            "acteon_delivery_latency_ms",
            "histogram",
            "Provider call latency in milliseconds.",
        );
        for (provider, latency) in &inner.latency {
            let provider = escape(provider);
            for (bound, count) in LATENCY_BUCKETS_MS.iter().zip(latency.buckets) {
                let _ = writeln!(out, "acteon_delivery_latency_ms_bucket{{provider=\"{provider}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(
                out,
                "acteon_delivery_latency_ms_bucket{{provider=\"{provider}\",le=\"+Inf\"}} {}",
                latency.count
            );
            let _ = writeln!(
                out,
                "acteon_delivery_latency_ms_sum{{provider=\"{provider}\"}} {}",
                latency.sum_ms
            );
            let _ = writeln!(
                out,
                "acteon_delivery_latency_ms_count{{provider=\"{provider}\"}} {}",
                latency.count
            );
        }
        header(
            &mut out,
            "acteon_http_requests_total",
            "counter",
            "HTTP requests answered, by route and status.",
        );
        for ((route, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "acteon_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Figures `/metrics` reads from the engine and the policies at scrape time.
#[derive(Debug, Default)]
pub struct Gauges {
    pub breakers: Vec<(String, BreakerState)>,
    pub chains: BTreeMap<String, u64>,
    /// (quota id, tenant, used, limit).
    pub quotas: Vec<(String, String, u64, u64)>,
    /// The audit destinations' sink buffers.
    pub buffers: Vec<BufferFigures>,
}

/// Each sink buffer's depth, age and whether it holds the input back.
fn render_buffers(out: &mut String, buffers: &[BufferFigures]) {
    type Figure = fn(&BufferFigures) -> u64;
    let series: [(&str, &str, &str, Figure); 5] = [
        (
            "acteon_sink_buffer_records",
            "gauge",
            "Audit records waiting in a sink buffer for their destination.",
            |b| b.records,
        ),
        (
            "acteon_sink_buffer_oldest_age_ms",
            "gauge",
            "How long the oldest record in a sink buffer has waited, in milliseconds.",
            |b| b.oldest_age_ms,
        ),
        (
            "acteon_sink_buffer_full",
            "gauge",
            "1 while a sink buffer is at its bound and holds the input back.",
            |b| u64::from(b.full),
        ),
        (
            "acteon_sink_buffer_delivered_total",
            "counter",
            "Audit records a sink buffer handed to its destination.",
            |b| b.delivered,
        ),
        (
            "acteon_sink_buffer_failures_total",
            "counter",
            "Batches a sink buffer's destination refused (each is tried again).",
            |b| b.failures,
        ),
    ];
    for (name, kind, help, figure) in series {
        header(out, name, kind, help);
        for buffer in buffers {
            let _ = writeln!(
                out,
                "{name}{{sink=\"{}\"}} {}",
                escape(&buffer.sink),
                figure(buffer)
            );
        }
    }
}

impl Latency {
    fn add(&mut self, ms: u64) {
        for (bound, bucket) in LATENCY_BUCKETS_MS.iter().zip(self.buckets.iter_mut()) {
            if ms <= *bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum_ms += ms;
        if self.recent.len() == LATENCY_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(ms);
    }

    fn percentiles(&self) -> Percentiles {
        let mut sorted: Vec<u64> = self.recent.iter().copied().collect();
        sorted.sort_unstable();
        let at = |q: f64| -> u64 {
            if sorted.is_empty() {
                return 0;
            }
            let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted[index]
        };
        Percentiles {
            p50_latency_ms: at(0.50),
            p95_latency_ms: at(0.95),
            p99_latency_ms: at(0.99),
        }
    }
}

pub fn state_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half_open",
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as Prometheus' text format quotes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut latency = Latency::default();
        for ms in 1..=100 {
            latency.add(ms);
        }
        let p = latency.percentiles();
        assert_eq!(
            (p.p50_latency_ms, p.p95_latency_ms, p.p99_latency_ms),
            (50, 95, 99)
        );
        assert_eq!(latency.buckets[0], 1, "one call within 1 ms");
        assert_eq!(latency.count, 100);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
