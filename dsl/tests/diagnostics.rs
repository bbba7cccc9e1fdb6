//! Broken scripts and what `acteon check` says about them.
//!
//! Each script in `tests/broken/` starts with `# expect: CODE LINE:COL` lines (or
//! `# expect: CODE FILE:LINE:COL` for a diagnostic in an included file): exactly those
//! diagnostics must come out, and the full rendered text is kept as a snapshot.

use acteon_dsl::compile_file;
use acteon_dsl::diagnostic::json::Report;
use acteon_dsl::diagnostic::Code;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where a diagnostic points: code, file name, line, column.
type Position = (String, String, usize, usize);

fn expectations(path: &Path) -> Vec<Position> {
    let text = std::fs::read_to_string(path).expect("the case exists");
    let own = path.file_name().unwrap().to_string_lossy().to_string();
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| {
            let (code, at) = e.split_once(' ').expect("`CODE LINE:COL`");
            let parts: Vec<&str> = at.split(':').collect();
            let (file, line, col) = match parts.as_slice() {
                [line, col] => (own.clone(), line, col),
                [file, line, col] => (file.to_string(), line, col),
                _ => panic!("bad expectation `{e}`"),
            };
            (
                code.to_string(),
                file,
                line.parse().unwrap(),
                col.parse().unwrap(),
            )
        })
        .collect()
}

fn case(name: &str) {
    let path = PathBuf::from("tests/broken").join(format!("{name}.acteon"));
    let compiled = compile_file(&path);
    let mut actual: Vec<Position> = compiled
        .diagnostics
        .iter()
        .map(|d| {
            let source = compiled.program.sources.file(d.file);
            let (line, col) = source.line_col(d.span.start);
            let file = source
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            (d.code.as_str().to_string(), file, line, col)
        })
        .collect();
    let mut expected = expectations(&path);
    actual.sort();
    expected.sort();
    let rendered = compiled.render_diagnostics();
    assert_eq!(actual, expected, "{name}:\n{rendered}");
    insta::assert_snapshot!(name, rendered);
}

macro_rules! cases {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                case($name);
            }
        )*

        const CASES: &[&str] = &[$($name),*];
    };
}

cases! {
    syntax_error => "syntax-error",
    missing_priority => "missing-priority",
    include_missing => "include-missing",
    include_cycle => "include-cycle",
    unknown_provider => "unknown-provider",
    unknown_chain => "unknown-chain",
    unknown_step => "unknown-step",
    duplicate_names => "duplicate-names",
    duplicate_across_include => "duplicate-across-include",
    bad_field_path => "bad-field-path",
    unknown_table => "unknown-table",
    bad_table_key => "bad-table-key",
    unknown_row_field => "unknown-row-field",
    bad_table_file => "bad-table-file",
    bad_regex => "bad-regex",
    zero_duration => "zero-duration",
    zero_count => "zero-count",
    bad_cron => "bad-cron",
    step_cycle => "step-cycle",
    subchain_recursion => "subchain-recursion",
    fallback_cycle => "fallback-cycle",
    bad_template => "bad-template",
    unclosed_template => "unclosed-template",
    unknown_setting => "unknown-setting",
    missing_setting => "missing-setting",
    bad_setting_value => "bad-setting-value",
    kafka_provider => "kafka-provider",
    kafka_audit => "kafka-audit",
    bad_attribute => "bad-attribute",
    repeated => "repeated",
    unknown_outcome => "unknown-outcome",
    bad_test_input => "bad-test-input",
    unreachable_rule => "unreachable-rule",
    unreachable_modify => "unreachable-modify",
    many_errors => "many-errors",
}

#[test]
fn every_code_is_covered() {
    let covered: BTreeSet<String> = CASES
        .iter()
        .flat_map(|name| expectations(&PathBuf::from(format!("tests/broken/{name}.acteon"))))
        .map(|(code, ..)| code)
        .collect();
    let codes: BTreeSet<String> = Code::ALL.iter().map(|c| c.as_str().to_string()).collect();
    assert_eq!(covered, codes);
}

/// The JSON form of diagnostics with secondary spans and fixes: what `acteon check --format
/// json` prints and the language server publishes.
#[test]
fn multi_span_diagnostics_as_json() {
    for name in [
        "duplicate-across-include",
        "unknown-provider",
        "step-cycle",
        "include-cycle",
        "missing-priority",
    ] {
        let compiled = compile_file(format!("tests/broken/{name}.acteon"));
        let lines: Vec<String> = compiled
            .diagnostics
            .iter()
            .map(|d| {
                let report = Report::new(d, &compiled.program.sources);
                serde_json::to_string_pretty(&report).unwrap()
            })
            .collect();
        insta::assert_snapshot!(format!("json-{name}"), lines.join("\n"));
    }
}

#[test]
fn fixes_replace_the_near_name_and_insert_the_missing_priority() {
    let fixed = |name: &str| {
        let path = format!("tests/broken/{name}.acteon");
        let compiled = compile_file(&path);
        let mut text = std::fs::read_to_string(&path).unwrap();
        let fix = compiled.diagnostics[0].fix.clone().expect("a fix");
        for edit in fix.edits.iter().rev() {
            text.replace_range(edit.span.clone(), &edit.replacement);
        }
        text
    };
    assert!(fixed("unknown-provider").contains("then reroute alert-fanout\n"));
    assert!(fixed("unknown-table").contains("> devices[payload.device_id].max_temp ?? 85"));
    assert!(fixed("missing-priority").contains("rule hot-room priority 5 when"));
}

/// A diagnostic on a line of a megabyte prints a window of that line around the caret.
#[test]
fn a_diagnostic_on_a_1_mb_line_is_cut_around_the_caret() {
    let values: Vec<String> = (0..100_000).map(|i| format!("\"v{i:05}\"")).collect();
    let line = format!(
        "rule wide priority 1 when payload.v in [{}] then reroute alert-fanot # {}",
        values.join(", "),
        "x".repeat(300)
    );
    assert!(line.len() > 1_000_000);
    let text = format!("provider alert-fanout log\n{line}\n");
    let compiled = acteon_dsl::compile_str("wide.acteon", &text);
    assert_eq!(compiled.diagnostics.len(), 1);
    let rendered = compiled.render_diagnostics();
    assert!(rendered.len() < 2_000, "{} bytes", rendered.len());
    insta::assert_snapshot!("one-megabyte-line", rendered);
}

#[test]
fn many_errors_are_reported_in_one_run() {
    let compiled = compile_file("tests/broken/many-errors.acteon");
    assert!(compiled.diagnostics.len() >= 6);
    assert!(compiled.plan.is_none());
}

#[test]
fn the_seed_pipeline_checks_clean() {
    // The two roots: the other files are fragments that only make sense included.
    for root in ["pipeline.acteon", "expected-outcomes.acteon"] {
        let path = Path::new("../pipelines/aws-event-pipeline").join(root);
        let compiled = compile_file(&path);
        assert!(
            compiled.diagnostics.is_empty(),
            "{}:\n{}",
            path.display(),
            compiled.render_diagnostics()
        );
        assert!(compiled.plan.is_some(), "{root} lowers to a plan");
    }
}
