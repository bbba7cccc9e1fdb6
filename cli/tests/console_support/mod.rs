//! What the console's browser tests share: `acteon serve` started on a free port, headless
//! Chromium driven through chromedriver's WebDriver API (a small HTTP/1.1 client over a
//! socket, no client crate), and a keep-alive HTTP client for dispatching and for load.
//!
//! Everything stays on 127.0.0.1, every wait is bounded, and every process started here is
//! killed (by its id, or its own process group) when its handle is dropped. Chromium comes from
//! the distribution's packages (`scripts/chromium.sh` installs them); a missing one fails the
//! test with how to install it, never skips it.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub fn repo() -> PathBuf {
    // Canonical: the console shows the script's path as given.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

pub fn seed(file: &str) -> PathBuf {
    repo().join("pipelines/aws-event-pipeline").join(file)
}

/// The seed's sample events, by id.
pub fn seed_event(id: &str) -> Value {
    std::fs::read_to_string(seed("telemetry.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no seed event {id}"))
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 connection, kept alive between requests.
pub struct Connection {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Connection {
    pub fn open(address: SocketAddr) -> Connection {
        let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("cannot connect to {address}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Connection {
            stream: BufReader::new(stream),
            host: address.to_string(),
        }
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> std::io::Result<Answer> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        } else if method != "GET" && method != "DELETE" {
            head.push_str("Content-Length: 0\r\n");
        }
        head.push_str("\r\n");
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes())?;
        if let Some(body) = body {
            stream.write_all(body)?;
        }
        read_answer(&mut self.stream)
    }
}

/// A response: status line, headers, then a body by `Content-Length` or chunks.
fn read_answer(stream: &mut BufReader<TcpStream>) -> std::io::Result<Answer> {
    let mut line = String::new();
    stream.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        stream.read_exact(&mut body)?;
    }
    Ok(Answer { status, body })
}

