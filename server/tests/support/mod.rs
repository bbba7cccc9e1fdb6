//! What the server's tests share: a server on the seed pipeline with dry-run providers, and
//! requests through its router without a socket.

#![allow(dead_code)] // each test binary uses its own part of this

use acteon_engine::{AuditOutput, Delivery, RunConfig};
use acteon_server::{ApiKey, Server, ServerConfig};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tower::ServiceExt;

pub fn pipeline_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/aws-event-pipeline")
}

/// The seed's 21 events, by id.
pub fn seed_events() -> Vec<Value> {
    std::fs::read_to_string(pipeline_dir().join("telemetry.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn seed_event(id: &str) -> Value {
    seed_events()
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no seed event {id}"))
}

pub fn config(script: &Path) -> ServerConfig {
    let engine = RunConfig {
        delivery: Delivery::DryRunMemory,
        audit: AuditOutput::None,
        epoch_ms: 10,
        ..RunConfig::default()
    };
    let mut config = ServerConfig::new(script, engine);
    config.watch_interval = None;
    config.decision_timeout = Duration::from_secs(10);
    config
}

pub fn start(config: ServerConfig) -> Server {
    Server::start(config).expect("the server starts")
}

pub fn seed_server() -> Server {
    start(config(&pipeline_dir().join("pipeline.acteon")))
}

pub fn keyed_server(keys: &[&str]) -> Server {
    let mut config = config(&pipeline_dir().join("pipeline.acteon"));
    config.api_keys = keys.iter().map(|k| k.parse::<ApiKey>().unwrap()).collect();
    start(config)
}

/// One request; the answer's status and JSON body (`Value::Null` when empty or not JSON).
pub async fn call(
    server: &Server,
    method: Method,
    uri: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    call_raw(server, method, uri, bytes, key).await
}

pub async fn call_raw(
    server: &Server,
    method: Method,
    uri: &str,
    body: Vec<u8>,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = server
        .router()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub async fn get_text(server: &Server, uri: &str) -> String {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = server.router().oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub async fn get(server: &Server, uri: &str) -> (StatusCode, Value) {
    call(server, Method::GET, uri, None, None).await
}

pub async fn delete(server: &Server, uri: &str) -> (StatusCode, Value) {
    call(server, Method::DELETE, uri, None, None).await
}

pub async fn post(server: &Server, uri: &str, body: Value) -> (StatusCode, Value) {
    call(server, Method::POST, uri, Some(body), None).await
}

pub async fn dispatch(server: &Server, action: Value) -> Value {
    let (status, decision) = post(server, "/v1/dispatch", action).await;
    assert_eq!(status, StatusCode::OK, "{decision}");
    decision
}

/// Polls `check` every 20 ms until it holds, at most `within`.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
