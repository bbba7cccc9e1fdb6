//! `acteon lsp` driven over stdio as an editor drives it: initialize, didOpen, didChange,
//! definition, hover, completion, formatting; its diagnostics are those that
//! `acteon check --format json` prints for the same files.

#[path = "../../lsp/tests/support/client.rs"]
mod client;

use acteon_dsl::diagnostic::json::Report;
use client::{at, Client};
use lsp_types::notification::{DidChangeTextDocument, DidOpenTextDocument};
use lsp_types::Uri;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn uri(path: &Path) -> Uri {
    acteon_lsp::documents::path_to_uri(path)
}

fn lsp() -> Client {
    let mut command = Command::new(env!("CARGO_BIN_EXE_acteon"));
    command.arg("lsp");
    let mut client = Client::spawn(command);
    let init = client.initialize();
    assert_eq!(init.server_info.unwrap().name, "acteon");
    client
}

/// `acteon check --format json FILES`: one report per line.
fn check_json(files: &[PathBuf]) -> Vec<Report> {
    let out = Command::new(env!("CARGO_BIN_EXE_acteon"))
        .args(["check", "--format", "json"])
        .args(files)
        .output()
        .expect("acteon check runs");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON report per line"))
        .collect()
}

fn reports(diagnostics: &[lsp_types::Diagnostic]) -> Vec<Report> {
    diagnostics
        .iter()
        .map(|d| serde_json::from_value(d.data.clone().expect("the report")).unwrap())
        .collect()
}

#[test]
fn broken_scripts_get_the_diagnostics_check_prints() {
    let mut client = lsp();
    let dir = repo().join("dsl/tests/broken").canonicalize().unwrap();
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // Scripts in include relations are analysed from their root, not alone.
        if !name.ends_with(".acteon")
            || name.starts_with("include-")
            || name.starts_with("duplicate-")
        {
            continue;
        }
        let expected = check_json(std::slice::from_ref(&path));
        assert!(!expected.is_empty(), "{name} is broken");
        assert!(
            expected
                .iter()
                .all(|r| r.file == path.display().to_string()),
            "{name}"
        );
        let uri = uri(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        let published = client.change_and_wait::<DidOpenTextDocument>(at::open(&uri, &text), &uri);
        assert_eq!(reports(&published), expected, "{name}");
        for (diagnostic, report) in published.iter().zip(&expected) {
            assert_eq!(
                diagnostic.range.start.line as usize + 1,
                report.line,
                "{name}"
            );
            assert_eq!(
                diagnostic.range.start.character as usize + 1,
                report.column,
                "{name}"
            );
            let code = diagnostic.code.clone().unwrap();
            assert_eq!(code, lsp_types::NumberOrString::String(report.code.clone()));
        }
        compared += 1;
    }
    assert!(compared >= 25, "{compared} scripts");
    client.shutdown();
}

#[test]
fn an_editor_session_on_the_seed_pipeline() {
    // A copy of the seed, so an edit can be saved and checked by the command line too.
    let dir = tempfile::tempdir().unwrap();
    let seed = repo().join("pipelines/aws-event-pipeline");
    let mut scripts: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&seed).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let copy = dir.path().join(path.file_name().unwrap());
            std::fs::copy(&path, &copy).unwrap();
            if copy.extension().is_some_and(|e| e == "acteon") {
                scripts.push(copy.canonicalize().unwrap());
            }
        }
    }
    scripts.sort();
    let script = |name: &str| {
        let found = scripts.iter().find(|p| p.ends_with(name));
        found.expect("a seed script").clone()
    };
    let (routing_path, pipeline_path) = (script("routing.acteon"), script("pipeline.acteon"));
    let routing = uri(&routing_path);
    let text = std::fs::read_to_string(&routing_path).unwrap();

    let mut client = lsp();
    let opened = client.change_and_wait::<DidOpenTextDocument>(at::open(&routing, &text), &routing);
    assert!(opened.is_empty(), "{opened:?}");
    assert!(check_json(&scripts).is_empty());

    // An edit with two mistakes, as typed (unsaved), then the same text saved and checked.
    let edited = text
        .replace("then reroute event-bus", "then reroute event-buss")
        .replace(
            "when action_type == \"firmware_update\"",
            "when acton_type == \"firmware_update\"",
        );
    let changed =
        client.change_and_wait::<DidChangeTextDocument>(at::change(&routing, 2, &edited), &routing);
    std::fs::write(&routing_path, &edited).unwrap();
    let expected = check_json(&scripts);
    assert_eq!(expected.len(), 2, "{expected:?}");
    assert_eq!(reports(&changed), expected);

    // Definition: from `reroute alert-fanout` to the provider in pipeline.acteon.
    let position = at::position(&edited, "reroute alert-fanout", 0, 9);
    let location = client.definition(&routing, position).expect("a definition");
    let pipeline_text = std::fs::read_to_string(&pipeline_path).unwrap();
    assert_eq!(location.uri, uri(&pipeline_path));
    assert_eq!(
        location.range.start,
        at::position(&pipeline_text, "provider alert-fanout", 0, 9)
    );

    // Hover: the rule's verdict and priority.
    let shown = client.hover(&routing, at::position(&edited, "intrusion-alert", 0, 2));
    assert!(shown.contains("rule intrusion-alert priority 6"), "{shown}");
    assert!(
        shown.contains("**verdict**: `reroute alert-fanout`"),
        "{shown}"
    );

    // Completion after `payload.`: the fields of the seed's telemetry (its tests' input).
    let typing = format!("{edited}\nrule new-one priority 30\n  when payload.");
    client.change_and_wait::<DidChangeTextDocument>(at::change(&routing, 3, &typing), &routing);
    let end = at::position(&typing, "when payload.", 0, 13);
    let labels = client.completion(&routing, end);
    for field in ["device_id", "sensor_type", "value", "unit", "floor", "zone"] {
        assert!(labels.iter().any(|l| l == field), "{field}: {labels:?}");
    }

    // Formatting: `acteon fmt`'s layout for a messy but valid text.
    let messy = edited.replace(
        "rule intrusion-alert priority 6",
        "rule   intrusion-alert   priority 6",
    );
    client.change_and_wait::<DidChangeTextDocument>(at::change(&routing, 4, &messy), &routing);
    let edits = client.formatting(&routing);
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].new_text, edited);
    client.shutdown();
}
