//! Chains end to end: scripts compiled from text, dry-run providers answering from fixtures,
//! and the audit, the provider calls and the chain statuses checked.

use acteon_dsl::plan::{Outcome, Plan};
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::chains::status::{ChainState, ChainStore};
use acteon_engine::providers::dry_run::{Answer, Fixtures};
use acteon_engine::time::format_rfc3339_ms;
use acteon_engine::{run, AuditOutput, Delivery, Input, RunConfig, RunReport};
use serde_json::{json, Value};
use std::path::PathBuf;

/// The seed's chain shape: normalize, detect, alert through a sub-chain on an anomaly, archive.
const PROCESSING: &str = r#"
chain processing timeout 300s {
  step normalize call normalizer invoke { "value": "{{origin.payload.value}}", "device": "{{origin.payload.device}}" }
    if body.logged == true then detect
  step detect call detector invoke { "value": "{{prev.body.value}}", "note": "value {{origin.payload.value}} in {{chain_id}}" }
    if body.anomaly == true then alert
    next archive
  step alert run critical
  step archive call archive send { "result": "{{step_result}}", "index": "{{step_index}}" }
}

chain critical timeout 60s {
  step fan-out call alerts publish { "device": "{{origin.payload.device}}", "severity": "critical" }
  step publish call bus put { "detail": "{{origin.payload}}", "alert": "{{prev.body}}", "normalized": "{{steps.fan-out.body.sent}}" }
}
"#;

fn plan(chains: &str, start: &str) -> Plan {
    let text = format!(
        "provider normalizer log\nprovider detector log\nprovider alerts log\n\
         provider bus log\nprovider archive log\n\
         rule start-chain priority 1 when action_type == \"reading\" then chain {start}\n{chains}"
    );
    let compiled = acteon_dsl::compile_str("chains.acteon", &text);
    assert!(!compiled.has_errors(), "{}", compiled.render_diagnostics());
    compiled.plan.unwrap()
}

fn reading(id: &str, at: &str) -> String {
    json!({
        "id": id, "namespace": "iot", "tenant": "smartbuilding-hq", "action_type": "reading",
        "payload": { "value": 92, "device": "d-1" }, "created_at": at
    })
    .to_string()
}

const T0: &str = "2026-11-28T09:00:00Z";

/// Echoes each call's payload as its body, so later steps can read what earlier ones sent.
fn echo(call: &acteon_engine::provider::ProviderCall) -> Answer {
    Answer::Success(call.payload.value().clone())
}

struct Ran {
    report: RunReport,
    store: ChainStore,
}

impl Ran {
    fn records(&self, id: &str) -> Vec<&AuditRecord> {
        self.report
            .audit
            .iter()
            .filter(|r| &*r.action_id == id)
            .collect()
    }

    fn outcomes(&self, id: &str) -> Vec<(Outcome, Option<String>, Option<String>)> {
        self.records(id)
            .iter()
            .map(|r| {
                (
                    r.outcome,
                    r.details["step"].as_str().map(str::to_owned),
                    r.chain_id.as_deref().map(str::to_owned),
                )
            })
            .collect()
    }

    fn calls(&self, provider: &str) -> Vec<Value> {
        self.report
            .calls
            .iter()
            .filter(|c| c.provider == provider)
            .map(|c| c.payload.value().clone())
            .collect()
    }

    fn path(&self, chain_id: &str) -> Vec<String> {
        self.store.status(chain_id).unwrap().path
    }
}

fn run_with(plan: &Plan, fixtures: Fixtures, lines: Vec<String>, config: RunConfig) -> Ran {
    let store = config.chains.clone();
    let report = run(
        plan,
        RunConfig {
            input: Input::Lines(lines),
            audit: AuditOutput::Memory,
            delivery: Delivery::DryRunScripted(fixtures),
            ..config
        },
    )
    .unwrap();
    Ran { report, store }
}

fn run_one(plan: &Plan, fixtures: Fixtures) -> Ran {
    run_with(
        plan,
        fixtures,
        vec![reading("a1", T0)],
        RunConfig::default(),
    )
}

fn step(outcome: Outcome, step: &str, chain: &str) -> (Outcome, Option<String>, Option<String>) {
    (outcome, Some(step.to_owned()), Some(chain.to_owned()))
}

fn end(outcome: Outcome, chain: &str) -> (Outcome, Option<String>, Option<String>) {
    (outcome, None, Some(chain.to_owned()))
}

