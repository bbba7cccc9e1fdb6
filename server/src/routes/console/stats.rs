//! Live counts for the console's overview, kept per tenant so that a key limited to tenants
//! sees only theirs (`/metrics` counts every tenant together): records by outcome, deciding
//! records by rule, provider calls by provider, and deciding records per second over the last
//! minutes. `GET /v1/console/overview` answers them; `GET /v1/console/whoami` says what the
//! caller's key may see.
//!
//! The counts start with a server's first overview request: the audit store so far is counted
//! once, then every record as the sink writes it ([`App::subscribe`]). A server's counts live
//! as long as its [`App`] (a registry keyed by the app, since routers are built per request in
//! tests); the counting task ends when the app's sink is dropped.

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::{Params, Shared};
use crate::sink::TAIL_CAPACITY;
use acteon_dsl::plan::Outcome;
use acteon_engine::audit::record::{AuditRecord, RecordId};
use acteon_engine::time::wall_clock_ms;
use axum::extract::Query;
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// Seconds of decisions per second kept (and answered).
pub const RATE_SECONDS: usize = 300;

/// Records counted under one lock at most.
const COUNT_BATCH: usize = 512;

/// Every server's counts in this process, by app.
static REGISTRY: Mutex<Vec<(Weak<App>, Arc<Stats>)>> = Mutex::new(Vec::new());

#[derive(Debug, Default)]
pub struct Stats {
    tenants: Mutex<HashMap<String, TenantTally>>,
    /// Records written faster than they were counted, and so not counted.
    missed: AtomicU64,
}

#[derive(Debug, Default)]
struct TenantTally {
    /// Deciding records by rule (`""` when no rule decided), then outcome. Nested, so that
    /// counting a record allocates nothing once its rule has been seen.
    rules: HashMap<String, HashMap<Outcome, u64>>,
    /// Records naming a provider (the one called, else the action's own), by outcome.
    providers: HashMap<String, HashMap<Outcome, u64>>,
    outcomes: HashMap<Outcome, u64>,
    /// (Unix second, deciding records), oldest first, the last [`RATE_SECONDS`].
    seconds: VecDeque<(i64, u64)>,
}

/// One more of `outcome` under `name`.
fn bump(counts: &mut HashMap<String, HashMap<Outcome, u64>>, name: &str, outcome: Outcome) {
    let by_outcome = match counts.get_mut(name) {
        Some(by_outcome) => by_outcome,
        None => counts.entry(name.to_owned()).or_default(),
    };
    *by_outcome.entry(outcome).or_default() += 1;
}

impl TenantTally {
    fn count(&mut self, record: &AuditRecord, second: i64) {
        *self.outcomes.entry(record.outcome).or_default() += 1;
        if let Some(provider) = record.target.as_deref().or(record.provider.as_deref()) {
            bump(&mut self.providers, provider, record.outcome);
        }
        if !record.outcome.decides() {
            return;
        }
        bump(
            &mut self.rules,
            record.rule.as_deref().unwrap_or_default(),
            record.outcome,
        );
        // Records of one second mostly arrive together; an older one (the history counted at
        // start, a slow worker) goes into its own second wherever it is.
        match self.seconds.iter_mut().rev().find(|(s, _)| *s <= second) {
            Some((s, n)) if *s == second => *n += 1,
            _ => {
                let at = self.seconds.partition_point(|(s, _)| *s < second);
                self.seconds.insert(at, (second, 1));
            }
        }
        while self.seconds.len() > RATE_SECONDS
            || self
                .seconds
                .front()
                .is_some_and(|(s, _)| *s <= second - RATE_SECONDS as i64)
        {
            self.seconds.pop_front();
        }
    }
}

