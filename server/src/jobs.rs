//! Background jobs of the server, each a tokio task ended by the shutdown signal: recurring
//! actions, the retention reaper (audit records past their `expires_at`), the cleanup of
//! finished chains, the breaker sampler for `/metrics`, and the script watcher (hot reload). Group
//! flushes, schedule releases and chain timeouts need no job: the dataflow does them on its
//! processing clock.

use crate::app::App;
use acteon_engine::time::wall_clock_ms;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// How often breaker states are sampled for the transition counters.
const BREAKER_SAMPLE: Duration = Duration::from_millis(250);

/// Starts every job; each ends when `stop` turns true.
pub fn spawn(app: &Arc<App>, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let plan = app.plan();
    let background = &plan.background;
    let interval = |ms: u64| {
        app.config
            .background_interval
            .unwrap_or(Duration::from_millis(ms))
    };
    let mut jobs = Vec::new();
    if background.recurring_actions {
        let every_check = interval(background.recurring_check_interval_ms);
        jobs.push(tokio::spawn(every(
            every_check,
            stop.clone(),
            app.clone(),
            recurring,
        )));
    }
    if background.retention_reaper {
        let every_check = interval(background.retention_check_interval_ms);
        jobs.push(tokio::spawn(every(
            every_check,
            stop.clone(),
            app.clone(),
            reap,
        )));
    }
    let cleanup = interval(background.cleanup_interval_ms);
    jobs.push(tokio::spawn(every(
        cleanup,
        stop.clone(),
        app.clone(),
        clean_chains,
    )));
    jobs.push(tokio::spawn(every(
        BREAKER_SAMPLE,
        stop.clone(),
        app.clone(),
        sample_breakers,
    )));
    if let Some(interval) = app.config.watch_interval {
        jobs.push(tokio::spawn(watch_script(app.clone(), interval, stop)));
    }
    jobs
}

async fn every<F, Fut>(interval: Duration, mut stop: watch::Receiver<bool>, app: Arc<App>, job: F)
where
    F: Fn(Arc<App>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => job(app.clone()).await,
            _ = stop.changed() => return,
        }
    }
}

async fn recurring(app: Arc<App>) {
    fire_recurring(&app, wall_clock_ms()).await;
}

/// Dispatches every occurrence due at `now_ms` through the rules (the recurring job passes
/// the wall clock); each decision is audited like any other.
pub async fn fire_recurring(app: &Arc<App>, now_ms: i64) {
    for action in app.recurring.take_due(now_ms) {
        if let Err(error) = app.dispatcher.submit(&action).await {
            tracing::error!(
                code = error.code,
                message = error.message,
                "a recurring action was not dispatched"
            );
        }
    }
}

/// Drops audit records whose retention has passed (their `expires_at`, from the audit `ttl` or
/// the tenant's retention policy).
async fn reap(app: Arc<App>) {
    let reaped = app.store.reap(wall_clock_ms());
    if reaped > 0 {
        tracing::info!(reaped, "expired audit records dropped");
    }
}

/// Forgets chains finished longer than `completed_chain_ttl` ago.
async fn clean_chains(app: Arc<App>) {
    let ttl_us = app.plan().background.completed_chain_ttl_ms as i64 * 1_000;
    let forgotten = app.chains.forget_finished(wall_clock_ms() * 1_000 - ttl_us);
    if forgotten > 0 {
        tracing::info!(forgotten, "finished chains forgotten");
    }
}

async fn sample_breakers(app: Arc<App>) {
    if let Some(generation) = app.engine.current() {
        app.metrics.sample_breakers(&generation.health().snapshot());
    }
}

/// Each file's modification time, or `None` for a file that cannot be read.
fn stamps(files: &[PathBuf]) -> BTreeMap<PathBuf, Option<SystemTime>> {
    files
        .iter()
        .map(|f| {
            (
                f.clone(),
                std::fs::metadata(f).and_then(|m| m.modified()).ok(),
            )
        })
        .collect()
}

/// Polls the script's files (the root and its includes) and reloads on a change. Polling
/// needs nothing from the platform and a script is a handful of files.
async fn watch_script(app: Arc<App>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let files = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || app.script_files())
            .await
            .unwrap_or_default()
    };
    let mut seen = stamps(&files);
    let mut ticks = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let files: Vec<PathBuf> = seen.keys().cloned().collect();
        let now = stamps(&files);
        if now == seen {
            continue;
        }
        tracing::info!("the script changed; reloading");
        let reloaded = {
            let app = app.clone();
            tokio::task::spawn_blocking(move || {
                app.reload();
                // Includes may have been added or removed: watch the files as compiled now.
                app.script_files()
            })
            .await
        };
        seen = stamps(&reloaded.unwrap_or(files));
    }
}