#[test]
fn a_linear_chain_runs_every_step_and_completes() {
    let plan = plan(
        r#"chain linear timeout 10s {
             step one call normalizer invoke { "n": "{{origin.payload.value}}" }
             step two call detector invoke { "prev": "{{prev.body}}" }
             step three call archive send { "all": "{{step_result}}" }
           }"#,
        "linear",
    );
    let ran = run_one(&plan, Fixtures::new().script("normalizer", echo));
    let c = "a1/linear";
    assert_eq!(
        ran.outcomes("a1"),
        [
            end(Outcome::ChainStarted, c),
            step(Outcome::ChainStepCompleted, "one", c),
            step(Outcome::ChainStepCompleted, "two", c),
            step(Outcome::ChainStepCompleted, "three", c),
            end(Outcome::ChainCompleted, c),
        ]
    );
    let records = ran.records("a1");
    assert_eq!(records[0].details["chain"], "linear");
    assert_eq!(records[0].rule.as_deref(), Some("start-chain"));
    let targets: Vec<_> = records[1..4].iter().map(|r| r.target.as_deref()).collect();
    assert_eq!(
        targets,
        [Some("normalizer"), Some("detector"), Some("archive")]
    );
    assert_eq!(records[1].details["step_index"], 0);
    assert_eq!(records[1].details["response"], json!({ "n": 92 }));
    assert_eq!(records[3].details["response"], json!({ "dry_run": true }));
    let ids: Vec<_> = records.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, ["a1@L1#0", "a1@L1#1", "a1@L1#2", "a1@L1#3", "a1@L1#4"]);
    assert_eq!(ran.calls("detector"), [json!({ "prev": { "n": 92 } })]);
    assert_eq!(
        ran.calls("archive"),
        [json!({ "all": { "dry_run": true } })]
    );

    let status = ran.store.status(c).unwrap();
    assert_eq!(status.state, ChainState::Completed);
    assert_eq!(status.path, ["one", "two", "three"]);
    assert_eq!(status.current_step.as_deref(), Some("three"));
    assert_eq!(status.results["one"].body, json!({ "n": 92 }));
    assert!(status.finished_at_us.is_some());
}

#[test]
fn a_branch_that_holds_picks_the_next_step_and_a_sub_chain_returns_to_its_parent() {
    let plan = plan(PROCESSING, "processing");
    let fixtures = Fixtures::new()
        .script("normalizer", |call| {
            Answer::Success(json!({ "logged": true, "value": call.payload.value()["value"] }))
        })
        .answers(
            "detector",
            vec![Answer::Success(json!({ "anomaly": true }))],
        )
        .answers("alerts", vec![Answer::Success(json!({ "sent": 1 }))])
        .script("bus", echo);
    let ran = run_one(&plan, fixtures);
    let (p, c) = ("a1/processing", "a1/processing/alert");
    assert_eq!(
        ran.outcomes("a1"),
        [
            end(Outcome::ChainStarted, p),
            step(Outcome::ChainStepCompleted, "normalize", p),
            step(Outcome::ChainStepCompleted, "detect", p),
            step(Outcome::ChainStepCompleted, "fan-out", c),
            step(Outcome::ChainStepCompleted, "publish", c),
            end(Outcome::ChainCompleted, c),
            step(Outcome::ChainStepCompleted, "alert", p),
            step(Outcome::ChainStepCompleted, "archive", p),
            end(Outcome::ChainCompleted, p),
        ]
    );
    assert_eq!(
        ran.calls("detector"),
        [json!({ "value": 92, "note": "value 92 in a1/processing" })]
    );
    let published = json!({
        "detail": { "value": 92, "device": "d-1" }, "alert": { "sent": 1 }, "normalized": 1
    });
    assert_eq!(ran.calls("bus"), std::slice::from_ref(&published));
    // The parent's sub-chain step took the child's last result as its own.
    assert_eq!(
        ran.calls("archive"),
        [json!({ "result": published, "index": 3 })]
    );
    assert_eq!(ran.path(p), ["normalize", "detect", "alert", "archive"]);
    assert_eq!(ran.path(c), ["fan-out", "publish"]);
    assert_eq!(
        ran.store.status(c).unwrap().parent.as_deref(),
        Some("a1/processing")
    );
}

#[test]
fn default_next_when_no_branch_holds_and_fall_through_without_one() {
    let plan = plan(PROCESSING, "processing");
    // The default dry-run answer has neither `logged` nor `anomaly`: normalize falls through to
    // detect, and detect's `next` skips the alert.
    let ran = run_one(&plan, Fixtures::new());
    assert_eq!(
        ran.path("a1/processing"),
        ["normalize", "detect", "archive"]
    );
    assert!(ran.calls("alerts").is_empty());
    assert!(ran.store.status("a1/processing/alert").is_none());
    assert_eq!(
        ran.calls("archive"),
        [json!({ "result": { "dry_run": true }, "index": 3 })]
    );
}

