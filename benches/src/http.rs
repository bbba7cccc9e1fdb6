//! The HTTP benchmark's parts: the bare server it compares `acteon serve` with (it parses each
//! body into a `serde_json::Value` and answers a fixed decision: the most any JSON-over-HTTP
//! service can do on this machine), the `acteon serve` process under test, and `wrk`, the
//! closed-loop load generator, with its output read back.
//!
//! Figures are ratios to the bare server measured in the same run, so they hold on a noisy
//! machine. `wrk` runs with 2 threads and the mix of `benches/http/dispatch.lua`.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The wrk script: the seed-like mix, unique ids.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("http/dispatch.lua")
}

/// Serves the bare server on `listener` until the process is killed.
pub fn bare_server(listener: TcpListener) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
        let app = Router::new()
            .route("/v1/dispatch", post(one))
            .route("/v1/dispatch/batch", post(batch));
        axum::serve(listener, app).await.expect("the bare server");
    });
}

/// The decision the bare server gives every action: `acteon serve`'s answer, fixed.
fn decision(action: &Value) -> Value {
    json!({
        "action_id": action["id"],
        "outcome": "executed",
        "rule": null,
        "target": action["provider"],
        "details": {},
    })
}

async fn one(body: Bytes) -> (StatusCode, axum::Json<Value>) {
    match serde_json::from_slice::<Value>(&body) {
        Ok(action) => (StatusCode::OK, axum::Json(decision(&action))),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": error.to_string() })),
        ),
    }
}

async fn batch(body: Bytes) -> (StatusCode, axum::Json<Value>) {
    match serde_json::from_slice::<Vec<Value>>(&body) {
        Ok(actions) => (
            StatusCode::OK,
            axum::Json(Value::Array(actions.iter().map(decision).collect())),
        ),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": error.to_string() })),
        ),
    }
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A server process under load, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub address: SocketAddr,
}

impl ServerProcess {
    /// Starts `command` (which must listen on `port`) and waits until it accepts connections.
    pub fn start(mut command: Command, port: u16) -> ServerProcess {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server did not listen on {address} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ServerProcess { child, address }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Requests answered per second (each one or a batch).
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Socket errors, timeouts and answers other than 2xx.
    pub errors: u64,
}

/// Runs wrk (2 threads) against `address` for `seconds`, with `connections` keep-alive
/// connections; `batch` actions per request to the batch endpoint, or single dispatches.
pub fn wrk(address: SocketAddr, connections: usize, seconds: u64, batch: Option<usize>) -> Load {
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s")])
        .args(["--timeout", "10s", "--latency", "-s"])
        .arg(script())
        .arg(format!("http://{address}"))
        .env("ACTEON_BATCH", batch.unwrap_or(0).to_string())
        .output()
        .expect("wrk runs (scripts/bench.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {text}");
    parse_wrk(&text).unwrap_or_else(|| panic!("wrk's output is not understood:\n{text}"))
}

/// Reads wrk's summary (`--latency`): requests/s, the 50% and 99% latencies, errors.
pub fn parse_wrk(text: &str) -> Option<Load> {
    let mut load = Load {
        requests_per_s: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: 0,
    };
    let mut found = 0;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => {
                load.requests_per_s = rate.parse().ok()?;
                found += 1;
            }
            ["50%", latency] => load.p50_ms = millis(latency)?,
            ["99%", latency] => {
                load.p99_ms = millis(latency)?;
                found += 1;
            }
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                load.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                load.errors += count.parse::<u64>().ok()?
            }
            _ => {}
        }
    }
    (found == 2).then_some(load)
}

/// wrk's latency text (`812.00us`, `1.20ms`, `2.01s`) in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_wrk_summary() {
        let text = "Running 10s test @ http://127.0.0.1:1\n  2 threads and 64 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   812.00us  1.20ms  40.00ms   90.00%\n  Latency Distribution\n     50%  600.00us\n     75%    1.00ms\n     90%    2.00ms\n     99%    5.50ms\n  1000 requests in 10.00s, 1.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 4\nRequests/sec:  99000.50\nTransfer/sec:      1.00MB\n";
        let load = parse_wrk(text).unwrap();
        assert_eq!(load.requests_per_s, 99000.5);
        assert_eq!(load.p50_ms, 0.6);
        assert_eq!(load.p99_ms, 5.5);
        assert_eq!(load.errors, 7);
        assert_eq!(parse_wrk("nothing"), None);
    }
}
