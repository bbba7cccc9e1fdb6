//! `/v1/tables`: the seed's `devices` table changed over HTTP changes the next decisions;
//! rows page in key order; a key limited to a tenant sees and changes only its rows.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;

/// A temperature reading of `device` at `value` (critical above the device's `max_temp`,
/// else 85).
fn reading(id: &str, device: &str, value: i64) -> Value {
    let mut event = seed_event("temp-crit-001");
    event["id"] = json!(id);
    event["payload"]["device_id"] = json!(device);
    event["payload"]["value"] = json!(value);
    event
}

async fn outcome(server: &acteon_server::Server, id: &str, value: i64) -> Value {
    dispatch(server, reading(id, "temp-sensor-777", value)).await["outcome"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_row_changes_the_next_decision_and_a_delete_makes_it_missing() {
    let server = seed_server();
    let uri = "/v1/tables/devices/temp-sensor-777";
    // No row: 80 is under the default 85.
    assert_ne!(outcome(&server, "t-1", 80).await, "rerouted");
    assert_eq!(get(&server, uri).await.0, StatusCode::NOT_FOUND);

    let (status, sent) = call(
        &server,
        Method::PUT,
        uri,
        Some(json!({ "max_temp": 70 })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert_eq!(outcome(&server, "t-2", 80).await, "rerouted");
    let (status, row) = get(&server, uri).await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(
        row["row"],
        json!({ "max_temp": 70, "device_id": "temp-sensor-777" })
    );
    assert!(row["since"].is_string(), "{row}");

    let (status, _) = delete(&server, uri).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_ne!(outcome(&server, "t-3", 80).await, "rerouted");
    assert_eq!(get(&server, uri).await.0, StatusCode::NOT_FOUND);
    assert_eq!(delete(&server, uri).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_and_unknown_tables_are_refused() {
    let server = seed_server();
    let uri = "/v1/tables/devices/temp-sensor-1";
    for (body, code) in [
        (json!([1]), "invalid_row"),
        (json!({ "device_id": "temp-sensor-2" }), "key_mismatch"),
        (json!({ "device_id": 1 }), "key_mismatch"),
    ] {
        let (status, error) = call(&server, Method::PUT, uri, Some(body), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["error"]["code"], code);
    }
    let (status, error) = get(&server, "/v1/tables/devcies").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"]["code"], "not_found");
    let (status, _) = get(&server, "/v1/tables/devices?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_page_in_key_order() {
    let server = seed_server();
    // The engine reads the file as it starts.
    let loaded = eventually(Duration::from_secs(10), || async {
        get(&server, "/v1/tables/devices").await.1["rows"]
            .as_array()
            .is_some_and(|rows| rows.len() == 4)
    })
    .await;
    assert!(loaded, "the file's rows are in the table");
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    // The seed's file has four rows: pages of three, then one.
    for pages in 1..=3 {
        let uri = match &after {
            Some(key) => format!("/v1/tables/devices?limit=3&after={key}"),
            None => "/v1/tables/devices?limit=3".to_owned(),
        };
        let (status, page) = get(&server, &uri).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let rows = page["rows"].as_array().unwrap();
        assert!(rows.len() <= 3);
        keys.extend(rows.iter().map(|r| r["key"].as_str().unwrap().to_owned()));
        assert!(rows
            .iter()
            .all(|r| r["since"].is_null() && r["row"]["max_temp"].is_number()));
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => {
                assert_eq!(pages, 2);
                break;
            }
        }
    }
    assert_eq!(
        keys,
        [
            "temp-sensor-201",
            "temp-sensor-202",
            "temp-sensor-301",
            "temp-sensor-501"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_key_sees_and_changes_only_its_rows() {
    let server = keyed_server(&["admin", "hq:smartbuilding-hq"]);
    let put = |key: &'static str, device: &'static str, row: Value| {
        let server = &server;
        async move {
            let uri = format!("/v1/tables/devices/{device}");
            call(server, Method::PUT, &uri, Some(row), Some(key)).await
        }
    };
    let branch = json!({ "max_temp": 60, "tenant": "branch-office" });
    let (status, _) = put("admin", "branch-1", branch.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let hq = json!({ "max_temp": 65, "tenant": "smartbuilding-hq" });
    let (status, _) = put("hq", "hq-1", hq).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Another tenant's row, or a row of no tenant, is not the limited key's to write.
    let (status, error) = put("hq", "branch-2", branch).await;
    assert_eq!(
        (status, error["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("tenant_forbidden"))
    );
    let (status, error) = put("hq", "temp-sensor-201", json!({ "max_temp": 1 })).await;
    assert_eq!(
        (status, error["error"]["code"].clone()),
        (StatusCode::FORBIDDEN, json!("tenant_required"))
    );

    let keys = |key: &'static str| {
        let server = &server;
        async move {
            let (_, page) = call(server, Method::GET, "/v1/tables/devices", None, Some(key)).await;
            page["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["key"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let applied = eventually(Duration::from_secs(10), || async {
        keys("admin").await.len() == 6
    })
    .await;
    assert!(applied, "the two rows are in the table");
    // The file's rows belong to no tenant: every key reads them.
    assert_eq!(
        keys("hq").await,
        [
            "hq-1",
            "temp-sensor-201",
            "temp-sensor-202",
            "temp-sensor-301",
            "temp-sensor-501"
        ]
    );
    let branch_row = "/v1/tables/devices/branch-1";
    let (status, _) = call(&server, Method::GET, branch_row, None, Some("hq")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&server, Method::DELETE, branch_row, None, Some("hq")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, row) = call(&server, Method::GET, branch_row, None, Some("admin")).await;
    assert_eq!(
        (status, row["row"]["max_temp"].clone()),
        (StatusCode::OK, json!(60))
    );
    let (status, _) = call(
        &server,
        Method::DELETE,
        "/v1/tables/devices/hq-1",
        None,
        Some("hq"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_table_routes() {
    let server = seed_server();
    let (_, document) = get(&server, "/openapi.json").await;
    let row = &document["paths"]["/v1/tables/{name}/{key}"];
    for method in ["get", "put", "delete"] {
        assert!(row[method].is_object(), "{method}");
    }
    assert!(document["paths"]["/v1/tables/{name}"]["get"].is_object());
}
