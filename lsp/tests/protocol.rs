//! The language server driven as an editor drives it (in process; `cli/tests/lsp.rs` drives the
//! `acteon lsp` binary over stdio): open, change, definition, references, hover, completion,
//! formatting and code actions, on the seed pipeline and on broken scripts.

mod support;

use acteon_dsl::diagnostic::json::Report;
use acteon_lsp::documents::path_to_uri;
use acteon_lsp::Options;
use lsp_types::notification::{DidChangeTextDocument, DidOpenTextDocument};
use lsp_types::request::{CodeActionRequest, References};
use lsp_types::{
    CodeActionContext, CodeActionOrCommand, CodeActionParams, Range, ReferenceContext,
    ReferenceParams, TextDocumentIdentifier, Uri,
};
use std::path::{Path, PathBuf};
use support::client::{at, Client};

const SEED: &str = "../pipelines/aws-event-pipeline";

fn start(options: Options) -> Client {
    let (server, client) = lsp_server::Connection::memory();
    std::thread::spawn(move || acteon_lsp::serve(server, options));
    let mut client = Client::in_process(client);
    let init = client.initialize();
    assert!(init.capabilities.definition_provider.is_some());
    client
}

fn seed(file: &str) -> (Uri, String, PathBuf) {
    let path = Path::new(SEED).join(file).canonicalize().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    (path_to_uri(&path), text, path)
}

#[test]
fn the_seed_checks_clean_and_reroute_leads_to_its_provider() {
    let mut client = start(Options::default());
    let (routing, text, _) = seed("routing.acteon");
    let diagnostics =
        client.change_and_wait::<DidOpenTextDocument>(at::open(&routing, &text), &routing);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");

    // `reroute alert-fanout` in routing.acteon: the provider is declared in pipeline.acteon,
    // which includes routing.acteon.
    let position = at::position(&text, "reroute alert-fanout", 0, "reroute al".len() as u32);
    let location = client.definition(&routing, position).expect("a definition");
    let (pipeline, pipeline_text, _) = seed("pipeline.acteon");
    assert_eq!(location.uri, pipeline);
    assert_eq!(
        location.range.start,
        at::position(
            &pipeline_text,
            "provider alert-fanout",
            0,
            "provider ".len() as u32
        )
    );

    // Hover over a rule: its verdict, priority and scope.
    let rule = at::position(&text, "critical-temperature-alert", 0, 3);
    let shown = client.hover(&routing, rule);
    assert!(
        shown.contains("rule critical-temperature-alert priority 5"),
        "{shown}"
    );
    assert!(
        shown.contains("`reroute alert-fanout`: ends evaluation, `rerouted`"),
        "{shown}"
    );
    assert!(
        shown.contains("namespace \"iot\", tenant \"smartbuilding-hq\""),
        "{shown}"
    );

    // Hover over a provider: its type and settings.
    let shown = client.hover(&routing, position);
    assert!(shown.contains("provider alert-fanout aws-sns"), "{shown}");
    assert!(shown.contains("topic_arn = \"arn:aws:sns:"), "{shown}");
    assert!(
        shown.contains("fallback = local-fallback"),
        "the breaker: {shown}"
    );

    // Hover over a chain: its timeout and its steps, in order.
    let chain = at::position(
        &text,
        "chain telemetry-processing",
        0,
        "chain te".len() as u32,
    );
    let shown = client.hover(&routing, chain);
    assert!(
        shown.contains("chain telemetry-processing timeout 300s"),
        "{shown}"
    );
    let first = "1. `normalize: call telemetry-normalizer invoke, if ... then detect-anomaly`";
    assert!(shown.contains(first), "{shown}");
    assert!(
        shown.contains("3. `publish-event: run critical-alert`"),
        "{shown}"
    );
    client.shutdown();
}

#[test]
fn find_references_on_a_provider_lists_its_uses() {
    let mut client = start(Options::default());
    let (pipeline, text, _) = seed("pipeline.acteon");
    client.change_and_wait::<DidOpenTextDocument>(at::open(&pipeline, &text), &pipeline);
    let position = at::position(
        &text,
        "provider alert-fanout",
        0,
        "provider al".len() as u32,
    );
    let references = client
        .request::<References>(ReferenceParams {
            text_document_position: at::point(&pipeline, position),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
            context: ReferenceContext {
                include_declaration: false,
            },
        })
        .expect("references");
    let mut places: Vec<(String, u32)> = references
        .iter()
        .map(|l| {
            let file = l.uri.as_str().rsplit('/').next().unwrap().to_string();
            (file, l.range.start.line + 1)
        })
        .collect();
    places.sort();
    let (_, routing_text, _) = seed("routing.acteon");
    let line_of =
        |text: &str, needle: &str, nth: usize| at::position(text, needle, nth, 0).line + 1;
    // Two reroutes, the critical alert's first step, its breaker, and the seed's tests.
    let (_, tests_text, _) = seed("expected-outcomes.acteon");
    let mut expected = vec![
        (
            "routing.acteon".to_string(),
            line_of(&routing_text, "reroute alert-fanout", 0),
        ),
        (
            "routing.acteon".to_string(),
            line_of(&routing_text, "reroute alert-fanout", 1),
        ),
        (
            "pipeline.acteon".to_string(),
            line_of(&text, "call alert-fanout", 0),
        ),
        (
            "pipeline.acteon".to_string(),
            line_of(&text, "breaker alert-fanout", 0),
        ),
    ];
    for nth in 0..5 {
        expected.push((
            "expected-outcomes.acteon".to_string(),
            line_of(&tests_text, "alert-fanout", nth),
        ));
    }
    expected.sort();
    assert_eq!(places, expected);
    client.shutdown();
}

