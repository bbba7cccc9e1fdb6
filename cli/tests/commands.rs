//! The `acteon` binary, run as a user runs it: exit codes, what goes to stdout and stderr, the
//! files it writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn seed(file: &str) -> PathBuf {
    repo().join("pipelines/aws-event-pipeline").join(file)
}

fn acteon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acteon"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the acteon binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn seed_files() -> Vec<String> {
    [
        "pipeline",
        "safety",
        "processing",
        "routing",
        "expected-outcomes",
    ]
    .iter()
    .map(|f| format!("pipelines/aws-event-pipeline/{f}.acteon"))
    .collect()
}

#[test]
fn every_command_has_help() {
    for command in ["check", "fmt", "explain", "import", "test", "run", "lsp"] {
        let out = acteon(&[command, "--help"]);
        assert!(out.status.success(), "{command} --help");
        assert!(text(&out.stdout).contains("Usage: acteon"), "{command}");
    }
    assert!(acteon(&["--help"]).status.success());
}

#[test]
fn the_seed_pipeline_checks_clean() {
    let files = seed_files();
    let mut args = vec!["check", "--deny-warnings"];
    args.extend(files.iter().map(String::as_str));
    let out = acteon(&args);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("checked 1 script (5 files): 0 errors, 0 warnings"),
        "{stderr}"
    );
}

#[test]
fn check_reports_every_error_with_a_caret_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("broken.acteon");
    std::fs::write(
        &script,
        "provider alert-fanout log\n\
         rule a priority 1\n  then reroute alert-fanot\n\
         rule b priority 2\n  when payload.x matches /(/\n  then suppress\n",
    )
    .unwrap();
    let out = acteon(&["check", script.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(":3:16: error[E0101]: unknown provider `alert-fanot`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `alert-fanout`?"), "{stderr}");
    assert!(stderr.contains("error[E0201]"), "{stderr}");
    assert!(stderr.contains("^^^^^^^^^^^"), "{stderr}");
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("shadowed.acteon");
    std::fs::write(
        &script,
        "rule all priority 1\n  then suppress\nrule never priority 2\n  when tenant == \"t\"\n  then deny\n",
    )
    .unwrap();
    let path = script.to_str().unwrap();
    let out = acteon(&["check", path]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("warning[W0001]"));
    assert_eq!(
        acteon(&["check", "--deny-warnings", path]).status.code(),
        Some(1)
    );
}

