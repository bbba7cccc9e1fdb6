//! `acteon serve`'s API keys from a file and from `ACTEON_API_KEYS` (no service needed), and
//! the warning that the command-line form gets.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::repo;

/// `GET /v1/audit` with `key` (none: no header): the status.
fn status(url: &str, key: Option<&str>) -> u16 {
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "--max-time",
        "30",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ]);
    if let Some(key) = key {
        curl.args(["-H", &format!("Authorization: Bearer {key}")]);
    }
    let output = curl
        .arg(format!("{url}/v1/audit"))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn keys_come_from_a_file_and_the_environment_and_the_command_line_form_warns() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("keys.acteon");
    std::fs::write(&script, "provider sink log\n").unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "# operations\nfrom-file\n\nlimited:hq\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut served = Command::new(env!("CARGO_BIN_EXE_acteon"))
        .arg("serve")
        .arg(&script)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--api-keys-file"])
        .arg(&keys)
        .args(["--api-key", "from-flag"])
        .env("ACTEON_API_KEYS", "from-env;other-env:hq")
        .current_dir(repo())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while status(&url, Some("from-file")) != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "acteon serve did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for key in ["from-file", "from-env", "other-env", "from-flag"] {
        assert_eq!(status(&url, Some(key)), 200, "{key}");
    }
    assert_eq!(status(&url, None), 401);
    assert_eq!(status(&url, Some("from-fil")), 401);
    assert_eq!(status(&url, Some("from-file-")), 401);

    served.kill().unwrap();
    served.wait().unwrap();
    let mut stderr = String::new();
    served
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("warning: --api-key puts the key in the process list"),
        "{stderr}"
    );
}