fn failing(on_failure: &str) -> Plan {
    plan(
        &format!(
            r#"chain guarded timeout 10s {{
                 step detect call detector invoke {{ "value": "{{{{origin.payload.value}}}}" }}
                   if success == false then note
                   next archive
                   on_failure {on_failure}
                 step note call alerts publish {{ "failed": "{{{{prev.body}}}}" }}
                   next done
                 step archive call archive send {{ }}
                 step done call bus put {{ }}
               }}"#
        ),
        "guarded",
    )
}

fn detector_down() -> Fixtures {
    Fixtures::new().answers("detector", vec![Answer::Failure("detector down".into())])
}

#[test]
fn a_failing_step_under_abort_fails_the_chain() {
    let ran = run_one(&failing("abort"), detector_down());
    let c = "a1/guarded";
    assert_eq!(
        ran.outcomes("a1"),
        [
            end(Outcome::ChainStarted, c),
            step(Outcome::ChainStepFailed, "detect", c),
            end(Outcome::ChainFailed, c),
        ]
    );
    let failed = ran.records("a1")[1];
    assert_eq!(failed.target.as_deref(), Some("detector"));
    assert_eq!(failed.details["error"], "detector down");
    assert_eq!(failed.details["on_failure"], "abort");
    let status = ran.store.status(c).unwrap();
    assert_eq!(status.state, ChainState::Failed);
    assert_eq!(
        status.error.as_deref(),
        Some("step `detect`: detector down")
    );
    assert!(ran.calls("alerts").is_empty() && ran.calls("archive").is_empty());
}

#[test]
fn a_failing_step_under_skip_goes_on_to_the_branches() {
    let ran = run_one(&failing("skip"), detector_down());
    let c = "a1/guarded";
    assert_eq!(
        ran.outcomes("a1"),
        [
            end(Outcome::ChainStarted, c),
            step(Outcome::ChainStepFailed, "detect", c),
            step(Outcome::ChainStepCompleted, "note", c),
            step(Outcome::ChainStepCompleted, "done", c),
            end(Outcome::ChainCompleted, c),
        ]
    );
    assert_eq!(ran.calls("alerts"), [json!({ "failed": null })]);
    assert!(!ran.store.status(c).unwrap().results["detect"].success);
}

#[test]
fn a_failing_step_under_dlq_dead_letters_its_call_and_fails_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let dead_letter: PathBuf = dir.path().join("dead-letter.jsonl");
    let ran = run_with(
        &failing("dlq"),
        detector_down(),
        vec![reading("a1", T0)],
        RunConfig {
            dead_letter: Some(dead_letter.clone()),
            ..RunConfig::default()
        },
    );
    let c = "a1/guarded";
    assert_eq!(
        ran.outcomes("a1"),
        [
            end(Outcome::ChainStarted, c),
            step(Outcome::ChainStepFailed, "detect", c),
            end(Outcome::ChainFailed, c),
        ]
    );
    let text = std::fs::read_to_string(dead_letter).unwrap();
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 1, "{text}");
    assert_eq!(entries[0]["chain_id"], c);
    assert_eq!(entries[0]["step"], "detect");
    assert_eq!(entries[0]["reason"], "detector down");
    assert_eq!(entries[0]["call"]["provider"], "detector");
    assert_eq!(entries[0]["call"]["payload"], json!({ "value": 92 }));
}

#[test]
fn a_step_is_retried_with_backoff_until_it_succeeds() {
    let plan = plan(
        r#"chain retried timeout 60s {
             step detect call detector invoke { }
               retry 3 backoff 500ms
             step archive call archive send { "seen": "{{prev.body.ok}}" }
           }"#,
        "retried",
    );
    let fixtures = Fixtures::new().answers(
        "detector",
        vec![
            Answer::Failure("busy".into()),
            Answer::Failure("busy".into()),
            Answer::Success(json!({ "ok": true })),
        ],
    );
    let ran = run_one(&plan, fixtures);
    assert_eq!(ran.calls("detector").len(), 3);
    assert_eq!(ran.calls("archive"), [json!({ "seen": true })]);
    let detect = ran.records("a1")[1];
    assert_eq!(detect.outcome, Outcome::ChainStepCompleted);
    assert_eq!(detect.details["attempts"], 3);
    // On the event clock the step ended after two backoffs.
    assert_eq!(
        format_rfc3339_ms(detect.completed_at_ms),
        "2026-11-28T09:00:01.000Z"
    );
    assert_eq!(
        ran.store.status("a1/retried").unwrap().state,
        ChainState::Completed
    );
}

