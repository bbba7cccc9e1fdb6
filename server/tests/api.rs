//! The HTTP API, route by route, on the seed pipeline with dry-run providers: decisions,
//! bad bodies, unknown ids, paging, API keys.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_answers_each_seed_event_with_its_decision() {
    let server = seed_server();
    let expect = [
        (
            "temp-crit-001",
            "rerouted",
            Some("critical-temperature-alert"),
            Some("alert-fanout"),
        ),
        (
            "motion-001",
            "rerouted",
            Some("intrusion-alert"),
            Some("alert-fanout"),
        ),
        (
            "temp-norm-001",
            "chain_started",
            Some("chain-sensor-readings"),
            None,
        ),
        (
            "humid-000",
            "grouped",
            Some("group-humidity-readings"),
            None,
        ),
        (
            "energy-001",
            "scheduled",
            Some("schedule-energy-reports"),
            None,
        ),
        (
            "test-dev-001",
            "suppressed",
            Some("suppress-test-devices"),
            None,
        ),
        (
            "lifecycle-001",
            "rerouted",
            Some("lifecycle-to-eventbridge"),
            Some("event-bus"),
        ),
        (
            "firmware-001",
            "denied",
            Some("deny-unsigned-firmware"),
            None,
        ),
        (
            "dup-temp-001",
            "chain_started",
            Some("chain-sensor-readings"),
            None,
        ),
        (
            "dup-temp-002",
            "deduplicated",
            Some("dedup-sensor-readings"),
            None,
        ),
    ];
    for (id, outcome, rule, target) in expect {
        let decision = dispatch(&server, seed_event(id)).await;
        assert_eq!(decision["action_id"], id);
        assert_eq!(decision["outcome"], outcome, "{id}: {decision}");
        assert_eq!(decision["rule"].as_str(), rule, "{id}: {decision}");
        if target.is_some() {
            assert_eq!(decision["target"].as_str(), target, "{id}: {decision}");
        }
        assert!(decision["details"].is_object());
    }
    // An action without an id is given one.
    let mut anonymous = seed_event("lifecycle-001");
    anonymous.as_object_mut().unwrap().remove("id");
    let decision = dispatch(&server, anonymous).await;
    assert!(
        decision["action_id"].as_str().unwrap().starts_with("api-"),
        "{decision}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_decides_without_effects() {
    let server = seed_server();
    let (status, decision) = post(
        &server,
        "/v1/dispatch?dry_run=true",
        seed_event("temp-crit-001"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(decision["outcome"], "rerouted");
    assert_eq!(decision["target"], "alert-fanout");
    assert_eq!(decision["details"]["dry_run"], true);
    assert_eq!(
        decision["details"]["passed"],
        json!(["dedup-sensor-readings", "throttle-telemetry"])
    );
    // Twice the same dedup key: a dry run reads no window, so neither is a repeat.
    for _ in 0..2 {
        let (_, decision) = post(
            &server,
            "/v1/dispatch?dry_run=true",
            seed_event("dup-temp-001"),
        )
        .await;
        assert_eq!(decision["outcome"], "chain_started");
    }
    let (_, page) = get(&server, "/v1/audit").await;
    assert_eq!(page["records"], json!([]), "nothing audited");
    let (status, error) = post(
        &server,
        "/v1/dispatch?dry_run=maybe",
        seed_event("temp-crit-001"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "invalid_parameter");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_in_order_with_errors_in_place() {
    let server = seed_server();
    let batch = json!([
        seed_event("temp-crit-002"),
        { "namespace": "iot", "tenant": "smartbuilding-hq" },
        seed_event("firmware-001"),
    ]);
    let (status, answers) = post(&server, "/v1/dispatch/batch", batch).await;
    assert_eq!(status, StatusCode::OK, "{answers}");
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["outcome"], "rerouted");
    assert_eq!(answers[1]["error"]["code"], "invalid_action");
    assert!(answers[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("action_type"));
    assert_eq!(answers[2]["outcome"], "denied");
    let (_, dry) = post(
        &server,
        "/v1/dispatch/batch?dry_run=true",
        json!({ "actions": [seed_event("motion-002")] }),
    )
    .await;
    assert_eq!(dry[0]["details"]["dry_run"], true);
    let (status, error) = post(&server, "/v1/dispatch/batch", json!({ "id": "x" })).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_batch"))
    );
    let too_many = Value::Array(vec![seed_event("motion-002"); 1_001]);
    let (status, error) = post(&server, "/v1/dispatch/batch", too_many).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("batch_too_large"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_400_with_the_reason_and_big_ones_413() {
    let mut config = config(&pipeline_dir().join("pipeline.acteon"));
    config.max_body_bytes = 2_000;
    let server = start(config);
    let (status, error) = call_raw(
        &server,
        Method::POST,
        "/v1/dispatch",
        b"{not json".to_vec(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "malformed_json");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not JSON"));
    let (status, error) = post(&server, "/v1/dispatch", json!([1, 2])).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_action"))
    );
    let (status, error) = post(
        &server,
        "/v1/dispatch",
        json!({ "namespace": "iot", "action_type": "x" }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tenant"),
        "{error}"
    );
    let (status, error) = post(
        &server,
        "/v1/dispatch",
        json!({ "namespace": "iot", "tenant": 5, "action_type": "x" }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let big = json!({ "namespace": "iot", "tenant": "t", "action_type": "x", "payload": { "blob": "x".repeat(5_000) } });
    let (status, error) = post(&server, "/v1/dispatch", big).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    let (status, error) = post(&server, "/v1/quotas", json!({ "tenant": "t" })).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_actions"),
        "{error}"
    );
    let (status, error) = get(&server, "/v1/nowhere").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_route"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_filters_and_pages() {
    let server = seed_server();
    for event in seed_events() {
        post(&server, "/v1/dispatch", event).await;
    }
    let (status, page) = get(
        &server,
        "/v1/audit?namespace=iot&tenant=smartbuilding-hq&outcome=suppressed",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["test-dev-001", "test-dev-002"]);
    let (_, page) = get(
        &server,
        "/v1/audit?provider=alert-fanout&rule=critical-temperature-alert",
    )
    .await;
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    // Paging: five at a time, following the cursor, gives every record once.
    let (_, all) = get(&server, "/v1/audit?limit=1000").await;
    let total = all["records"].as_array().unwrap().len();
    assert!(total >= 21, "{total}");
    let mut seen = Vec::new();
    let mut uri = "/v1/audit?limit=5".to_owned();
    for _ in 0..100 {
        let (_, page) = get(&server, &uri).await;
        seen.extend(
            page["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/audit?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        all["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect::<Vec<_>>()
    );
    let (_, empty) = get(
        &server,
        "/v1/audit?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
    )
    .await;
    assert_eq!(empty["records"], json!([]));
    for (uri, code) in [
        ("/v1/audit?cursor=bogus", "invalid_cursor"),
        ("/v1/audit?outcome=exploded", "invalid_parameter"),
        ("/v1/audit?limit=many", "invalid_parameter"),
        ("/v1/audit?from=yesterday", "invalid_parameter"),
    ] {
        let (status, error) = get(&server, uri).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{uri}"
        );
    }
    let (status, one) = get(&server, "/v1/audit/firmware-001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["records"][0]["outcome"], "denied");
    let (status, error) = get(&server, "/v1/audit/no-such-action").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_are_listed_read_and_cancels_refused_once_ended() {
    let server = seed_server();
    dispatch(&server, seed_event("temp-norm-001")).await;
    let chain_id = "temp-norm-001/telemetry-processing";
    let completed = eventually(Duration::from_secs(10), || async {
        let (_, chain) = get(&server, &format!("/v1/chains/{chain_id}")).await;
        chain["state"] == "completed"
    })
    .await;
    assert!(completed, "the dry-run chain completes");
    let (status, list) = get(
        &server,
        "/v1/chains?namespace=iot&tenant=smartbuilding-hq&status=completed",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["chains"][0]["chain_id"], chain_id);
    assert_eq!(list["chains"][0]["tenant"], "smartbuilding-hq");
    let (_, none) = get(&server, "/v1/chains?tenant=someone-else").await;
    assert_eq!(none["count"], 0);
    let (status, error) = post(&server, &format!("/v1/chains/{chain_id}/cancel"), json!({})).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("chain_finished"))
    );
    let (status, _) = post(&server, "/v1/chains/nope/cancel", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&server, "/v1/chains/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_groups_and_provider_health_are_read() {
    let server = seed_server();
    for id in ["humid-000", "humid-001", "humid-002", "firmware-001"] {
        dispatch(&server, seed_event(id)).await;
    }
    let (_, groups) = get(&server, "/v1/groups").await;
    assert_eq!(groups["total"], 2, "{groups}");
    let floor_two = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["event_count"] == 2)
        .unwrap();
    assert_eq!(floor_two["members"], json!(["humid-000", "humid-002"]));
    let key = floor_two["group_key"].as_str().unwrap().to_owned();
    let (status, _) = delete(&server, &format!("/v1/groups/{key}?rule=no-such-rule")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another rule's group is not named"
    );
    let (status, flushed) = delete(&server, &format!("/v1/groups/{key}")).await;
    assert_eq!(status, StatusCode::OK, "{flushed}");
    assert_eq!(flushed["flushed"], 1, "{flushed}");
    // Flushed now, long before its wait ends: gone from the waiting groups, its batch
    // delivered and audited with both members.
    let (_, groups) = get(&server, "/v1/groups").await;
    assert_eq!(groups["total"], 1, "{groups}");
    let (_, audit) = get(&server, "/v1/audit?outcome=group_flushed").await;
    let batch = &audit["records"][0];
    assert_eq!(
        batch["details"]["members"],
        json!(["humid-000", "humid-002"]),
        "{audit}"
    );
    assert_eq!(batch["details"]["delivery"]["attempts"], 1, "{batch}");
    let (status, _) = delete(&server, &format!("/v1/groups/{key}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "flushed already");
    let (status, _) = delete(&server, "/v1/groups/no-such-group").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, events) = get(&server, "/v1/events?namespace=iot&tenant=smartbuilding-hq").await;
    assert_eq!(
        events["count"], 5,
        "the four actions and the flushed batch: {events}"
    );
    let (_, denied) = get(&server, "/v1/events?state=denied").await;
    assert_eq!(denied["events"][0]["action_id"], "firmware-001");
    let (_, health) = get(&server, "/v1/providers/health").await;
    let names: Vec<&str> = health["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "alert-fanout",
            "anomaly-detector",
            "dead-letter-queue",
            "event-bus",
            "local-fallback",
            "metrics-queue",
            "telemetry-normalizer"
        ]
    );
    assert!(health["providers"][0]["p95_latency_ms"].is_number());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_are_created_enforced_updated_and_deleted() {
    let server = seed_server();
    let (_, list) = get(&server, "/v1/quotas?tenant=smartbuilding-hq").await;
    assert_eq!(list["count"], 1, "the script's quota: {list}");
    let script_id = list["quotas"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["quotas"][0]["source"], "script");
    let quota = json!({ "namespace": "billing", "tenant": "acme", "max_actions": 2, "window": "hourly", "overage_behavior": "block" });
    let (status, created) = post(&server, "/v1/quotas", quota.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let action = json!({ "namespace": "billing", "tenant": "acme", "action_type": "invoice", "provider": "local-fallback" });
    let outcomes: Vec<Value> = {
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            outcomes.push(dispatch(&server, action.clone()).await["outcome"].clone());
        }
        outcomes
    };
    assert_eq!(
        outcomes,
        [
            json!("executed"),
            json!("executed"),
            json!("quota_exceeded")
        ]
    );
    let (_, read) = get(&server, &format!("/v1/quotas/{id}")).await;
    assert_eq!(read["usage"]["used"], 3, "{read}");
    let (status, _) = post(&server, "/v1/quotas", quota.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "same tenant and window twice");
    let mut raised = quota.clone();
    raised["max_actions"] = json!(100);
    let (status, updated) = call(
        &server,
        Method::PUT,
        &format!("/v1/quotas/{id}"),
        Some(raised),
        None,
    )
    .await;
    assert_eq!(
        (status, updated["max_actions"].clone()),
        (StatusCode::OK, json!(100))
    );
    assert_eq!(
        dispatch(&server, action.clone()).await["outcome"],
        "executed"
    );
    let (status, error) = delete(&server, &format!("/v1/quotas/{script_id}")).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("declared_in_script"))
    );
    let (status, _) = delete(&server, &format!("/v1/quotas/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = get(&server, &format!("/v1/quotas/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut bad = quota.clone();
    bad["window"] = json!("fortnightly");
    let (status, error) = post(&server, "/v1/quotas", bad).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_window"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_policies_set_the_audit_expiry() {
    let server = seed_server();
    let policy = json!({ "namespace": "iot", "tenant": "smartbuilding-hq", "audit_ttl_seconds": 60, "event_ttl_seconds": 172800 });
    let (status, created) = post(&server, "/v1/retention", policy.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = post(&server, "/v1/retention", policy.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    dispatch(&server, seed_event("firmware-001")).await;
    let (_, one) = get(&server, "/v1/audit/firmware-001").await;
    let record = &one["records"][0];
    let dispatched =
        chrono::DateTime::parse_from_rfc3339(record["dispatched_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(record["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        (expires - dispatched).num_seconds(),
        60,
        "the API policy wins over the script's 7 days"
    );
    let (_, list) = get(
        &server,
        "/v1/retention?namespace=iot&tenant=smartbuilding-hq",
    )
    .await;
    assert_eq!(list["count"], 2, "the script's and the API's: {list}");
    let mut changed = policy.clone();
    changed["audit_ttl_seconds"] = json!(0);
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/v1/retention/{id}"),
        Some(changed),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = delete(&server, &format!("/v1/retention/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = get(&server, &format!("/v1/retention/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_actions_are_managed_paused_and_resumed() {
    let server = seed_server();
    let (_, list) = get(
        &server,
        "/v1/recurring?namespace=iot&tenant=smartbuilding-hq",
    )
    .await;
    assert_eq!(
        list["recurring_actions"][0]["id"], "device-heartbeat",
        "{list}"
    );
    let body = json!({
        "namespace": "iot", "tenant": "smartbuilding-hq", "cron_expr": "*/5 * * * *", "timezone": "UTC",
        "action_template": { "provider": "event-bus", "action_type": "device_lifecycle", "payload": { "event": "heartbeat_check" } }
    });
    let (status, created) = post(&server, "/v1/recurring", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "active");
    assert!(created["next_execution_at"].is_string());
    let (_, paused) = post(&server, &format!("/v1/recurring/{id}/pause"), json!({})).await;
    assert_eq!(paused["status"], "paused");
    let (_, listed) = get(&server, "/v1/recurring?status=paused").await;
    assert_eq!(listed["count"], 1);
    let (_, resumed) = post(&server, &format!("/v1/recurring/{id}/resume"), json!({})).await;
    assert_eq!(resumed["status"], "active");
    let mut hourly = body.clone();
    hourly["cron_expr"] = json!("0 * * * *");
    let (status, updated) = call(
        &server,
        Method::PUT,
        &format!("/v1/recurring/{id}"),
        Some(hourly),
        None,
    )
    .await;
    assert_eq!(
        (status, updated["cron_expression"].clone()),
        (StatusCode::OK, json!("0 * * * *"))
    );
    let mut bad = body.clone();
    bad["cron_expr"] = json!("every five minutes");
    let (status, error) = post(&server, "/v1/recurring", bad).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cron"))
    );
    let (status, error) = delete(&server, "/v1/recurring/device-heartbeat").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("declared_in_script"))
    );
    let (status, _) = delete(&server, &format!("/v1/recurring/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = post(&server, &format!("/v1/recurring/{id}/pause"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_required_and_limited_to_tenants() {
    let server = keyed_server(&["admin", "hq-only:smartbuilding-hq"]);
    let event = seed_event("firmware-001");
    let (status, error) = call(
        &server,
        Method::POST,
        "/v1/dispatch",
        Some(event.clone()),
        None,
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("api_key_required"))
    );
    let (status, error) = call(&server, Method::GET, "/v1/audit", None, Some("guess")).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("api_key_unknown"))
    );
    let (status, _) = call(&server, Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&server, Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "liveness needs no key");
    let (status, decision) = call(
        &server,
        Method::POST,
        "/v1/dispatch",
        Some(event),
        Some("hq-only"),
    )
    .await;
    assert_eq!(
        (status, decision["outcome"].as_str()),
        (StatusCode::OK, Some("denied"))
    );
    let other = json!({ "namespace": "iot", "tenant": "elsewhere", "action_type": "x" });
    let (status, error) = call(
        &server,
        Method::POST,
        "/v1/dispatch",
        Some(other.clone()),
        Some("hq-only"),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("tenant_forbidden"))
    );
    let (status, _) = call(
        &server,
        Method::POST,
        "/v1/dispatch",
        Some(other),
        Some("admin"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &server,
        Method::GET,
        "/v1/audit?tenant=elsewhere",
        None,
        Some("hq-only"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Without a tenant, a one-tenant key reads its own tenant only.
    let (_, page) = call(&server, Method::GET, "/v1/audit", None, Some("hq-only")).await;
    assert!(
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["tenant"] == "smartbuilding-hq"),
        "{page}"
    );
    let (_, page) = call(&server, Method::GET, "/v1/audit", None, Some("admin")).await;
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_the_openapi_document() {
    let server = seed_server();
    for id in ["temp-crit-001", "firmware-001"] {
        dispatch(&server, seed_event(id)).await;
    }
    let (status, health) = get(&server, "/health").await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let response = get_text(&server, "/metrics").await;
    assert!(response.contains("acteon_actions_total{outcome=\"denied\",rule=\"deny-unsigned-firmware\",provider=\"metrics-queue\"} 1"), "{response}");
    assert!(response.contains("# TYPE acteon_delivery_latency_ms histogram"));
    assert!(response.contains("acteon_quota_usage{"));
    let (status, document) = get(&server, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/v1/dispatch",
        "/v1/audit",
        "/v1/chains/{id}/cancel",
        "/v1/recurring/{id}/resume",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_drops_audit_records_past_their_retention() {
    let mut config = config(&pipeline_dir().join("pipeline.acteon"));
    config.background_interval = Some(Duration::from_millis(100));
    let server = start(config);
    let policy =
        json!({ "namespace": "iot", "tenant": "smartbuilding-hq", "audit_ttl_seconds": 1 });
    let (status, _) = post(&server, "/v1/retention", policy).await;
    assert_eq!(status, StatusCode::CREATED);
    dispatch(&server, seed_event("firmware-001")).await;
    let (status, _) = get(&server, "/v1/audit/firmware-001").await;
    assert_eq!(status, StatusCode::OK);
    let reaped = eventually(Duration::from_secs(10), || async {
        get(&server, "/v1/audit/firmware-001").await.0 == StatusCode::NOT_FOUND
    })
    .await;
    assert!(
        reaped,
        "the record is dropped once its retention has passed"
    );
    server.stop().await;
}

/// An occurrence that falls due goes through the rules like a dispatched action: the recurring
/// job (here called a minute ahead of the wall clock instead of waiting for it) dispatches it,
/// and its decision is in the audit with the recurring action's id in its metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_recurring_action_is_decided_and_audited() {
    let server = seed_server();
    let body = json!({
        "namespace": "iot", "tenant": "smartbuilding-hq", "cron_expr": "* * * * *", "timezone": "UTC",
        "action_template": { "provider": "event-bus", "action_type": "device_lifecycle", "payload": { "event": "every_minute" } }
    });
    let (status, created) = post(&server, "/v1/recurring", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let a_minute_on = acteon_engine::time::wall_clock_ms() + 61_000;
    acteon_server::jobs::fire_recurring(&server.app, a_minute_on).await;

    // The decision is audited once its epoch closes (the script's own recurring heartbeat
    // may be audited before it).
    let uri = "/v1/audit?namespace=iot&tenant=smartbuilding-hq&limit=100";
    let occurrence = format!("\"action_id\":\"{id}-");
    let audited = eventually(Duration::from_secs(10), || async {
        let (_, audit) = get(&server, uri).await;
        audit.to_string().contains(&occurrence)
    })
    .await;
    assert!(audited, "the occurrence is audited within 10 s");
    let (_, audit) = get(&server, uri).await;
    let fired: Vec<&Value> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["action_id"]
                .as_str()
                .is_some_and(|a| a.starts_with(&format!("{id}-")))
        })
        .collect();
    // The seed routes device_lifecycle actions to EventBridge (`lifecycle-to-eventbridge`).
    assert_eq!(fired.len(), 1, "{audit}");
    assert_eq!(fired[0]["outcome"], "rerouted", "{}", fired[0]);
    assert_eq!(fired[0]["rule"], "lifecycle-to-eventbridge");
    let (_, listed) = get(&server, &format!("/v1/recurring/{id}")).await;
    assert_eq!(listed["executions"], 1, "{listed}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_is_tripped_and_reset_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("breakers.acteon");
    std::fs::write(
        &script,
        "provider primary log\nprovider backup log\n\n\
         breaker primary {\n  failure_threshold = 2\n  recovery_timeout = 60s\n  fallback = backup\n}\n",
    )
    .unwrap();
    let mut live = config(&script);
    live.engine.delivery = acteon_engine::Delivery::Live;
    let server = start(live);
    let uri = "/v1/providers/primary/breaker";
    let (status, answer) = post(&server, uri, json!({ "state": "open" })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["circuit_breaker_state"], "open");
    let (_, health) = get(&server, "/v1/providers/health").await;
    let primary = &health["providers"][1];
    assert_eq!(
        (
            &primary["provider"],
            &primary["circuit_breaker_state"],
            &primary["healthy"]
        ),
        (&json!("primary"), &json!("open"), &json!(false))
    );
    let action = |id: &str| json!({ "id": id, "namespace": "n", "tenant": "t", "action_type": "x", "provider": "primary" });
    dispatch(&server, action("while-open")).await;
    let mut record = Value::Null;
    for _ in 0..500 {
        record = get(&server, "/v1/audit/while-open").await.1["records"][0].clone();
        if record.is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        (&record["outcome"], &record["target"]),
        (&json!("rerouted"), &json!("backup"))
    );
    assert_eq!(record["details"]["fallback_reason"], "breaker_open");

    let (status, answer) = post(&server, uri, json!({ "state": "closed" })).await;
    assert_eq!(
        (status, answer["circuit_breaker_state"].as_str()),
        (StatusCode::OK, Some("closed"))
    );
    let (status, _) = post(
        &server,
        "/v1/providers/nope/breaker",
        json!({ "state": "open" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(&server, uri, json!({ "state": "half_open" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;

    // A dry run's providers have no breakers.
    let server = start(config(&script));
    let (status, answer) = post(&server, uri, json!({ "state": "open" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    server.stop().await;
}
