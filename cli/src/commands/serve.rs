//! `acteon serve`: the pipeline behind the HTTP API, with hot reload of the script.

use super::run::{audit_output, delivery};
use crate::diagnostics::compile_or_report;
use crate::live::LiveProviders;
use acteon_aws::AwsProviders;
use acteon_delivery::Policy;
use acteon_engine::audit::buffer::Acknowledge;
use acteon_engine::tables::Tables;
use acteon_engine::{AuditOutput, RunConfig};
use acteon_server::{Server, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Serve a script's pipeline over HTTP: dispatch actions, read the audit, chains, state,
/// provider health and metrics; manage quotas, retention and recurring actions. The script's
/// own source (Kafka) is read beside the API, in the same dataflow and audit, unless
/// --no-source. The script's files are watched: a clean edit replaces the plan, one with
/// errors is refused (the source is handed to the new plan without skipping a record or
/// deciding one twice).
#[derive(clap::Args)]
#[command(
    after_help = "Example (no service needed):\n  acteon serve pipelines/aws-event-pipeline/pipeline.acteon --no-source --dry-run target/dry-run --audit target/audit.jsonl\n  curl -s localhost:8080/v1/dispatch -H 'content-type: application/json' \\\n    -d '{\"namespace\":\"iot\",\"tenant\":\"smartbuilding-hq\",\"action_type\":\"device_lifecycle\",\"provider\":\"event-bus\"}'\n\nIn a cluster (--processes N) every process serves its own --listen address and answers the\nrequests it receives; keyed state moves to its owner in whatever process. The plan is fixed:\nreloads and runtime policy changes answer 409 (restart every process to change them), and the\nscript's recurring actions fire from process 0:\n  scripts/cluster.sh 2 serve SCRIPT --listen '127.0.0.1:808{process}'"
)]
pub struct Args {
    /// The script (its includes are followed and watched).
    file: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    api_keys: crate::api_keys::ApiKeyArgs,
    /// Also write the audit as JSON lines to this file, or to this topic:
    /// kafka://HOST:PORT/TOPIC[?PROPERTY=VALUE] (record key: the action id). Repeat it to write
    /// to several; instead of the script's audit sink.
    #[arg(long, value_name = "PATH|URL")]
    audit: Vec<String>,
    /// Append failed deliveries (no breaker fallback took them) and the script's source's
    /// rejected records to this file, as JSON lines; every plan a reload starts adds to it.
    #[arg(long, value_name = "PATH")]
    dead_letter: Option<PathBuf>,
    /// Record every provider call in DIR/<provider>.jsonl instead of making it.
    #[arg(long, value_name = "DIR")]
    dry_run: Option<PathBuf>,
    /// Timely worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Largest accepted action, in bytes; larger ones get 400.
    #[arg(long, default_value_t = 1 << 20)]
    max_action_bytes: usize,
    /// Largest accepted request body, in bytes; larger ones get 413.
    #[arg(long, default_value_t = 4 << 20)]
    max_body_bytes: usize,
    /// How often the script's files are checked for changes (0s: never).
    #[arg(long, default_value = "500ms", value_parser = crate::duration::parse)]
    watch_interval: std::time::Duration,
    /// The idle tick: how often, with nothing arriving, held actions (schedules, groups, chain
    /// timeouts) move on and the script's source is polled. A dispatch never waits for it: it
    /// is decided as soon as it arrives.
    #[arg(long, default_value = "10ms", value_parser = crate::duration::parse)]
    epoch: std::time::Duration,
    /// Serve HTTP only: do not read the script's source.
    #[arg(long)]
    no_source: bool,
    #[command(flatten)]
    buffers: crate::buffer::BufferArgs,
    #[command(flatten)]
    cluster: crate::cluster::ClusterArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(plan) = compile_or_report(&args.file) else {
        return Ok(ExitCode::from(1));
    };
    // One runtime for every AWS call: providers and the DynamoDB audit.
    let aws = Arc::new(AwsProviders::new(Policy::default())?);
    // Nothing commits behind a served audit: a record in the buffer is written as far as the
    // answer to its dispatch is concerned.
    let buffers = args.buffers.buffers(None, Acknowledge::Buffered);
    let audit = match audit_output(&args.audit, &plan, &aws, &buffers) {
        Ok(audit) => audit,
        // Served, the audit is always kept in memory for `GET /v1/audit`: the script's file is
        // optional, but what `--audit` names must open.
        Err(_) if args.audit.is_empty() => AuditOutput::None,
        Err(error) => return Err(error),
    };
    let engine = RunConfig {
        workers: args.workers.max(1),
        audit,
        delivery: delivery(args.dry_run.as_ref()),
        dead_letter: args.dead_letter.clone(),
        max_action_bytes: args.max_action_bytes,
        epoch_ms: args.epoch.as_millis().max(1) as u64,
        live_providers: Some(Arc::new(LiveProviders::new(aws))),
        cluster: args.cluster.cluster()?,
        tables: Tables::new().with_feed(Arc::new(acteon_kafka::KafkaTables)),
        backpressure: Some(buffers.backpressure.clone()),
        ..RunConfig::default()
    };
    let mut config = ServerConfig::new(&args.file, engine);
    config.source = match (&plan.source, args.no_source) {
        (acteon_dsl::plan::Source::Kafka(source), false) => {
            let feed = acteon_kafka::KafkaFeed::new(source.clone(), None).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the script's Kafka source ({e}); --no-source serves HTTP only"
                )
            })?;
            Some(Arc::new(feed))
        }
        _ => None,
    };
    config.api_keys = args.api_keys.keys()?;
    config.max_body_bytes = args.max_body_bytes;
    // A cluster's plan is fixed (see the cluster flags): its files are not watched.
    config.watch_interval = (!args.watch_interval.is_zero() && config.engine.cluster.is_none())
        .then_some(args.watch_interval);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("acteon-http")
        .build()?;
    let served: anyhow::Result<()> = runtime.block_on(async move {
        let server = Server::start(config)?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
        eprintln!("Listening on {}", listener.local_addr()?);
        server.serve(listener, shutdown_signal()).await?;
        Ok(())
    });
    served?;
    buffers.drain();
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
