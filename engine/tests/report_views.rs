//! The report at the end of a run: facts from audit records through `install_views`, the
//! input closed, the dataflow run to completion, then the table.

use acteon_dsl::plan::Outcome;
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::report::{install_views, Fact, FactCount, View, Views};
use serde_json::json;
use timely::dataflow::operators::core::Input;

fn record(n: u64, tenant: &str, outcome: Outcome, rule: Option<&str>) -> AuditRecord {
    serde_json::from_value(json!({
        "id": format!("r{n}"), "action_id": format!("a{n}"), "namespace": "iot",
        "tenant": tenant, "action_type": "sensor_reading", "provider": "metrics-queue",
        "target": if outcome == Outcome::Rerouted { json!("alert-fanout") } else { json!(null) },
        "rule": rule, "outcome": outcome, "details": {}, "payload": null, "chain_id": null,
        "dispatched_at": "2026-11-28T09:00:00.000Z", "completed_at": "2026-11-28T09:00:00.000Z",
        "duration_ms": 0, "expires_at": null
    }))
    .unwrap()
}

#[test]
fn views_are_complete_when_the_run_ends() {
    let views = Views::new();
    let shared = views.clone();
    timely::execute_directly(move |worker| {
        let mut input = worker.dataflow::<u64, _, _>(|scope| {
            let (input, facts) = scope.new_input::<Vec<FactCount>>();
            install_views(facts, &shared);
            input
        });
        for n in 0..5 {
            let (outcome, rule) = match n {
                0 | 1 => (Outcome::Rerouted, Some("critical-temperature-alert")),
                2 => (Outcome::Suppressed, Some("suppress-heartbeat")),
                _ => (Outcome::Executed, None),
            };
            let record = record(n, "smartbuilding-hq", outcome, rule);
            input.send((Fact::of(&record), n, 1));
            input.advance_to(n + 1);
        }
    });
    assert_eq!(
        views.count(View::Provider, "alert-fanout", Outcome::Rerouted),
        2
    );
    assert_eq!(
        views.count(View::Provider, "metrics-queue", Outcome::Executed),
        2
    );
    let table = views.render_table();
    assert!(
        table.starts_with("tenant            executed  suppressed  rerouted  total\n"),
        "{table}"
    );
    assert!(
        table.contains("smartbuilding-hq         2           1         2      5"),
        "{table}"
    );
    assert!(table.contains("critical-temperature-alert"), "{table}");
}
