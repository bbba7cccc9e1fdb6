//! The end-to-end benchmark suite: the seed pipeline with dry-run providers from a file and from
//! Kafka, a paced run for decision latency, a dedup-heavy run with 1,000,000 live keys, a
//! group-heavy run, generated rule sets of 10, 100 and 1,000 rules, and the per-core cost of
//! decoding and evaluating. It prints a table and writes the figures as JSON.
//!
//! Each workload runs in its own process (this binary again, with `--workload NAME`), so the
//! peak memory it reports is its own.
//!
//! `scripts/bench.sh` starts the broker and runs it; or, with the broker up,
//! `cargo bench -p acteon-benches --bench suite -- [--only NAME,...] [--json PATH]`.
//! `ACTEON_BENCH_SCALE` (default 1) multiplies every workload's size.

use acteon_benches::evaluate::{decide, decoded, decoder};
use acteon_benches::http::{self, free_port, wrk, Load, ServerProcess};
use acteon_benches::kafka::{broker_is_up, compare, BROKER};
use acteon_benches::memory::{bytes_read_by, peak_rss_bytes, rss_bytes, rss_bytes_of};
use acteon_benches::paced::{quantile, PacedFeed, WrittenAt};
use acteon_benches::parse_only;
use acteon_benches::{plans, write_lines};
use acteon_dsl::plan::Plan;
use acteon_engine::action::Position;
use acteon_engine::chains::status::ChainStore;
use acteon_engine::eval::{Evaluator, Scratch};
use acteon_engine::tables::Tables;
use acteon_engine::{run, AuditOutput, Delivery, Input, RunConfig};
use acteon_kafka::simulator::{actions, Building, Mix, Simulator, START_MS};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator the `acteon` binary runs with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A workload: its name, what it shows, and its run (which returns one row per figure set).
struct Workload {
    name: &'static str,
    what: &'static str,
    run: fn(f64) -> Vec<Value>,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "per-core",
        what: "decode, and the compiled rules (seed; 10, 100, 1,000 generated), one thread",
        run: per_core,
    },
    Workload {
        name: "parse-only",
        what: "the data plane's limit: a typed parse of each line, one thread",
        run: parse_only,
    },
    Workload {
        name: "admission",
        what: "the seed pipeline as it is (its quota stops most actions), 1 and 2 workers",
        run: admission,
    },
    Workload {
        name: "full-path",
        what: "the seed pipeline, quota removed and throttle lifted, 1 and 2 workers",
        run: full_path,
    },
    Workload {
        name: "http",
        what: "acteon serve under wrk beside a bare server: seed without quota, full path, batches",
        run: http,
    },
    Workload {
        name: "table-join",
        what: "the full path with its critical temperature joined to a 100,000-row table (1,000 updates during the run), and without the join",
        run: table_join,
    },
    Workload {
        name: "table-memory",
        what: "the resident memory of a 1,000,000-row table",
        run: table_memory,
    },
    Workload {
        name: "memory-10m",
        what: "10,000,000 full-path actions through the acteon binary: its memory",
        run: memory_10m,
    },
    Workload {
        name: "replays",
        what: "a two-worker full-path run of 100,000 actions replayed (ACTEON_REPLAYS times, 5 by default): identical audits",
        run: replays,
    },
    Workload {
        name: "seed-latency",
        what: "the seed pipeline at 1,000 actions/s: ingest to audit",
        run: seed_latency,
    },
    Workload {
        name: "dedup-heavy",
        what: "1,000,000 distinct dedup keys live",
        run: dedup_heavy,
    },
    Workload {
        name: "group-heavy",
        what: "every reading grouped by device (30 s, max 20)",
        run: group_heavy,
    },
    Workload {
        name: "rules",
        what: "100 and 1,000 generated rules, end to end",
        run: rules,
    },
    Workload {
        name: "kafka",
        what: "the seed pipeline from Kafka beside a plain consumer",
        run: kafka,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let scale: f64 = std::env::var("ACTEON_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    if let Some(port) = value("--bare-server") {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port.parse().expect("a port")))
            .expect("the bare server's port");
        http::bare_server(listener);
        return;
    }
    if let Some(name) = value("--workload") {
        let workload = WORKLOADS
            .iter()
            .find(|w| w.name == name)
            .unwrap_or_else(|| panic!("no workload {name}"));
        for row in (workload.run)(scale) {
            println!("{row}");
        }
        return;
    }
    let only: Option<Vec<String>> =
        value("--only").map(|list| list.split(',').map(str::to_owned).collect());
    let json_path = value("--json").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-suite.json")
    });
    let chosen: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| only.as_ref().is_none_or(|o| o.iter().any(|n| n == w.name)))
        .collect();
    let progress = ProgressBar::new(chosen.len() as u64).with_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
            .expect("a template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    for workload in chosen {
        progress.set_message(format!("{}: {}", workload.name, workload.what));
        if workload.name == "kafka" && !broker_is_up() {
            progress.println(format!(
                "kafka: no broker on {BROKER}; start it with `scripts/services.sh up kafka` (scripts/bench.sh does)"
            ));
            progress.inc(1);
            continue;
        }
        let output = Command::new(std::env::current_exe().expect("this binary"))
            .args(["--workload", workload.name])
            .output()
            .expect("the workload runs");
        if !output.status.success() {
            progress.println(format!(
                "{} failed ({}):\n{}",
                workload.name,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Ok(row) = serde_json::from_str::<Value>(line) {
                rows.push(row);
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    // The data-plane rows as a share of the parse-only rate measured in this run.
    let parse_rate = rows
        .iter()
        .find(|r| r["workload"] == PARSE_ONLY)
        .and_then(|r| r["actions_per_s"].as_f64());
    for row in rows.iter_mut().filter(|r| r["share_of_parse"] == true) {
        if let (Some(parse), Some(rate)) = (parse_rate, row["actions_per_s"].as_f64()) {
            let share = rate / parse.max(1e-9);
            row["ratio_to_parse"] = json!(share);
            let notes = row["notes"].as_str().unwrap_or_default().to_owned();
            row["notes"] = json!(format!("{share:.3} of parse-only; {notes}"));
        }
    }
    print!("{}", table(&rows));
    println!(
        "suite: {:.0} s on {} cores (scale {scale})",
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let document =
        json!({ "scale": scale, "seconds": started.elapsed().as_secs_f64(), "rows": rows });
    match std::fs::write(&json_path, format!("{document:#}\n")) {
        Ok(()) => println!("figures: {}", json_path.display()),
        Err(error) => eprintln!("cannot write {}: {error}", json_path.display()),
    }
}

/// One row: what was measured, how many actions, their rate, and what else the workload knows.
fn row(name: &str, actions: u64, elapsed: Duration, extra: Value) -> Value {
    let mut row = json!({
        "workload": name,
        "actions": actions,
        "seconds": elapsed.as_secs_f64(),
        "actions_per_s": actions as f64 / elapsed.as_secs_f64().max(1e-9),
        "peak_rss_mib": peak_rss_bytes().map(|b| b as f64 / 1048576.0),
    });
    if let (Some(row), Value::Object(extra)) = (row.as_object_mut(), extra) {
        row.extend(extra);
    }
    row
}

fn table(rows: &[Value]) -> String {
    let mut out = format!(
        "{:<34} {:>10} {:>12} {:>8} {:>8} {:>9}  {}\n",
        "workload", "actions", "actions/s", "p50 ms", "p99 ms", "peak MiB", "notes"
    );
    out.push_str(&format!("{}\n", "-".repeat(100)));
    let number = |v: &Value, digits: usize| {
        v.as_f64()
            .map_or("-".to_owned(), |n| format!("{n:.digits$}"))
    };
    for row in rows {
        out.push_str(&format!(
            "{:<34} {:>10} {:>12} {:>8} {:>8} {:>9}  {}\n",
            row["workload"].as_str().unwrap_or("?"),
            row["actions"],
            number(&row["actions_per_s"], 0),
            number(&row["latency_p50_ms"], 1),
            number(&row["latency_p99_ms"], 1),
            number(&row["peak_rss_mib"], 0),
            row["notes"].as_str().unwrap_or("")
        ));
    }
    out
}

fn scaled(scale: f64, count: u64) -> u64 {
    ((count as f64 * scale) as u64).max(1)
}

/// Runs `plan` over `lines` written to a file, audit to a file, dry-run calls to a directory.
fn from_file(
    plan: &Plan,
    lines: impl IntoIterator<Item = String>,
    workers: usize,
) -> (u64, Duration) {
    from_file_with_tables(plan, lines, workers, Tables::new())
}

fn per_core(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 200_000);
    let lines = actions(count, Mix::SEED, 4, 10, 1);
    let decoder = decoder(&Evaluator::new(&plans::seed()));
    let started = Instant::now();
    for (i, line) in lines.iter().enumerate() {
        let position = Position::Line(i as u64);
        black_box(decoder.decode(line.as_bytes(), position, 0, None).ok());
    }
    let mut rows = vec![row(
        "decode (1 core)",
        count,
        started.elapsed(),
        json!({ "notes": "JSON line to action" }),
    )];
    let mut scratch = Scratch::default();
    let mut evaluate = |plan: &Plan| {
        let evaluator = Evaluator::new(plan);
        let mut actions = decoded(&lines, &evaluator);
        let started = Instant::now();
        for action in actions.iter_mut() {
            black_box(decide(&evaluator, action, &mut scratch));
        }
        started.elapsed()
    };
    let seed = evaluate(&plans::seed());
    rows.push(row(
        "evaluate seed rules (1 core)",
        count,
        seed,
        json!({ "notes": "decoded actions" }),
    ));
    let ten = evaluate(&plans::generated_rules(10));
    for n in [10, 100, 1000] {
        let elapsed = match n {
            10 => ten,
            _ => evaluate(&plans::generated_rules(n)),
        };
        let cost = elapsed.as_secs_f64() / ten.as_secs_f64().max(1e-9);
        rows.push(row(
            &format!("evaluate {n} rules (1 core)"),
            count,
            elapsed,
            json!({ "cost_vs_10_rules": cost, "notes": format!("{cost:.2}x the cost of 10 rules") }),
        ));
    }
    rows
}

/// The lines the data-plane workloads read: the seed's mix, every action of the seed's
/// tenant, event times 10 ms apart, unique ids.
fn plane_lines(count: u64) -> Vec<String> {
    actions(count, Mix::SEED, 1, 10, 4)
}

fn parse_only(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 1_000_000);
    let lines = plane_lines(count);
    let started = Instant::now();
    let parsed = black_box(parse_only::parse_all(&lines));
    let elapsed = started.elapsed();
    assert_eq!(parsed as u64, count, "every line parses");
    vec![row(
        PARSE_ONLY,
        count,
        elapsed,
        json!({ "notes": "serde_json into a struct: borrowed envelope, payload as a Value" }),
    )]
}

/// The parse-only row's name: the data-plane rows are shown as a share of its rate.
const PARSE_ONLY: &str = "parse-only (1 core)";

fn admission(scale: f64) -> Vec<Value> {
    plane(
        scale,
        &plans::seed(),
        "admission path",
        "decode, quota, audit file",
    )
}

fn full_path(scale: f64) -> Vec<Value> {
    plane(
        scale,
        &plans::full_path(),
        "full path",
        "decode, every rule, a 3-step chain, audit and dry-run files",
    )
}

fn plane(scale: f64, plan: &Plan, name: &str, notes: &str) -> Vec<Value> {
    let count = scaled(scale, 1_000_000);
    let lines = plane_lines(count);
    [1, 2]
        .into_iter()
        .map(|workers| {
            let (inputs, elapsed) = from_file(plan, lines.iter().cloned(), workers);
            row(
                &format!(
                    "{name} ({workers} worker{})",
                    if workers > 1 { "s" } else { "" }
                ),
                inputs,
                elapsed,
                json!({ "share_of_parse": true, "notes": notes }),
            )
        })
        .collect()
}

/// `count` rows of the devices table, `temp-sensor-0` up: the simulated devices are the first
/// 500 of them. Critical temperatures between 27 and 85 leave the decisions as they are.
fn device_rows(count: u64) -> impl Iterator<Item = String> {
    (0..count).map(|i| {
        json!({ "device_id": format!("temp-sensor-{i}"), "max_temp": 27 + i % 59, "floor": (i % 8).to_string() })
            .to_string()
    })
}

/// [`from_file`] with the run's tables given, so rows can be changed while it goes on.
fn from_file_with_tables(
    plan: &Plan,
    lines: impl IntoIterator<Item = String>,
    workers: usize,
    tables: Tables,
) -> (u64, Duration) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let input = dir.path().join("actions.jsonl");
    write_lines(&input, lines).expect("the input");
    // As `acteon run` runs a file: 1 s epochs, no status kept for ended chains.
    let report = run(
        plan,
        RunConfig {
            input: Input::File(input),
            workers,
            audit: AuditOutput::File(dir.path().join("audit.jsonl")),
            delivery: Delivery::DryRunDir(dir.path().join("dry-run")),
            epoch_ms: 1000,
            chains: ChainStore::running_only(),
            tables,
            ..RunConfig::default()
        },
    )
    .expect("the run");
    (report.inputs, report.elapsed)
}

/// 1,000,000 full-path actions with and without the join; with it, 1,000 rows of the devices
/// in use are replaced (as over the HTTP API, at processing time) spread over the time the run
/// without the join took.
fn table_join(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 1_000_000);
    let lines = plane_lines(count);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rows_path = dir.path().join("devices.jsonl");
    write_lines(&rows_path, device_rows(100_000)).expect("the rows");
    let without = plans::full_path_join(&dir.path().join("without"), None);
    let with = plans::full_path_join(&dir.path().join("with"), Some(&rows_path));
    let mut rows = Vec::new();
    for workers in [1, 2] {
        let (inputs, plain) = from_file(&without, lines.iter().cloned(), workers);
        let suffix = if workers > 1 { "s" } else { "" };
        rows.push(row(
            &format!("full path, no join ({workers} worker{suffix})"),
            inputs,
            plain,
            json!({ "notes": "the critical temperature fixed at 85" }),
        ));
        let tables = Tables::new();
        let ended = Arc::new(AtomicBool::new(false));
        let updater = {
            let (tables, ended) = (tables.clone(), Arc::clone(&ended));
            let gap = plain / 1000;
            std::thread::spawn(move || update_rows(&tables, 1000, gap, &ended))
        };
        let (inputs, joined) = from_file_with_tables(&with, lines.iter().cloned(), workers, tables);
        ended.store(true, Ordering::Relaxed);
        let sent = updater.join().expect("the updater");
        let ratio = (inputs as f64 / joined.as_secs_f64()) / (inputs as f64 / plain.as_secs_f64());
        rows.push(row(
            &format!("full path, joined ({workers} worker{suffix})"),
            inputs,
            joined,
            json!({
                "updates": sent,
                "rate_vs_no_join": ratio,
                "notes": format!("100,000 rows, {sent} updates during the run; {ratio:.3} of the rate without the join"),
            }),
        ));
    }
    rows
}

/// Replaces `count` rows of the devices in use, one every `gap`, once the run has opened the
/// table, until the run has `ended`. Returns how many were sent during the run.
fn update_rows(tables: &Tables, count: u64, gap: Duration, ended: &AtomicBool) -> u64 {
    let started = Instant::now();
    let store = loop {
        match tables.store("devices") {
            Some(store) => break store,
            None if started.elapsed() > Duration::from_secs(60) => return 0,
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    let mut sent = 0;
    for i in 0..count {
        if ended.load(Ordering::Relaxed) {
            break;
        }
        let device = format!("temp-sensor-{}", i * 7 % 500);
        let row = json!({ "device_id": device, "max_temp": 27 + i % 59 }).to_string();
        store.send(
            device.into(),
            Some(row),
            acteon_engine::time::wall_clock_ms(),
        );
        sent += 1;
        std::thread::sleep(gap);
    }
    sent
}

/// The resident memory a table's rows take: the peak resident set of a run over 1,000 actions
/// with a 1,000,000-row table, less that of the same run with a 1-row table (run first, in the
/// same process).
fn table_memory(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 1_000_000);
    let lines = plane_lines(1000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut peaks = Vec::new();
    for (name, rows) in [("one", 1), ("many", count)] {
        let path = dir.path().join(format!("{name}.jsonl"));
        write_lines(&path, device_rows(rows)).expect("the rows");
        let plan = plans::full_path_join(&dir.path().join(name), Some(&path));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let sampling = Arc::clone(&sampling);
            std::thread::spawn(move || {
                let mut peak = 0;
                while sampling.load(Ordering::Relaxed) {
                    peak = peak.max(rss_bytes().unwrap_or(0));
                    std::thread::sleep(Duration::from_millis(5));
                }
                peak
            })
        };
        let started = Instant::now();
        from_file(&plan, lines.iter().cloned(), 1);
        let elapsed = started.elapsed();
        sampling.store(false, Ordering::Relaxed);
        peaks.push((sampler.join().expect("the sampler"), elapsed));
    }
    let per_row = peaks[1].0.saturating_sub(peaks[0].0) as f64 / count as f64;
    vec![row(
        "table memory",
        1000,
        peaks[1].1,
        json!({
            "rows": count,
            "bytes_per_row": per_row,
            "notes": format!("{per_row:.0} bytes per row resident at the peak (the file read, the latest rows, the arrangement)"),
        }),
    )]
}

/// 10,000,000 full-path actions, written to a file first, through the `acteon` binary in its own
/// process with its audit and dry-run calls discarded: its resident memory sampled as it goes,
/// against how far it has read.
fn memory_10m(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 10_000_000);
    let binary = acteon_binary();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = plans::write_full_path(dir.path()).expect("the scripts");
    let input = dir.path().join("actions.jsonl");
    let mut simulator = Simulator::new(Mix::SEED, Building::default(), START_MS, 10, 4);
    write_lines(&input, (0..count).map(|_| simulator.next_action().1)).expect("the input");
    let size = std::fs::metadata(&input).map_or(1, |m| m.len()).max(1);
    let workers = 2;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .arg("run")
        .arg(&script)
        .arg("--input")
        .arg(&input)
        .args([
            "--audit",
            "/dev/null",
            "--dry-run",
            "/dev/null",
            "--workers",
            "2",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    // (share of the input read, resident bytes): every worker reads the whole file.
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            break status;
        }
        let pid = child.id();
        if let (Some(read), Some(rss)) = (bytes_read_by(pid), rss_bytes_of(pid)) {
            samples.push((read as f64 / (size * workers) as f64, rss));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = started.elapsed();
    assert!(status.success(), "the run failed: {status}");
    let at = |share: f64| {
        samples
            .iter()
            .find(|(read, _)| *read >= share)
            .or(samples.last())
            .map_or(0, |(_, rss)| *rss)
    };
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    let (early, late) = (at(0.2), samples.last().map_or(0, |(_, rss)| *rss));
    let peak = samples.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
    let growth = (late as f64 - early as f64) / early.max(1) as f64;
    let mut result = row(
        "full path, 10M through the binary (2 workers)",
        count,
        elapsed,
        json!({
            "rss_after_20_percent_mib": mib(early),
            "rss_at_end_mib": mib(late),
            "rss_growth": growth,
            "notes": format!(
                "RSS {:.0} MiB after 2M, {:.0} MiB after 10M ({:+.1}%); audit and calls discarded",
                mib(early), mib(late), growth * 100.0
            ),
        }),
    );
    result["peak_rss_mib"] = json!(mib(peak));
    vec![result]
}

/// The same two-worker full-path run of the binary over the same file, again and again: how
/// many audits are byte-identical to the first (`scripts/replays.sh 50` runs it 50 times).
fn replays(scale: f64) -> Vec<Value> {
    let runs: usize = std::env::var("ACTEON_REPLAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(2);
    let count = scaled(scale, 100_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = plans::write_full_path(dir.path()).expect("the scripts");
    let input = dir.path().join("actions.jsonl");
    let mut simulator = Simulator::new(Mix::SEED, Building::default(), START_MS, 10, 7);
    write_lines(&input, (0..count).map(|_| simulator.next_action().1)).expect("the input");
    let audit = dir.path().join("audit.jsonl");
    let run_once = || {
        let status = Command::new(acteon_binary())
            .arg("run")
            .arg(&script)
            .arg("--input")
            .arg(&input)
            .arg("--audit")
            .arg(&audit)
            .args(["--dry-run", "/dev/null", "--workers", "2"])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the binary runs");
        assert!(status.success(), "the run failed: {status}");
        std::fs::read(&audit).expect("the audit")
    };
    let started = Instant::now();
    let first = run_once();
    let differing: Vec<usize> = (1..runs).filter(|_| run_once() != first).collect();
    let elapsed = started.elapsed();
    vec![row(
        "replays: full path, 2 workers",
        count * runs as u64,
        elapsed,
        json!({
            "runs": runs,
            "identical": runs - differing.len(),
            "notes": format!(
                "{} of {runs} audits byte-identical to the first ({} MB each)",
                runs - differing.len(),
                first.len() / 1_000_000
            ),
        }),
    )]
}

/// The release `acteon` binary beside this one (`scripts/bench.sh` builds it first).
fn acteon_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("acteon")))
        .filter(|path| path.exists())
        .expect("the acteon binary beside the suite (scripts/bench.sh builds it)")
}

/// `acteon serve` and, first, the bare server, each under the same wrk load (2 threads, 64
/// keep-alive connections unless said): dispatches/s as a share of the bare server's.
fn http(scale: f64) -> Vec<Value> {
    let seconds = ((10.0 * scale).round() as u64).max(3);
    let port = free_port();
    let mut bare = Command::new(std::env::current_exe().expect("this binary"));
    bare.args(["--bare-server", &port.to_string()]);
    let bare = ServerProcess::start(bare, port);
    let limit = wrk(bare.address, 64, seconds, None);
    // The same server under 1,000 connections: the latency the load generator and the machine
    // allow there, beside which the served row's is read.
    let crowded = wrk(bare.address, 1000, seconds, None);
    drop(bare);
    let counts = |load: &Load| load.requests_per_s >= 80_000.0;
    let mut rows = vec![http_row(
        "http: bare server (the limit)",
        &limit,
        &limit,
        1,
        seconds,
        if counts(&limit) {
            "parses each body, answers a fixed decision".to_owned()
        } else {
            "under 80,000/s: the load generator is the limit, the run does not count".to_owned()
        },
    )];
    rows.push(http_row(
        "http: bare server, 1,000 conns",
        &crowded,
        &limit,
        1,
        seconds,
        "the limit's latency with 1,000 connections".to_owned(),
    ));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let quota_free = dir.path().join("without-quota");
    let full = dir.path().join("full-path");
    std::fs::create_dir_all(&quota_free).expect("a directory");
    std::fs::create_dir_all(&full).expect("a directory");
    let quota_free = plans::write_without_quota(&quota_free).expect("the scripts");
    let full = plans::write_full_path(&full).expect("the scripts");
    // (row, script, workers, connections, actions per request)
    let cases = [
        ("http: seed without quota, 2w", &quota_free, 2, 64, None),
        ("http: full path, 1w", &full, 1, 64, None),
        ("http: full path, 2w", &full, 2, 64, None),
        (
            "http: seed without quota, 2w, batches of 100",
            &quota_free,
            2,
            64,
            Some(100),
        ),
        (
            "http: full path, 2w, batches of 100",
            &full,
            2,
            64,
            Some(100),
        ),
        (
            "http: seed without quota, 2w, 1,000 conns",
            &quota_free,
            2,
            1000,
            None,
        ),
    ];
    for (name, script, workers, connections, batch) in cases {
        let port = free_port();
        let out = dir.path().join(format!("run-{port}"));
        let mut serve = Command::new(acteon_binary());
        serve
            .arg("serve")
            .arg(script)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--workers", &workers.to_string(), "--watch-interval", "0s"])
            .arg("--no-source")
            .arg("--audit")
            .arg(out.join("audit.jsonl"))
            .arg("--dry-run")
            .arg(out.join("dry-run"));
        std::fs::create_dir_all(&out).expect("a directory");
        let server = ServerProcess::start(serve, port);
        let load = wrk(server.address, connections, seconds, batch);
        let rss = rss_bytes_of(server.pid()).map_or(0.0, |b| b as f64 / 1048576.0);
        drop(server);
        let per_request = batch.unwrap_or(1);
        let mut row = http_row(
            name,
            &load,
            &limit,
            per_request,
            seconds,
            format!("{connections} connections, {workers} worker(s)"),
        );
        row["peak_rss_mib"] = json!(rss);
        rows.push(row);
    }
    rows
}

/// One HTTP row: actions/s (requests/s times actions per request), their share of the bare
/// server's dispatches/s, wrk's latencies and errors.
fn http_row(
    name: &str,
    load: &Load,
    limit: &Load,
    per_request: usize,
    seconds: u64,
    notes: String,
) -> Value {
    let rate = load.requests_per_s * per_request as f64;
    let share = rate / limit.requests_per_s.max(1e-9);
    let actions = (rate * seconds as f64) as u64;
    row(
        name,
        actions,
        Duration::from_secs(seconds),
        json!({
            "ratio_to_bare": share,
            "latency_p50_ms": load.p50_ms,
            "latency_p99_ms": load.p99_ms,
            "errors": load.errors,
            "notes": format!("{share:.2} of bare; {} errors; {notes}", load.errors),
        }),
    )
}

fn seed_latency(scale: f64) -> Vec<Value> {
    // Event time advances 1 ms per action, as fast as the wall clock at 1,000 actions/s, so
    // windows close as they would live.
    let count = scaled(scale, 10_000);
    let mut simulator = Simulator::new(Mix::SEED, Building::default(), START_MS, 1, 6);
    let lines: Vec<String> = (0..count).map(|_| simulator.next_action().1).collect();
    let ids: Vec<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["id"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let feed = Arc::new(PacedFeed::new(lines, 1000));
    let written = Arc::new(WrittenAt::default());
    let report = run(
        &plans::seed(),
        RunConfig {
            input: Input::Feed(feed.clone()),
            audit: AuditOutput::Sink(written.clone()),
            delivery: Delivery::DryRunMemory,
            ..RunConfig::default()
        },
    )
    .expect("the run");
    let mut latencies: Vec<Duration> = feed
        .sent()
        .iter()
        .zip(&ids)
        .filter_map(|(sent, id)| Some(written.of(id)?.saturating_duration_since((*sent)?)))
        .collect();
    let measured = latencies.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p99) = (
        quantile(&mut latencies, 0.5),
        quantile(&mut latencies, 0.99),
    );
    vec![row(
        "seed paced 1,000/s (latency)",
        report.inputs,
        report.elapsed,
        json!({
            "latency_p50_ms": ms(p50), "latency_p99_ms": ms(p99),
            "notes": format!("ingest to first audit record, {measured} actions, 100 ms epochs"),
        }),
    )]
}

fn dedup_heavy(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 1_000_000);
    let before = rss_bytes().unwrap_or(0);
    let (inputs, elapsed) = from_file(&plans::dedup_heavy(), plans::distinct_keys(count), 1);
    let grown = peak_rss_bytes().unwrap_or(0).saturating_sub(before);
    let per_key = grown as f64 / count as f64;
    vec![row(
        "dedup-heavy (1 worker)",
        inputs,
        elapsed,
        json!({ "rss_bytes_per_live_key": per_key,
                "notes": format!("{count} keys live; peak RSS growth {per_key:.0} B/key") }),
    )]
}

fn group_heavy(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 300_000);
    let (inputs, elapsed) = from_file(
        &plans::group_heavy(),
        actions(count, Mix::SEED, 1, 10, 7),
        1,
    );
    vec![row(
        "group-heavy (1 worker)",
        inputs,
        elapsed,
        json!({ "notes": "readings grouped per device, batches to a dry-run provider" }),
    )]
}

fn rules(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 200_000);
    [10, 100, 1000]
        .into_iter()
        .map(|n| {
            let (inputs, elapsed) = from_file(
                &plans::generated_rules(n),
                actions(count, Mix::SEED, 1, 10, 8),
                1,
            );
            row(
                &format!("{n} rules, file -> audit (1 worker)"),
                inputs,
                elapsed,
                json!({ "notes": "generated rules, most actions pass every one" }),
            )
        })
        .collect()
}

fn kafka(scale: f64) -> Vec<Value> {
    let count = scaled(scale, 300_000);
    let figures = compare(count, 3, 1);
    let plain = Duration::from_secs_f64(count as f64 / figures.plain_per_s.max(1e-9));
    let pipeline = Duration::from_secs_f64(count as f64 / figures.pipeline_per_s.max(1e-9));
    vec![
        row(
            "kafka plain consumer",
            count,
            plain,
            json!({ "notes": "3 partitions, no processing" }),
        ),
        row(
            "kafka -> seed pipeline -> audit",
            count,
            pipeline,
            json!({ "ratio_to_plain": figures.ratio(),
                    "notes": format!("{:.2} of the plain consumer's rate", figures.ratio()) }),
        ),
    ]
}
