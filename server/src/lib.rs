//! `acteon serve`: the HTTP API over a running engine.
//!
//! Module map:
//! - [`app`]: the shared state built from the script, reloads and policy changes.
//! - [`engine`]: engine generations: one `acteon_engine::run` per plan, swapped on a change.
//! - [`feed`]: the HTTP API as the engine's source (a lane per worker, waking its source).
//! - [`source`]: the script's own source (Kafka) beside the API, handed from generation to
//!   generation on a reload.
//! - [`sink`]: the engine's audit into the store, the state views and the metrics.
//! - [`views`]: each action's latest state and the waiting groups, indexed for paged reads.
//! - [`dispatch`]: request bodies into actions, decisions back; dry runs.
//! - [`waiting`]: requests waiting for their decisions, answered by the engine as it decides.
//! - [`policies`]: runtime quotas and retention policies.
//! - [`recurring`]: recurring actions (cron in a timezone).
//! - [`jobs`]: background tasks: recurring actions, breaker sampling, the script watcher.
//! - [`auth`]: optional API keys, limited to tenants.
//! - [`metrics`]: counters and the Prometheus text.
//! - [`routes`]: the HTTP routes, one file per resource.
//! - [`error`]: API errors (status, stable code, message) and server errors.

pub mod app;
pub mod auth;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod feed;
pub mod jobs;
pub mod metrics;
pub mod policies;
pub mod recurring;
pub mod routes;
pub mod sink;
pub mod source;
pub mod views;
pub mod waiting;

pub use app::{App, Reload, ServerConfig};
pub use auth::ApiKey;
pub use error::{ApiError, ServerError};

use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A started server: the engine runs and the jobs tick; [`Server::serve`] answers requests.
pub struct Server {
    pub app: Arc<App>,
    stop: tokio::sync::watch::Sender<bool>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Compiles the script, starts the engine and the background jobs. Needs a tokio runtime.
    pub fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let app = App::start(config)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let jobs = jobs::spawn(&app, stopped);
        Ok(Server { app, stop, jobs })
    }

    pub fn router(&self) -> axum::Router {
        routes::router(self.app.clone())
    }

    /// Answers requests on `listener` until `shutdown` completes, then stops the jobs and lets
    /// the engine finish what it holds.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let router = self.router();
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServerError::Http);
        self.stop().await;
        served
    }

    /// Stops the jobs and the engine (held actions are released, chains finish).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for job in self.jobs {
            let _ = job.await;
        }
        let app = self.app;
        let _ = tokio::task::spawn_blocking(move || app.engine.shutdown()).await;
    }
}