#[test]
fn completion_after_payload_offers_the_fields_of_the_tests_and_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample.jsonl");
    std::fs::write(
        &sample,
        "{\"payload\": {\"battery_level\": 81, \"reading\": {\"unit\": \"celsius\"}}}\nnot json\n",
    )
    .unwrap();
    let mut client = start(Options {
        sample: Some(sample),
        ..Options::default()
    });
    let (routing, text, _) = seed("routing.acteon");
    client.change_and_wait::<DidOpenTextDocument>(at::open(&routing, &text), &routing);
    // Typing a new rule: the document no longer parses while its condition is half written.
    let typed = format!("{text}\nrule new-one priority 30\n  when payload.");
    let diagnostics =
        client.change_and_wait::<DidChangeTextDocument>(at::change(&routing, 2, &typed), &routing);
    assert_eq!(diagnostics.len(), 1, "a syntax error: {diagnostics:?}");
    let end = at::position(&typed, "when payload.", 0, "when payload.".len() as u32);
    let labels = client.completion(&routing, end);
    // From the seed's telemetry (its tests' input file) and from the sample.
    for field in [
        "device_id",
        "sensor_type",
        "value",
        "zone",
        "battery_level",
        "reading",
    ] {
        assert!(labels.contains(&field.to_string()), "{field}: {labels:?}");
    }
    let deeper = format!("{text}\nrule new-one priority 30\n  when payload.reading.");
    client.change_and_wait::<DidChangeTextDocument>(at::change(&routing, 3, &deeper), &routing);
    let end = at::position(
        &deeper,
        "payload.reading.",
        0,
        "payload.reading.".len() as u32,
    );
    assert_eq!(client.completion(&routing, end), ["unit"]);

    // Names and settings.
    let reroute = format!("{text}\nrule new-one priority 30\n  then reroute ");
    client.change_and_wait::<DidChangeTextDocument>(at::change(&routing, 4, &reroute), &routing);
    let end = at::position(&reroute, "then reroute ", 1, "then reroute ".len() as u32);
    let labels = client.completion(&routing, end);
    assert!(labels.contains(&"alert-fanout".to_string()), "{labels:?}");
    assert!(labels.contains(&"metrics-queue".to_string()), "{labels:?}");
    client.shutdown();
}

