//! `acteon produce`: the sensor simulator, feeding a Kafka topic or standard output.

use acteon_kafka::simulator::{Building, Mix, Simulator, START_MS};
use acteon_kafka::TopicWriter;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Simulate the building's sensors: actions as JSON lines, to a topic or to stdout.
///
/// Reproducible with --seed: event times start at 2026-11-28T09:00:00Z and advance 1/RATE s
/// per action (10 ms when the rate is unlimited). Records are keyed by device id; the lines of
/// --from all go to partition 0, in order.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  acteon produce --to kafka://127.0.0.1:9092/building-telemetry --rate 1000 --duration 30s\n  acteon produce --count 5 --malformed 20 --seed 7\n  acteon produce --from pipelines/aws-event-pipeline/telemetry.jsonl --to kafka://127.0.0.1:9092/t"
)]
pub struct Args {
    /// kafka://HOST:PORT/TOPIC, or - for standard output.
    #[arg(long, value_name = "URL", default_value = "-")]
    to: String,
    /// Send the lines of this JSON-lines file instead of simulating.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["count", "duration"])]
    from: Option<PathBuf>,
    /// Stop after this many actions.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this long (with neither --count nor --duration: 1000 actions).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    duration: Option<Duration>,
    /// Actions per second; 0: as fast as the output takes them.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Devices per sensor type.
    #[arg(long, default_value_t = 500)]
    devices: u64,
    #[arg(long, default_value_t = 8)]
    floors: u64,
    #[arg(long, default_value_t = 1)]
    tenants: u64,
    /// Percent of repeated readings (same dedup key).
    #[arg(long, default_value_t = Mix::SEED.duplicates)]
    duplicates: u64,
    /// Percent of readings from test devices.
    #[arg(long, default_value_t = Mix::SEED.test_devices)]
    test_devices: u64,
    /// Percent of critical temperature readings.
    #[arg(long, default_value_t = Mix::SEED.critical)]
    critical: u64,
    /// Percent of malformed records (not JSON, or a required field missing).
    #[arg(long, default_value_t = 0)]
    malformed: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Partitions of the topic when it has to be created.
    #[arg(long, default_value_t = 3)]
    partitions: i32,
}

enum Output {
    Stdout(std::io::BufWriter<std::io::Stdout>),
    Topic(TopicWriter, String),
}

impl Output {
    fn send(&mut self, to: (Option<&str>, Option<i32>), line: &str) -> anyhow::Result<()> {
        match self {
            Output::Stdout(out) => writeln!(out, "{line}").context("writing to stdout"),
            Output::Topic(writer, topic) => Ok(writer.send(topic, to, line.as_bytes(), None)?),
        }
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        match self {
            Output::Stdout(out) => out.flush().context("writing to stdout"),
            Output::Topic(writer, _) => Ok(writer.flush(Duration::from_secs(60))?),
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut output = if args.to == "-" {
        Output::Stdout(std::io::BufWriter::new(std::io::stdout()))
    } else {
        let source = acteon_kafka::source_from_url(&args.to, None)?;
        let brokers = source.brokers.join(",");
        acteon_kafka::ensure_topic(
            &brokers,
            &source.properties,
            &source.topics[0],
            args.partitions,
        )?;
        let writer = TopicWriter::new(&brokers, &source.properties)?;
        Output::Topic(writer, source.topics[0].clone())
    };
    let shares = [
        args.duplicates,
        args.test_devices,
        args.critical,
        args.malformed,
    ];
    if shares.iter().sum::<u64>() > 100 {
        anyhow::bail!("the shares add up to more than 100 percent");
    }
    let count = match (args.count, args.duration) {
        (Some(count), _) => Some(count),
        (None, Some(_)) => None,
        (None, None) => Some(1000),
    };
    let progress = match (std::io::stderr().is_terminal(), &args.from, count) {
        (false, _, _) => ProgressBar::hidden(),
        (true, None, Some(count)) => ProgressBar::new(count),
        (true, _, _) => ProgressBar::new_spinner(),
    };
    progress.set_draw_target(if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} {pos}/{len} actions {per_sec} {elapsed} {wide_bar}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let started = Instant::now();
    let pace = |sent: u64| {
        if args.rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / args.rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    };
    let mut sent = 0u64;
    if let Some(path) = &args.from {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        for line in BufReader::new(file).lines() {
            let line = line.with_context(|| format!("{}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            pace(sent);
            // A file is one ordered stream: its lines go to partition 0, in order.
            output.send((None, Some(0)), &line)?;
            sent += 1;
            progress.inc(1);
        }
    } else {
        let mix = Mix {
            duplicates: args.duplicates,
            test_devices: args.test_devices,
            critical: args.critical,
            malformed: args.malformed,
            ..Mix::SEED
        };
        let building = Building {
            devices: args.devices,
            floors: args.floors,
            tenants: args.tenants,
        };
        let step_ms = 1000u64.checked_div(args.rate).map_or(10, |ms| ms.max(1));
        let mut simulator = Simulator::new(mix, building, START_MS, step_ms, args.seed);
        while count.is_none_or(|count| sent < count)
            && args.duration.is_none_or(|limit| started.elapsed() < limit)
        {
            pace(sent);
            let (device, line) = simulator.next_action();
            output.send((Some(&device), None), &line)?;
            sent += 1;
            progress.inc(1);
        }
    }
    output.finish()?;
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "{sent} actions to {} in {elapsed:.3} s ({:.0}/s)",
        args.to,
        sent as f64 / elapsed.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