#[test]
fn explain_prints_the_evaluation_order_and_the_graphs() {
    let pipeline = seed("pipeline.acteon");
    let pipeline = pipeline.to_str().unwrap();
    let out = acteon(&["explain", pipeline]);
    assert!(out.status.success());
    let table = text(&out.stdout);
    let order = [
        "suppress-test-devices",
        "deny-unsigned-firmware",
        "dedup-sensor-readings",
        "throttle-telemetry",
        "group-humidity-readings",
        "schedule-energy-reports",
        "critical-temperature-alert",
        "intrusion-alert",
        "chain-sensor-readings",
        "lifecycle-to-eventbridge",
        "firmware-to-sqs",
        "enrich-telemetry-metadata",
        "allow-remaining",
        "deny-unmatched",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|rule| {
            table
                .find(&format!("| {rule} "))
                .unwrap_or_else(|| panic!("{rule}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{table}");
    assert!(table.contains("safety.acteon:5"), "{table}");

    let json = acteon(&["explain", pipeline, "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(plan["rules"].as_array().unwrap().len(), 14);
    let dot = text(&acteon(&["explain", pipeline, "--format", "dot"]).stdout);
    assert!(dot.starts_with("digraph acteon {") && dot.contains("cluster_chain_critical_alert"));
    let mermaid = text(&acteon(&["explain", pipeline, "--format", "mermaid"]).stdout);
    assert!(mermaid.starts_with("flowchart LR") && mermaid.contains("-->|\"run\"|"));
}

#[test]
fn fmt_check_passes_on_the_seed_and_fmt_rewrites_a_messy_script() {
    let files = seed_files();
    let mut args = vec!["fmt", "--check"];
    args.extend(files.iter().map(String::as_str));
    assert!(acteon(&args).status.success());

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("messy.acteon");
    std::fs::write(
        &script,
        "rule   a priority 1 when tenant==\"t\"   then suppress",
    )
    .unwrap();
    let path = script.to_str().unwrap();
    assert_eq!(acteon(&["fmt", "--check", path]).status.code(), Some(1));
    assert!(acteon(&["fmt", path]).status.success());
    assert!(acteon(&["fmt", "--check", path]).status.success());
    let formatted = std::fs::read_to_string(&script).unwrap();
    assert_eq!(
        formatted,
        "rule a priority 1\n  when tenant == \"t\"\n  then suppress\n"
    );
}

#[test]
fn import_writes_a_script_that_checks() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("imported.acteon");
    let out = acteon(&[
        "import",
        "--config",
        "pipelines/aws-event-pipeline/reference/acteon.toml",
        "--rules",
        "pipelines/aws-event-pipeline/reference/rules",
        "-o",
        output.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not converted: [server]"));
    let check = acteon(&["check", output.to_str().unwrap()]);
    assert!(check.status.success(), "{}", text(&check.stderr));
}

#[test]
fn test_runs_the_seed_expected_outcomes() {
    let out = acteon(&[
        "test",
        "pipelines/aws-event-pipeline/expected-outcomes.acteon",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("test seed expected outcomes ... ok"),
        "{stdout}"
    );
    assert!(stdout.contains("tests: 1 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_failing_script_test_says_what_differed() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("failing.acteon");
    std::fs::write(
        &script,
        "rule drop priority 1\n  then suppress\n\
         test \"wrong\" {\n  action { \"id\": \"a\", \"namespace\": \"n\", \"tenant\": \"t\", \"action_type\": \"x\" }\n  expect \"a\" denied\n}\n",
    )
    .unwrap();
    let out = acteon(&["test", script.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("test wrong ... FAILED"), "{stdout}");
    assert!(stdout.contains("suppressed"), "{stdout}");
}

#[test]
fn run_writes_the_audit_the_dry_run_calls_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let calls = dir.path().join("calls");
    let out = acteon(&[
        "run",
        "pipelines/aws-event-pipeline/pipeline.acteon",
        "--input",
        "pipelines/aws-event-pipeline/telemetry.jsonl",
        "--dry-run",
        calls.to_str().unwrap(),
        "--audit",
        audit.to_str().unwrap(),
        "--report",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("smartbuilding-hq") && report.contains("group_flushed"),
        "{report}"
    );
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |outcome: &str| records.iter().filter(|r| r["outcome"] == outcome).count();
    // 21 decisions, 2 resumed schedules, 2 group batches, and 9 chains of 3 steps each
    // (normalize, detect-anomaly, then archive-metrics: dry-run answers carry no anomaly).
    assert_eq!(count("chain_started"), 9);
    assert_eq!(count("chain_step_completed"), 27);
    assert_eq!(count("chain_completed"), 9);
    assert_eq!(count("group_flushed"), 2);
    assert_eq!(records.len(), 21 + 2 + 2 + 27 + 9);
    let alerts = std::fs::read_to_string(calls.join("alert-fanout.jsonl")).unwrap();
    assert_eq!(alerts.lines().count(), 4);
}

#[test]
fn run_rejects_bad_lines_into_the_audit_and_the_dead_letter_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.jsonl");
    std::fs::write(
        &input,
        "{\"namespace\":\"iot\",\"tenant\":\"smartbuilding-hq\",\"action_type\":\"device_lifecycle\",\"provider\":\"event-bus\"}\n\
         not json\n\
         [1,2]\n\
         {\"namespace\":\"iot\",\"tenant\":\"smartbuilding-hq\"}\n",
    )
    .unwrap();
    let audit = dir.path().join("audit.jsonl");
    let dead = dir.path().join("dead.jsonl");
    let out = acteon(&[
        "run",
        "pipelines/aws-event-pipeline/pipeline.acteon",
        "--input",
        input.to_str().unwrap(),
        "--dry-run",
        dir.path().join("calls").to_str().unwrap(),
        "--audit",
        audit.to_str().unwrap(),
        "--dead-letter",
        dead.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(audit.lines().count(), 4);
    assert_eq!(audit.matches("\"outcome\":\"rejected\"").count(), 3);
    assert_eq!(std::fs::read_to_string(&dead).unwrap().lines().count(), 3);
}

#[test]
fn run_without_a_usable_source_or_audit_says_what_to_give() {
    // A script that says neither where its actions come from nor which file the audit goes to.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bare.acteon");
    std::fs::write(
        &script,
        "scope namespace \"n\" tenant \"t\"\naudit { sink = file }\n\
         rule everything priority 1\n  when action_type exists\n  then allow\n",
    )
    .unwrap();
    let script = script.to_str().unwrap();
    let out = acteon(&["run", script]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("give --audit PATH"),
        "{}",
        text(&out.stderr)
    );
    let audit = dir.path().join("audit.jsonl");
    let out = acteon(&["run", script, "--audit", audit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--input PATH"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_format_json_prints_one_report_per_diagnostic() {
    let out = acteon(&[
        "check",
        "--format",
        "json",
        "dsl/tests/broken/duplicate-across-include.acteon",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let reports: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(reports.len(), 1, "{stdout}");
    let report = &reports[0];
    assert_eq!(report["code"], "E0104");
    assert_eq!(report["severity"], "error");
    assert_eq!(report["line"], 3);
    let spans = report["spans"].as_array().unwrap();
    assert_eq!(spans[0]["label"], "declared again here");
    assert_eq!(spans[1]["label"], "first declared here");
    assert_eq!(
        spans[1]["file"],
        "dsl/tests/broken/duplicate-included.acteon"
    );
    // The text form keeps its header line and adds the location line beneath.
    let plain =
        text(&acteon(&["check", "dsl/tests/broken/duplicate-across-include.acteon"]).stderr);
    assert!(plain.starts_with(
        "dsl/tests/broken/duplicate-across-include.acteon:3:10: error[E0104]: provider `alerts` is declared twice\n --> dsl/tests/broken/duplicate-across-include.acteon:3:10\n"
    ), "{plain}");
    assert!(
        !plain.contains('\x1b'),
        "no colour when stderr is not a terminal"
    );
}

#[test]
fn explain_code_has_an_entry_for_every_code() {
    for code in acteon_dsl::diagnostic::Code::ALL {
        let out = acteon(&["explain", "--code", code.as_str()]);
        assert!(out.status.success(), "{}", code.as_str());
        let shown = text(&out.stdout);
        assert!(
            shown.starts_with(&format!("# {}: ", code.as_str())),
            "{shown}"
        );
        assert!(
            shown.contains("```acteon"),
            "{} has an example",
            code.as_str()
        );
    }
    let unknown = acteon(&["explain", "--code", "E9999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no diagnostic code `E9999`"));
}