#[test]
fn a_broken_script_gets_the_checks_diagnostics_and_the_did_you_mean_fix() {
    let mut client = start(Options::default());
    let path = Path::new("../dsl/tests/broken/unknown-provider.acteon")
        .canonicalize()
        .unwrap();
    let uri = path_to_uri(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    let diagnostics = client.change_and_wait::<DidOpenTextDocument>(at::open(&uri, &text), &uri);

    // Exactly the reports `acteon check --format json` prints for the file.
    let compiled = acteon_dsl::compile_file(&path);
    let reports: Vec<Report> = compiled
        .diagnostics
        .iter()
        .map(|d| Report::new(d, &compiled.program.sources))
        .collect();
    let published: Vec<Report> = diagnostics
        .iter()
        .map(|d| serde_json::from_value(d.data.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(published, reports);
    for (diagnostic, report) in diagnostics.iter().zip(&reports) {
        assert_eq!(diagnostic.range.start.line as usize + 1, report.line);
        assert_eq!(diagnostic.range.start.character as usize + 1, report.column);
        assert!(diagnostic.message.starts_with(&report.message));
    }
    // The suggested provider's declaration travels as related information.
    let related = diagnostics[0]
        .related_information
        .as_ref()
        .expect("related");
    assert_eq!(related[0].message, "`alert-fanout` is declared here");

    // The quick fix of the first one writes the near name; applied, the error is gone.
    let actions = client
        .request::<CodeActionRequest>(CodeActionParams {
            text_document: TextDocumentIdentifier::new(uri.clone()),
            range: diagnostics[0].range,
            context: CodeActionContext::default(),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .expect("actions");
    let [CodeActionOrCommand::CodeAction(action)] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(action.title, "replace `alert-fanot` with `alert-fanout`");
    let edits = &action.edit.as_ref().unwrap().changes.as_ref().unwrap()[&uri];
    let fixed = apply(&text, edits);
    assert!(fixed.contains("then reroute alert-fanout\n"));
    let after = client.change_and_wait::<DidChangeTextDocument>(at::change(&uri, 2, &fixed), &uri);
    assert_eq!(after.len(), 1, "only `paging` is left: {after:?}");
    client.shutdown();
}

#[test]
fn a_rule_without_its_priority_gets_one_from_a_quick_fix() {
    let mut client = start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.acteon");
    let text = "provider alerts log\nrule first priority 5 when tenant == \"a\" then deny\n\
                rule hot-room when payload.value > 85 then reroute alerts\n";
    std::fs::write(&path, text).unwrap();
    let uri = path_to_uri(&path);
    let diagnostics = client.change_and_wait::<DidOpenTextDocument>(at::open(&uri, text), &uri);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let actions = client
        .request::<CodeActionRequest>(CodeActionParams {
            text_document: TextDocumentIdentifier::new(uri.clone()),
            range: diagnostics[0].range,
            context: CodeActionContext::default(),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .expect("actions");
    let [CodeActionOrCommand::CodeAction(action)] = actions.as_slice() else {
        panic!("{actions:?}");
    };
    assert_eq!(action.title, "add `priority 5`");
    let fixed = apply(
        text,
        &action.edit.as_ref().unwrap().changes.as_ref().unwrap()[&uri],
    );
    assert!(fixed.contains("rule hot-room priority 5 when"), "{fixed}");
    let after = client.change_and_wait::<DidChangeTextDocument>(at::change(&uri, 2, &fixed), &uri);
    assert!(after.is_empty(), "{after:?}");
    client.shutdown();
}

#[test]
fn definition_follows_includes_and_formatting_is_the_fmt_layout() {
    let mut client = start(Options::default());
    let (pipeline, text, _) = seed("pipeline.acteon");
    client.change_and_wait::<DidOpenTextDocument>(at::open(&pipeline, &text), &pipeline);
    let include = at::position(&text, "\"safety.acteon\"", 0, 3);
    let location = client.definition(&pipeline, include).expect("a definition");
    assert_eq!(location.uri, seed("safety.acteon").0);

    // The seed is formatted already: no edit. A messy copy gets `acteon fmt`'s text.
    assert!(client.formatting(&pipeline).is_empty());
    let dir = tempfile::tempdir().unwrap();
    let messy_path = dir.path().join("messy.acteon");
    let messy = "provider   a log\nrule r priority 1 when payload.x>1 then reroute   a\n";
    std::fs::write(&messy_path, messy).unwrap();
    let messy_uri = path_to_uri(&messy_path);
    client.change_and_wait::<DidOpenTextDocument>(at::open(&messy_uri, messy), &messy_uri);
    let edits = client.formatting(&messy_uri);
    let formatted = apply(messy, &edits);
    let mut sources = acteon_dsl::source::SourceMap::default();
    let id = sources.add(messy_path.clone(), messy.to_string());
    let file = acteon_dsl::syntax::parse(id, &messy_path, messy).unwrap();
    assert_eq!(formatted, acteon_dsl::fmt::format(&file, messy));
    assert_ne!(formatted, messy);
    client.shutdown();
}

#[test]
fn hover_shows_the_live_count_from_a_running_server() {
    // A stand-in for `acteon serve`'s GET /metrics: one answer, then the thread ends.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut request = [0u8; 1024];
        let n = stream.read(&mut request).unwrap();
        assert!(String::from_utf8_lossy(&request[..n]).starts_with("GET /metrics "));
        let body = "acteon_actions_total{outcome=\"rerouted\",rule=\"critical-temperature-alert\",provider=\"alert-fanout\"} 7\n";
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
    });
    let mut client = start(Options {
        server: Some(format!("http://{address}")),
        ..Options::default()
    });
    let (routing, text, _) = seed("routing.acteon");
    client.change_and_wait::<DidOpenTextDocument>(at::open(&routing, &text), &routing);
    let rule = at::position(&text, "critical-temperature-alert", 0, 3);
    let shown = client.hover(&routing, rule);
    assert!(
        shown.contains("**live**: fired 7 times (rerouted 7)"),
        "{shown}"
    );
    server.join().unwrap();
    client.shutdown();
}

/// Applies edits to a text (the last first, so earlier ranges stay valid).
fn apply(text: &str, edits: &[lsp_types::TextEdit]) -> String {
    let lines = acteon_lsp::lines::LineIndex::new(text);
    let mut spans: Vec<(std::ops::Range<usize>, &str)> = edits
        .iter()
        .map(|e| (offsets(&lines, e.range), e.new_text.as_str()))
        .collect();
    spans.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut out = text.to_string();
    for (span, new) in spans {
        out.replace_range(span, new);
    }
    out
}

fn offsets(lines: &acteon_lsp::lines::LineIndex, range: Range) -> std::ops::Range<usize> {
    lines.offset(range.start)..lines.offset(range.end)
}
