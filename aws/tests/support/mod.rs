//! What the tests against the local AWS emulator (127.0.0.1:4566) share: its connection, the
//! check that it answers, and names no other test run uses. Each test binary uses a part of it.
#![allow(dead_code)]

use acteon_dsl::plan::AwsConnection;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const ENDPOINT: &str = "http://127.0.0.1:4566";

pub fn connection() -> AwsConnection {
    AwsConnection {
        region: Some("us-east-1".into()),
        endpoint_url: Some(ENDPOINT.into()),
        ..AwsConnection::default()
    }
}

/// Fails (never skips) with what to do when the emulator does not answer HTTP.
pub fn require_emulator() {
    let answered =
        TcpStream::connect_timeout(&"127.0.0.1:4566".parse().unwrap(), Duration::from_secs(2))
            .and_then(|mut stream| {
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                stream.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
                let mut head = [0u8; 12];
                stream.read_exact(&mut head)?;
                Ok(head.starts_with(b"HTTP/1."))
            })
            .unwrap_or(false);
    assert!(
        answered,
        "the AWS emulator does not answer on 127.0.0.1:4566: run `scripts/services.sh up aws`"
    );
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