impl Stats {
    /// The counts of `app`, started on first use.
    pub fn of(app: &Arc<App>) -> Arc<Stats> {
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        registry.retain(|(app, _)| app.strong_count() > 0);
        if let Some((_, stats)) = registry
            .iter()
            .find(|(known, _)| std::ptr::eq(known.as_ptr(), Arc::as_ptr(app)))
        {
            return stats.clone();
        }
        let stats = Arc::new(Stats::default());
        // Subscribed before the store is read, so no record falls between the two; a record
        // in both (written while the store was read) is recognised by its id and counted once.
        let mut receiver = app.subscribe();
        let history = app.store.records();
        let recent: HashSet<RecordId> = history
            .iter()
            .rev()
            .take(TAIL_CAPACITY)
            .map(|r| r.id.clone())
            .collect();
        {
            let mut tenants = stats.lock();
            for record in &history {
                let second = record.completed_at_ms.div_euclid(1000);
                tally(&mut tenants, &record.tenant).count(record, second);
            }
        }
        let counting = stats.clone();
        tokio::spawn(async move {
            let mut recent = recent;
            let mut batch = Vec::with_capacity(COUNT_BATCH);
            loop {
                // One record awaited, then whatever else is waiting: counted under one lock.
                match receiver.recv().await {
                    Ok(record) => batch.push(record),
                    Err(RecvError::Lagged(missed)) => {
                        counting.missed.fetch_add(missed, Ordering::Relaxed);
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                }
                while batch.len() < COUNT_BATCH {
                    match receiver.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(TryRecvError::Lagged(missed)) => {
                            counting.missed.fetch_add(missed, Ordering::Relaxed);
                        }
                        Err(_) => break,
                    }
                }
                let second = wall_clock_ms().div_euclid(1000);
                let mut tenants = counting.lock();
                for record in batch.drain(..) {
                    if !recent.is_empty() && recent.remove(&record.id) {
                        continue;
                    }
                    tally(&mut tenants, &record.tenant).count(&record, second);
                }
            }
        });
        registry.push((Arc::downgrade(app), stats.clone()));
        stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TenantTally>> {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The tally of `tenant`, made on its first record.
fn tally<'a>(tenants: &'a mut HashMap<String, TenantTally>, tenant: &str) -> &'a mut TenantTally {
    if !tenants.contains_key(tenant) {
        tenants.insert(tenant.to_owned(), TenantTally::default());
    }
    tenants.get_mut(tenant).expect("inserted above")
}

fn outcome_map(counts: &BTreeMap<&'static str, u64>) -> Value {
    Value::Object(
        counts
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// `GET /v1/console/overview[?tenant=T]`: the caller's tenants' counts, summed; rules in the
/// running plan's order (then any rule of an earlier plan that still has counts).
pub async fn overview(
    state: Shared,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let asked = Params(params).text("tenant");
    if let Some(tenant) = &asked {
        caller.check(tenant)?;
    }
    let app = state.0;
    let stats = Stats::of(&app);
    let now_s = wall_clock_ms().div_euclid(1000);
    let mut rules: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut providers: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut outcomes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut seconds = vec![0u64; RATE_SECONDS];
    let mut visible = Vec::new();
    for (tenant, tally) in stats.lock().iter() {
        if !caller.sees(tenant) || asked.as_ref().is_some_and(|a| a != tenant) {
            continue;
        }
        visible.push(tenant.clone());
        for (into, from) in [
            (&mut rules, &tally.rules),
            (&mut providers, &tally.providers),
        ] {
            for (name, by_outcome) in from {
                let counts = into.entry(name.clone()).or_default();
                for (outcome, n) in by_outcome {
                    *counts.entry(outcome.name()).or_default() += n;
                }
            }
        }
        for (outcome, n) in &tally.outcomes {
            *outcomes.entry(outcome.name()).or_default() += n;
        }
        for (second, n) in &tally.seconds {
            let ago = now_s - second;
            if (0..RATE_SECONDS as i64).contains(&ago) {
                seconds[RATE_SECONDS - 1 - ago as usize] += n;
            }
        }
    }
    visible.sort();
    let plan = match app.engine.current() {
        Some(generation) => generation.plan.clone(),
        None => app.plan(),
    };
    let row = |name: &str, counts: Option<BTreeMap<&'static str, u64>>| {
        let counts = counts.unwrap_or_default();
        json!({
            "name": name,
            "decisions": counts.values().sum::<u64>(),
            "outcomes": outcome_map(&counts),
        })
    };
    let mut rule_rows: Vec<Value> = plan
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let mut value = row(&rule.name, rules.remove(&rule.name));
            value["index"] = json!(index);
            value["kind"] = json!(rule.action.keyword());
            value
        })
        .collect();
    let no_rule = rules.remove("");
    rule_rows.extend(rules.into_iter().map(|(name, counts)| {
        let mut value = row(&name, Some(counts));
        value["index"] = Value::Null;
        value
    }));
    let provider_rows: Vec<Value> = providers
        .into_iter()
        .map(|(name, counts)| row(&name, Some(counts)))
        .collect();
    Ok(Json(json!({
        "generation": app.engine.current().map(|g| g.number),
        "now_ms": wall_clock_ms(),
        "tenants": visible,
        "rate": { "until_s": now_s, "per_second": seconds },
        "rules": rule_rows,
        "no_rule": row("", no_rule),
        "providers": provider_rows,
        "outcomes": outcome_map(&outcomes),
        "records": outcomes.values().sum::<u64>(),
        // Of every tenant: which tenant a missed record had is not known.
        "missed": stats.missed.load(Ordering::Relaxed),
    })))
}

/// `GET /v1/console/whoami`: whether the server has keys, and the tenants the caller's key is
/// limited to (`null`: every tenant).
pub async fn whoami(state: Shared, Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({ "keys": !state.keys.is_empty(), "tenants": caller.tenants }))
}
