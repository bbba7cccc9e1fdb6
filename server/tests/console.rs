//! The console's routes on the seed pipeline with dry-run providers: the page and its assets
//! without a key, the plan, the playground's explanation (which must agree with the dry run on
//! every seed event), the live tail as server-sent events, and the live counts, each within a
//! tenant-limited key's tenants.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures_core::Stream;
use serde_json::{json, Value};
use std::pin::Pin;
use std::time::Duration;
use support::*;
use tower::ServiceExt;

/// The row of `rows` (a JSON array) whose `name` is `name`.
fn named<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {rows}"))
}

async fn raw(
    server: &acteon_server::Server,
    uri: &str,
    key: Option<&str>,
) -> axum::response::Response {
    let mut request = Request::get(uri);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    server
        .router()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_need_no_key_and_stay_on_their_origin() {
    let server = keyed_server(&["admin"]);
    for path in [
        "/ui",
        "/ui/",
        "/ui/overview",
        "/ui/chains/a/b/c",
        "/ui/rules?action=%7B%7D",
    ] {
        let response = raw(&server, path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'"), "{policy}");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains("/ui/assets/app.js"));
        assert!(
            page.contains(r#"data-keys="yes""#),
            "the page says a key is needed"
        );
        // Nothing is fetched from anywhere else: no absolute URL in the page.
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
    let script = raw(&server, "/ui/assets/app.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let tag = script.headers()["etag"].clone();
    let again = server
        .router()
        .oneshot(
            Request::get("/ui/assets/app.js")
                .header("if-none-match", tag)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        raw(&server, "/ui/assets/nothing.js", None).await.status(),
        StatusCode::NOT_FOUND
    );
    // The API beside it still wants the key.
    let (status, _) = call(&server, Method::GET, "/v1/plan", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_lists_rules_in_order_with_their_origins_chains_and_providers() {
    let server = seed_server();
    let (status, plan) = get(&server, "/v1/plan").await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["generation"], 1);
    let rules = plan["rules"].as_array().unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        &names[..4],
        [
            "suppress-test-devices",
            "deny-unsigned-firmware",
            "dedup-sensor-readings",
            "throttle-telemetry"
        ]
    );
    let critical = rules
        .iter()
        .find(|r| r["name"] == "critical-temperature-alert")
        .unwrap();
    assert_eq!(
        critical["condition"],
        r#"payload.sensor_type == "temperature" and payload.value > devices[payload.device_id].max_temp ?? 85"#
    );
    assert_eq!(critical["kind"], "reroute");
    assert_eq!(critical["target"], "alert-fanout");
    assert_eq!(critical["scope"]["tenant"], "smartbuilding-hq");
    assert!(critical["file"]
        .as_str()
        .unwrap()
        .ends_with("routing.acteon"));
    let line = critical["line"].as_u64().unwrap() as usize;
    let source = std::fs::read_to_string(pipeline_dir().join("routing.acteon")).unwrap();
    assert!(source
        .lines()
        .nth(line - 1)
        .unwrap()
        .contains("rule critical-temperature-alert"));
    let group = rules
        .iter()
        .find(|r| r["name"] == "group-humidity-readings")
        .unwrap();
    assert_eq!(group["settings"]["wait_ms"], 30_000);
    let chain = &plan["chains"][0];
    assert_eq!(chain["name"], "telemetry-processing");
    assert_eq!(
        chain["steps"][0]["branches"][0]["condition"],
        "body.logged == true"
    );
    assert_eq!(chain["steps"][0]["branches"][0]["target"], "detect-anomaly");
    assert_eq!(chain["steps"][1]["next"], "archive-metrics");
    assert_eq!(chain["steps"][2]["sub_chain"], "critical-alert");
    assert!(plan["providers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "alert-fanout" && p["type"] == "aws-sns"));
    assert_eq!(plan["audit"]["placeholder"], "[REDACTED]");
    assert!(plan["explain"]
        .as_str()
        .unwrap()
        .contains("Rule evaluation order"));
    let nodes = plan["dataflow"]["nodes"].as_array().unwrap();
    assert!(nodes.iter().any(|n| n["id"] == "dedup"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explanation_reaches_the_dry_runs_verdict_for_every_seed_event() {
    let server = seed_server();
    for event in seed_events() {
        let (_, dry) = post(&server, "/v1/dispatch?dry_run=true", event.clone()).await;
        let (status, explained) = post(&server, "/v1/rules/explain", event.clone()).await;
        assert_eq!(status, StatusCode::OK, "{explained}");
        assert_eq!(
            explained["verdict"]["rule"], dry["rule"],
            "{}: {explained}",
            event["id"]
        );
        assert_eq!(
            explained["verdict"]["outcome"], dry["outcome"],
            "{}",
            event["id"]
        );
        assert_eq!(explained["verdict"]["passed"], dry["details"]["passed"]);
    }
    // The values each test read, and why the deciding rule matched.
    let (_, explained) = post(&server, "/v1/rules/explain", seed_event("temp-crit-001")).await;
    let rule = named(&explained["rules"], "critical-temperature-alert");
    assert_eq!(rule["matched"], true);
    assert_eq!(rule["effect"], "decided");
    let tests = rule["condition"]["of"].as_array().unwrap();
    assert_eq!(tests[0]["text"], r#"payload.sensor_type == "temperature""#);
    assert_eq!(tests[0]["value"], "temperature");
    assert_eq!(tests[1]["field"], "payload.value");
    assert_eq!(tests[1]["holds"], true);
    let suppress = &explained["rules"][0];
    assert_eq!(suppress["matched"], false);
    assert_eq!(suppress["condition"]["present"], false, "{suppress}");
    let after = named(&explained["rules"], "allow-remaining");
    assert_eq!(after["evaluated"], false);
    // No window was touched: the event is still a first sighting when dispatched for real.
    let decision = dispatch(&server, seed_event("dup-temp-001")).await;
    assert_eq!(decision["outcome"], "chain_started");
    server.stop().await;
}

/// The next server-sent event of `body` (bounded by `within`), as (event, data).
async fn next_event(
    body: &mut Pin<Box<dyn Stream<Item = Result<axum::body::Bytes, axum::Error>> + Send>>,
    buffer: &mut String,
    within: Duration,
) -> Option<(String, Value)> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim_start().to_owned())
            };
            if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                return Some((event, serde_json::from_str(&data).unwrap()));
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(
            deadline,
            std::future::poll_fn(|cx| body.as_mut().poll_next(cx)),
        )
        .await
        .ok()??;
        buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
}

/// Dispatches with the key of every tenant; the action must be decided.
async fn admin_dispatch(server: &acteon_server::Server, action: Value) {
    let (status, answer) = call(
        server,
        Method::POST,
        "/v1/dispatch",
        Some(action),
        Some("admin"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// A read with `key`; its JSON answer.
async fn read_as(server: &acteon_server::Server, uri: &str, key: &str) -> Value {
    let (status, answer) = call(server, Method::GET, uri, None, Some(key)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// An action of a tenant the seed's rules do not scope: executed on its own provider.
fn other_tenant(id: &str) -> Value {
    json!({
        "id": id, "namespace": "iot", "tenant": "other-co",
        "action_type": "device_lifecycle", "provider": "event-bus", "payload": {}
    })
}

async fn open_tail(
    server: &acteon_server::Server,
    uri: &str,
    key: Option<&str>,
) -> Pin<Box<dyn Stream<Item = Result<axum::body::Bytes, axum::Error>> + Send>> {
    let response = raw(server, uri, key).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    Box::pin(response.into_body().into_data_stream())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_streams_records_as_written_filtered_and_within_the_keys_tenants() {
    let server = keyed_server(&["admin", "hq:smartbuilding-hq"]);
    let mut all = open_tail(&server, "/v1/tail?outcome=rerouted,denied", Some("admin")).await;
    let mut hq = open_tail(&server, "/v1/tail", Some("hq")).await;
    admin_dispatch(&server, other_tenant("other-1")).await;
    for id in ["test-dev-001", "temp-crit-001"] {
        admin_dispatch(&server, seed_event(id)).await;
    }
    let mut buffer = String::new();
    // The filter passes the rerouted alert only (the other tenant's action is executed, the
    // test device suppressed).
    let (event, record) = next_event(&mut all, &mut buffer, Duration::from_secs(10))
        .await
        .expect("a record");
    assert_eq!(event, "record");
    assert_eq!(record["action_id"], "temp-crit-001");
    assert_eq!(record["outcome"], "rerouted");
    // The limited key sees its tenant's records only.
    let mut buffer = String::new();
    let mut seen = Vec::new();
    while let Some((_, record)) = next_event(&mut hq, &mut buffer, Duration::from_secs(2)).await {
        assert_eq!(record["tenant"], "smartbuilding-hq", "{record}");
        seen.push(record["action_id"].as_str().unwrap().to_owned());
    }
    assert!(
        seen.contains(&"test-dev-001".to_owned()) && seen.contains(&"temp-crit-001".to_owned()),
        "{seen:?}"
    );
    let (status, error) = call(
        &server,
        Method::GET,
        "/v1/tail?tenant=other-co",
        None,
        Some("hq"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    let (status, _) = call(
        &server,
        Method::GET,
        "/v1/tail?outcome=nope",
        None,
        Some("admin"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_counts_rise_per_rule_and_stay_within_the_keys_tenants() {
    let server = keyed_server(&["admin", "hq:smartbuilding-hq"]);
    let count = |overview: &Value, rule: &str| {
        overview["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == rule)
            .map_or(0, |r| r["decisions"].as_u64().unwrap())
    };
    // Records before the first overview are counted from the store.
    admin_dispatch(&server, seed_event("temp-crit-001")).await;
    let before = read_as(&server, "/v1/console/overview", "hq").await;
    assert_eq!(count(&before, "critical-temperature-alert"), 1, "{before}");
    assert_eq!(before["rules"][0]["name"], "suppress-test-devices");
    assert_eq!(before["rate"]["per_second"].as_array().unwrap().len(), 300);
    for id in ["temp-norm-001", "motion-001"] {
        admin_dispatch(&server, seed_event(id)).await;
    }
    admin_dispatch(&server, other_tenant("other-2")).await;
    let risen = eventually(Duration::from_secs(10), || async {
        let now = read_as(&server, "/v1/console/overview", "hq").await;
        count(&now, "chain-sensor-readings") == 1 && count(&now, "intrusion-alert") == 1
    })
    .await;
    assert!(risen, "the counts did not rise");
    let hq = read_as(&server, "/v1/console/overview", "hq").await;
    assert_eq!(hq["tenants"], json!(["smartbuilding-hq"]));
    assert_eq!(hq["no_rule"]["decisions"], 0, "{hq}");
    let admin = read_as(&server, "/v1/console/overview", "admin").await;
    assert_eq!(
        admin["no_rule"]["decisions"], 1,
        "the other tenant's action: {admin}"
    );
    let seconds: u64 = admin["rate"]["per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert!(seconds >= 4, "{seconds}");
    let (_, who) = call(&server, Method::GET, "/v1/console/whoami", None, Some("hq")).await;
    assert_eq!(
        who,
        json!({ "keys": true, "tenants": ["smartbuilding-hq"] })
    );
    server.stop().await;
}

/// Every `acteon_...` name in a query.
fn metric_names(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(at) = rest.find("acteon_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

/// Every query of the dashboard: panel targets' `expr` and template variables' queries.
fn queries(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr" | "definition", Value::String(query)) => found.push(query.clone()),
                    ("query", Value::String(query)) if query.contains('(') => {
                        found.push(query.clone())
                    }
                    _ => queries(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| queries(v, found)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_only_metrics_that_metrics_exposes() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards/grafana/acteon.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(!dashboard["panels"].as_array().unwrap().is_empty());
    let mut found = Vec::new();
    queries(&dashboard, &mut found);
    assert!(found.len() >= 10, "{found:?}");
    let server = seed_server();
    for id in ["temp-crit-001", "temp-norm-001", "motion-001"] {
        dispatch(&server, seed_event(id)).await;
    }
    let metrics = get_text(&server, "/metrics").await;
    // What /metrics exposes: every family it declares (a histogram as its three series) and
    // every series it has samples of.
    let mut exposed = std::collections::BTreeSet::new();
    for line in metrics.lines() {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            let mut words = declared.split_whitespace();
            let (name, kind) = (words.next().unwrap(), words.next().unwrap());
            exposed.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    exposed.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            exposed.insert(name.to_owned());
        }
    }
    for query in &found {
        let names = metric_names(query);
        assert!(!names.is_empty(), "`{query}` names no acteon metric");
        for name in names {
            assert!(
                exposed.contains(&name),
                "`{query}` names `{name}`, which /metrics does not expose: {exposed:?}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_ends_by_itself_so_that_an_open_console_never_holds_a_shutdown() {
    let server = seed_server();
    let started = std::time::Instant::now();
    let mut tail = open_tail(&server, "/v1/tail", None).await;
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while std::future::poll_fn(|cx| tail.as_mut().poll_next(cx))
            .await
            .is_some()
        {}
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end");
    let lasted = started.elapsed();
    assert!(lasted >= Duration::from_secs(4), "{lasted:?}");
    server.stop().await;
}