/// One request on a fresh connection.
pub fn http(address: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Answer {
    http_with(address, method, path, body, &[])
}

pub fn http_with(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    Connection::open(address)
        .request(method, path, headers, bytes.as_deref())
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// acteon serve

/// `acteon serve` on a free port; killed on drop.
pub struct Served {
    child: Child,
    pub address: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Served {
    /// The seed pipeline with dry-run providers, and `extra` flags.
    pub fn seed(extra: &[&str]) -> Served {
        Served::start(
            &seed("pipeline.acteon"),
            &["--dry-run", "{dir}/dry-run"],
            extra,
        )
    }

    /// `script` with `flags` (`{dir}` is the served instance's own temporary directory). The
    /// audit goes to a file there: the seed's own audit sink is the local AWS emulator's
    /// DynamoDB, which these tests do not need.
    pub fn start(script: &Path, flags: &[&str], extra: &[&str]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let place = |flag: &&str| flag.replace("{dir}", &dir.path().display().to_string());
        let mut child = Command::new(env!("CARGO_BIN_EXE_acteon"))
            .arg("serve")
            .arg(script)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--watch-interval",
                "0s",
                "--no-source",
            ])
            .args(["--audit", &format!("{}/audit.jsonl", dir.path().display())])
            .args(flags.iter().map(place))
            .args(extra.iter().map(place))
            .current_dir(repo())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the acteon binary runs");
        let stderr = child.stderr.take().unwrap();
        let (found, listening) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("Listening on ") {
                    let _ = found.send(address.trim().parse::<SocketAddr>().unwrap());
                }
            }
        });
        let address = match listening.recv_timeout(Duration::from_secs(120)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("acteon serve did not listen within 120 s");
            }
        };
        Served {
            child,
            address,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Dispatches one action; its decision.
    pub fn dispatch(&self, action: &Value) -> Value {
        self.dispatch_as(action, None)
    }

    pub fn dispatch_as(&self, action: &Value, key: Option<&str>) -> Value {
        let auth = key.map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let answer = http_with(self.address, "POST", "/v1/dispatch", Some(action), &headers);
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.json()
    }

    pub fn get(&self, path: &str) -> Value {
        let answer = http(self.address, "GET", path, None);
        assert_eq!(
            answer.status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.json()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The browser

/// Fails (never skips) when the browser is not installed.
pub fn require_chromium() {
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: install Debian's chromium and chromium-driver packages \
             (scripts/chromium.sh does it, and scripts/test.sh runs that first)"
        );
    }
}

/// Headless Chromium under chromedriver, one WebDriver session; both end on drop.
pub struct Browser {
    driver: Child,
    address: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A found element's WebDriver id.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    pub fn start() -> Browser {
        require_chromium();
        let port = free_port();
        let profile = tempfile::tempdir().unwrap();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: dropping it ends Chromium's processes with it.
            .process_group(0)
            .spawn()
            .expect("chromedriver runs");
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut browser = Browser {
            driver,
            address,
            session: String::new(),
            _profile: profile,
        };
        let started = Instant::now();
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = browser._profile.path().display().to_string();
        let answer = browser.command(
            "POST",
            "/session",
            Some(json!({
                "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--disable-dev-shm-usage", "--hide-scrollbars",
                            "--force-color-profile=srgb", "--window-size=1400,1000",
                            format!("--user-data-dir={profile}"),
                        ],
                    },
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "timeouts": { "script": 30000, "pageLoad": 30000, "implicit": 0 },
                }}
            })),
        );
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        browser
    }

    /// A WebDriver command; its `value`. Panics on a WebDriver error.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = self.try_command(method, path, body);
        match answer {
            Ok(value) => value,
            Err(error) => panic!("WebDriver {method} {path}: {error}"),
        }
    }

    fn try_command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let answer = http(self.address, method, path, body.as_ref());
        let mut json = answer.json();
        let value = json["value"].take();
        match answer.status {
            200 => Ok(if path == "/session" {
                json!({ "sessionId": value["sessionId"] })
            } else {
                value
            }),
            _ => Err(value),
        }
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    pub fn goto(&self, url: &str) {
        self.command("POST", &self.at("/url"), Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; what it returns.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            &self.at("/execute/sync"),
            Some(json!({ "script": script, "args": args })),
        )
    }

    fn find_now(&self, css: &str) -> Option<Element> {
        self.try_command(
            "POST",
            &self.at("/element"),
            Some(json!({ "using": "css selector", "value": css })),
        )
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(|id| Element(id.to_owned())))
    }

    /// The first element matching `css`, waiting up to `within` for it to appear.
    pub fn find(&self, css: &str, within: Duration) -> Element {
        let started = Instant::now();
        loop {
            if let Some(element) = self.find_now(css) {
                return element;
            }
            assert!(
                started.elapsed() < within,
                "no `{css}` within {within:?} at {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn exists(&self, css: &str) -> bool {
        self.find_now(css).is_some()
    }

    pub fn click(&self, element: &Element) {
        self.command(
            "POST",
            &self.at(&format!("/element/{}/click", element.0)),
            Some(json!({})),
        );
    }

    pub fn clear(&self, element: &Element) {
        self.command(
            "POST",
            &self.at(&format!("/element/{}/clear", element.0)),
            Some(json!({})),
        );
    }

    pub fn type_text(&self, element: &Element, text: &str) {
        self.command(
            "POST",
            &self.at(&format!("/element/{}/value", element.0)),
            Some(json!({ "text": text })),
        );
    }

    pub fn text(&self, element: &Element) -> String {
        self.command(
            "GET",
            &self.at(&format!("/element/{}/text", element.0)),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub fn url(&self) -> String {
        self.try_command("GET", &self.at("/url"), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Waits up to `within` until `expression` (JavaScript) is truthy in the page.
    pub fn wait_until(&self, expression: &str, within: Duration) {
        let started = Instant::now();
        let script = format!("return !!({expression});");
        loop {
            if self.execute(&script, json!([])) == json!(true) {
                return;
            }
            assert!(
                started.elapsed() < within,
                "`{expression}` did not hold within {within:?} at {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens a console page and waits until it has shown its first data.
    pub fn open(&self, url: &str, page: &str) {
        self.goto(url);
        self.wait_until(
            &format!("document.documentElement.dataset.ready === {}", json!(page)),
            Duration::from_secs(30),
        );
    }

    /// The browser's console messages since the last call (errors, warnings, failed loads).
    pub fn logs(&self) -> Vec<Value> {
        self.command(
            "POST",
            &self.at("/se/log"),
            Some(json!({ "type": "browser" })),
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// The console's error messages since the last call.
    pub fn errors(&self) -> Vec<String> {
        self.logs()
            .into_iter()
            .filter(|l| l["level"] == "SEVERE")
            .map(|l| l["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Resizes the window (screenshots show the viewport).
    pub fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            &self.at("/window/rect"),
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.command("GET", &self.at("/screenshot"), None);
        let png = base64_decode(encoded.as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.try_command("DELETE", &format!("/session/{}", self.session), None);
        }
        // The whole group: chromedriver and any Chromium process it left.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c) << (18 - 6 * i);
        }
        let keep = chunk.len() - 1;
        out.extend_from_slice(&n.to_be_bytes()[1..1 + keep]);
    }
    out
}

#[test]
fn base64_decodes_with_and_without_padding() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
