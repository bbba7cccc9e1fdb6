//! `acteon run`: the pipeline over a finite or live input.

use crate::buffer::Buffers;
use crate::diagnostics::compile_or_report;
use crate::live::LiveProviders;
use acteon_aws::AwsProviders;
use acteon_delivery::Policy;
use acteon_engine::audit::buffer::Acknowledge;
use acteon_engine::audit::sink::{FanOut, FileSink, JsonLinesWriter, RecordSink};
use acteon_engine::chains::status::ChainStore;
use acteon_engine::tables::Tables;
use acteon_engine::{AuditOutput, Clock, Delivery, Input, RunConfig};
use acteon_kafka::audit::KafkaAudit;
use acteon_kafka::TopicAddress;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Run a script's pipeline: decide every action, deliver it, audit the decision.
///
/// Without --input or --source the script's own source is read.
#[derive(clap::Args)]
#[command(
    after_help = "Example (no service needed):\n  acteon run pipelines/aws-event-pipeline/pipeline.acteon \\\n    --input pipelines/aws-event-pipeline/telemetry.jsonl \\\n    --dry-run target/dry-run --audit target/audit.jsonl --report"
)]
pub struct Args {
    /// The script (its includes are followed).
    file: PathBuf,
    /// Read JSON lines from this file (`-` for standard input) instead of the script's source.
    #[arg(long, conflicts_with = "source")]
    input: Option<PathBuf>,
    /// Read this Kafka topic instead of the script's source:
    /// kafka://HOST:PORT/TOPIC[?group=G&start=earliest|latest|committed] (default start:
    /// the group's committed offsets).
    #[arg(long, value_name = "URL")]
    source: Option<String>,
    /// End the run once a Kafka source is drained and no record came for this long (every
    /// held action released first), e.g. 2s.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    exit_when_idle: Option<std::time::Duration>,
    /// Write the audit as JSON lines to this file, or to this topic:
    /// kafka://HOST:PORT/TOPIC[?PROPERTY=VALUE] (record key: the action id). Repeat it to write
    /// to several; instead of the script's audit sink.
    #[arg(long, value_name = "PATH|URL")]
    audit: Vec<String>,
    /// Record every provider call in DIR/<provider>.jsonl instead of making it (`/dev/null`:
    /// answer every call and record none).
    #[arg(long, value_name = "DIR")]
    dry_run: Option<PathBuf>,
    /// Write the input records that were not decided (rejected, or late), with the reason, to
    /// this file, one JSON line each; `record` holds the input line, to feed it again. Actions
    /// whose delivery failed with no breaker fallback to take them, and failed chain steps
    /// that say `on_failure dlq`, go here too (their action, provider and reason).
    #[arg(long, value_name = "PATH")]
    dead_letter: Option<PathBuf>,
    /// How far behind its input's latest event time (same file, same partition) an action may
    /// arrive and still be decided by its own event time; a later one is `late`: audited, sent
    /// to the dead letters, not decided. Default: the script's `background { max_lateness }`,
    /// else 0.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    max_lateness: Option<std::time::Duration>,
    /// Length of a dataflow epoch: actions are decided an epoch at a time, so longer epochs
    /// cost less coordination per action and hold decisions (and their audit) back longer.
    /// Default: 1s for a file or standard input on the event clock (a replay: throughput
    /// matters), else 100ms.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    epoch: Option<std::time::Duration>,
    /// Timely worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// `event`: windows follow the actions' created_at (replays are reproducible);
    /// `processing`: they follow the wall clock.
    #[arg(long, value_enum, default_value_t = ClockArg::Event)]
    clock: ClockArg,
    /// Print a summary table (counts by tenant and outcome, rule, provider) at exit.
    #[arg(long)]
    report: bool,
    /// Largest accepted action, in bytes; larger ones are rejected.
    #[arg(long, default_value_t = 1 << 20)]
    max_action_bytes: usize,
    #[command(flatten)]
    checkpoints: crate::checkpoint::CheckpointArgs,
    #[command(flatten)]
    buffers: crate::buffer::BufferArgs,
    #[command(flatten)]
    cluster: crate::cluster::ClusterArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ClockArg {
    Event,
    Processing,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(plan) = compile_or_report(&args.file) else {
        return Ok(ExitCode::from(1));
    };
    let cluster = args.cluster.cluster()?;
    // One runtime for every AWS call of the run: providers and the DynamoDB audit.
    let aws = Arc::new(AwsProviders::new(Policy::default())?);
    // A record counts as written for the feed's commits once it is in its destination or
    // synced in the buffer on disk.
    let buffers = args
        .buffers
        .buffers(args.checkpoints.dir(), Acknowledge::Durable);
    // Settled before a Kafka feed is opened: a missing flag is reported at once.
    let audit = audit_output(&args.audit, &plan, &aws, &buffers)?;
    use acteon_dsl::plan::Source;
    let kafka = |source| -> anyhow::Result<Input> {
        let feed = acteon_kafka::KafkaFeed::new(source, args.exit_when_idle)?;
        Ok(Input::Feed(std::sync::Arc::new(feed)))
    };
    let input = match (&args.input, &args.source) {
        (Some(path), _) if path.as_os_str() == "-" => Input::Stdin,
        (Some(path), _) => Input::File(path.clone()),
        (None, Some(url)) => {
            let script = match &plan.source {
                Source::Kafka(source) => Some(source),
                _ => None,
            };
            kafka(acteon_kafka::source_from_url(url, script)?)?
        }
        (None, None) => match &plan.source {
            Source::File { path } => Input::File(path.into()),
            Source::Stdin => Input::Stdin,
            Source::None => anyhow::bail!(
                "the script declares no source: give --input PATH (or - for stdin) or --source URL"
            ),
            Source::Kafka(source) => kafka(source.clone())?,
        },
    };
    let config = RunConfig {
        epoch_ms: epoch_ms(args.epoch, &input, args.clock),
        input,
        workers: args.workers.max(1),
        clock: match args.clock {
            ClockArg::Event => Clock::Event,
            ClockArg::Processing => Clock::Processing,
        },
        audit,
        delivery: delivery(args.dry_run.as_ref()),
        dead_letter: args.dead_letter.clone(),
        max_action_bytes: args.max_action_bytes,
        max_lateness_ms: max_lateness_ms(args.max_lateness, &plan),
        live_providers: Some(Arc::new(LiveProviders::new(aws.clone()))),
        // Nothing reads a run's ended chains: a long run must not keep them.
        chains: ChainStore::running_only(),
        checkpoints: args.checkpoints.config(&args.file, &plan, &aws)?,
        cluster,
        tables: Tables::new().with_feed(Arc::new(acteon_kafka::KafkaTables)),
        backpressure: Some(buffers.backpressure.clone()),
        ..RunConfig::default()
    };
    let report = acteon_engine::run(&plan, config)?;
    buffers.drain();
    if args.report {
        print!("{}", report.views.render_table());
    }
    eprintln!(
        "{} actions in, {} audit records, {:.3} s",
        report.inputs,
        report.records,
        report.elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `--epoch`, else 1 s for a replay (a file or standard input on the event clock), else 100 ms.
fn epoch_ms(flag: Option<std::time::Duration>, input: &Input, clock: ClockArg) -> u64 {
    let replay = matches!(input, Input::File(_) | Input::Stdin) && matches!(clock, ClockArg::Event);
    let default = if replay { 1000 } else { 100 };
    flag.map_or(default, |d| d.as_millis().max(1) as u64)
}

/// `--max-lateness` wins over the script's `background { max_lateness }`.
pub(crate) fn max_lateness_ms(
    flag: Option<std::time::Duration>,
    plan: &acteon_dsl::plan::Plan,
) -> u64 {
    flag.map_or(plan.background.max_lateness_ms, |d| d.as_millis() as u64)
}

/// `--dry-run DIR` records every call there; otherwise calls are made.
pub(crate) fn delivery(dry_run: Option<&PathBuf>) -> Delivery {
    match dry_run {
        Some(dir) => Delivery::DryRunDir(dir.clone()),
        None => Delivery::Live,
    }
}

/// `--audit` wins (a file, a topic, or several of them); otherwise the script's own audit sink.
/// A topic and a DynamoDB table are written through `buffers`.
pub(crate) fn audit_output(
    audit: &[String],
    plan: &acteon_dsl::plan::Plan,
    aws: &AwsProviders,
    buffers: &Buffers,
) -> anyhow::Result<AuditOutput> {
    use acteon_dsl::plan::AuditSink;
    let sink = |target: &String| -> anyhow::Result<Arc<dyn RecordSink>> {
        match TopicAddress::is_url(target) {
            true => buffers.sink(KafkaAudit::start(TopicAddress::parse(target)?)?),
            false => Ok(Arc::new(FileSink::new(JsonLinesWriter::create(target)?))),
        }
    };
    Ok(match (audit, &plan.audit.sink) {
        ([path], _) if !TopicAddress::is_url(path) => AuditOutput::File(path.into()),
        ([target], _) => AuditOutput::Sink(sink(target)?),
        ([_, _, ..], _) => AuditOutput::Sink(Arc::new(FanOut(
            audit.iter().map(sink).collect::<anyhow::Result<_>>()?,
        ))),
        ([], AuditSink::File { path: Some(path) }) => AuditOutput::File(path.into()),
        ([], AuditSink::Memory) => AuditOutput::Memory,
        ([], AuditSink::File { path: None }) => {
            anyhow::bail!("the script's audit sink is a file with no path: give --audit PATH")
        }
        (
            [],
            AuditSink::Dynamodb {
                table,
                aws: connection,
            },
        ) => AuditOutput::Sink(buffers.sink(aws.audit_destination(table, connection))?),
        (
            [],
            AuditSink::Kafka {
                brokers,
                topic,
                properties,
            },
        ) => AuditOutput::Sink(buffers.sink(KafkaAudit::start(TopicAddress {
            brokers: brokers.clone(),
            topic: topic.clone(),
            properties: properties.clone(),
        })?)?),
    })
}