#[test]
fn retries_run_out_and_the_step_fails() {
    let plan = plan(
        r#"chain retried timeout 60s {
             step detect call detector invoke { }
               retry 1 backoff 1s
           }"#,
        "retried",
    );
    let ran = run_one(&plan, detector_down());
    assert_eq!(ran.calls("detector").len(), 2);
    let outcomes: Vec<_> = ran.records("a1").iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::ChainStarted,
            Outcome::ChainStepFailed,
            Outcome::ChainFailed
        ]
    );
}

#[test]
fn a_chain_past_its_timeout_times_out() {
    let plan = plan(PROCESSING, "processing");
    let fixtures = Fixtures::new().answers("detector", vec![Answer::Silence]);
    // A later action moves the event-time frontier past the first chain's deadline.
    let lines = vec![
        reading("a1", T0),
        json!({ "id": "other", "namespace": "iot", "tenant": "t", "action_type": "other",
                "provider": "bus", "created_at": "2026-11-28T09:10:00Z" })
        .to_string(),
    ];
    let ran = run_with(&plan, fixtures, lines, RunConfig::default());
    let c = "a1/processing";
    assert_eq!(
        ran.outcomes("a1"),
        [
            end(Outcome::ChainStarted, c),
            step(Outcome::ChainStepCompleted, "normalize", c),
            end(Outcome::ChainTimedOut, c),
        ]
    );
    let status = ran.store.status(c).unwrap();
    assert_eq!(status.state, ChainState::TimedOut);
    assert_eq!(status.current_step.as_deref(), Some("detect"));
    assert_eq!(status.error.as_deref(), Some("timed out after 300000 ms"));
    assert!(ran.calls("archive").is_empty());
}

#[test]
fn a_sub_chain_that_times_out_fails_the_parent_step() {
    let plan = plan(
        r#"chain parent timeout 300s {
             step alert run child
               on_failure skip
             step archive call archive send { "child": "{{prev.body}}" }
           }
           chain child timeout 1s {
             step fan-out call alerts publish { }
           }"#,
        "parent",
    );
    let ran = run_one(
        &plan,
        Fixtures::new().answers("alerts", vec![Answer::Silence]),
    );
    let (p, c) = ("a1/parent", "a1/parent/alert");
    assert_eq!(
        ran.outcomes("a1"),
        [
            end(Outcome::ChainStarted, p),
            end(Outcome::ChainTimedOut, c),
            step(Outcome::ChainStepFailed, "alert", p),
            step(Outcome::ChainStepCompleted, "archive", p),
            end(Outcome::ChainCompleted, p),
        ]
    );
    assert_eq!(
        ran.records("a1")[2].details["error"],
        "sub-chain `child` timed out: timed out after 1000 ms"
    );
    assert_eq!(ran.calls("archive"), [json!({ "child": null })]);
}

#[test]
fn a_cancelled_chain_ignores_the_answer_of_its_step_in_flight() {
    let plan = plan(PROCESSING, "processing");
    let store = ChainStore::new();
    let cancels = store.clone();
    // The detector is asked to cancel the chain while its call is in flight, then answers.
    let fixtures = Fixtures::new().script("detector", move |_| {
        assert!(cancels.cancel("a1/processing"));
        Answer::Success(json!({ "anomaly": true }))
    });
    let ran = run_with(
        &plan,
        fixtures,
        vec![reading("a1", T0)],
        RunConfig {
            chains: store,
            ..RunConfig::default()
        },
    );
    let c = "a1/processing";
    assert_eq!(
        ran.outcomes("a1"),
        [
            end(Outcome::ChainStarted, c),
            step(Outcome::ChainStepCompleted, "normalize", c),
            end(Outcome::ChainCancelled, c),
        ]
    );
    assert_eq!(ran.store.status(c).unwrap().state, ChainState::Cancelled);
    assert!(!ran.store.cancel(c), "an ended chain cannot be cancelled");
    assert!(ran.calls("alerts").is_empty());
}

#[test]
fn chains_spread_over_workers_all_complete() {
    let plan = plan(PROCESSING, "processing");
    let lines: Vec<String> = (0..40).map(|i| reading(&format!("a{i}"), T0)).collect();
    let ran = run_with(
        &plan,
        Fixtures::new().answers(
            "detector",
            vec![Answer::Success(json!({ "anomaly": true }))],
        ),
        lines,
        RunConfig {
            workers: 2,
            ..RunConfig::default()
        },
    );
    let completed = ran
        .store
        .statuses()
        .iter()
        .filter(|s| s.state == ChainState::Completed)
        .count();
    assert_eq!(completed, 80, "40 chains and their 40 sub-chains");
    assert_eq!(ran.calls("archive").len(), 40);
    assert_eq!(ran.calls("bus").len(), 40);
}
