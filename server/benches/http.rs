//! Dispatches per second over HTTP: 64 concurrent keep-alive clients against `acteon serve`'s
//! router on a local socket, the seed pipeline with dry-run providers. Single dispatches, then
//! batches of 100. Not a test: `cargo bench -p acteon-server --bench http`.

use acteon_engine::{AuditOutput, Delivery, RunConfig};
use acteon_server::{Server, ServerConfig};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CLIENTS: usize = 64;
const RUN: Duration = Duration::from_secs(10);
const BATCH: usize = 100;

/// One HTTP/1.1 POST on a kept-alive connection; the answer's status.
async fn post(stream: &mut BufReader<TcpStream>, path: &str, body: &[u8]) -> u16 {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.get_mut().write_all(head.as_bytes()).await.unwrap();
    stream.get_mut().write_all(body).await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    status
}

/// A sensor reading the seed's rules run to the end (allowed on its own provider): distinct
/// ids and dedup keys, outside the throttled tenant so every one is decided in full.
fn action(client: usize, n: u64) -> Value {
    json!({
        "id": format!("bench-{client}-{n}"),
        "namespace": "iot",
        "tenant": "bench",
        "provider": "metrics-queue",
        "action_type": "sensor_reading",
        "payload": { "device_id": format!("temp-sensor-{client}"), "sensor_type": "temperature", "value": 21 }
    })
}

async fn measure(address: std::net::SocketAddr, batch: Option<usize>) -> (f64, u64) {
    let decided = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (decided, errors) = (decided.clone(), errors.clone());
        clients.push(tokio::spawn(async move {
            let mut stream = BufReader::new(TcpStream::connect(address).await.unwrap());
            let mut n = 0u64;
            while started.elapsed() < RUN {
                let (path, body, count) = match batch {
                    None => ("/v1/dispatch", action(client, n), 1),
                    Some(size) => (
                        "/v1/dispatch/batch",
                        Value::Array((0..size as u64).map(|i| action(client, n + i)).collect()),
                        size as u64,
                    ),
                };
                n += count;
                match post(&mut stream, path, &serde_json::to_vec(&body).unwrap()).await {
                    200 => decided.fetch_add(count, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    (
        decided.load(Ordering::Relaxed) as f64 / seconds,
        errors.load(Ordering::Relaxed),
    )
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../pipelines/aws-event-pipeline/pipeline.acteon");
        let engine = RunConfig {
            delivery: Delivery::DryRunMemory,
            audit: AuditOutput::None,
            epoch_ms: 10,
            ..RunConfig::default()
        };
        let mut config = ServerConfig::new(script, engine);
        config.watch_interval = None;
        let server = Server::start(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        for (name, batch) in [("single", None), ("batch of 100", Some(BATCH))] {
            let (rate, errors) = measure(address, batch).await;
            println!(
                "{name:>13}: {rate:>9.0} dispatches/s over {CLIENTS} clients ({errors} errors)"
            );
        }
        let _ = stop.send(());
        serving.await.unwrap().unwrap();
    });
}
