//! The web console in a real browser: headless Chromium (the distribution's package, driven
//! through chromedriver) against `acteon serve` on the seed pipeline with dry-run providers.
//! Each test starts its own server and browser and ends both.
//!
//! Screenshots for the README are written to `$ACTEON_CONSOLE_SCREENSHOTS` (default: the
//! target directory's `console-screenshots/`); `ACTEON_CONSOLE_SCREENSHOTS=docs/images` makes
//! the README's pictures.

mod console_support;

use console_support::*;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn screenshots() -> PathBuf {
    match std::env::var_os("ACTEON_CONSOLE_SCREENSHOTS") {
        Some(dir) => repo().join(dir),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots"),
    }
}

/// Every page opened (with its first data shown) and no error in the browser's console.
fn assert_clean(browser: &Browser, what: &str) {
    let errors = browser.errors();
    assert!(errors.is_empty(), "console errors on {what}: {errors:#?}");
}

/// Polls `check` every 50 ms until it holds, at most `within`.
fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn completed_chains(served: &Served) -> Vec<Value> {
    served.get("/v1/chains?status=completed")["chains"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn every_page_loads_with_no_console_error() {
    let served = Served::seed(&[]);
    for id in [
        "temp-crit-001",
        "temp-norm-001",
        "humid-000",
        "energy-001",
        "test-dev-001",
    ] {
        served.dispatch(&seed_event(id));
    }
    assert!(eventually(WAIT, || !completed_chains(&served).is_empty()));
    let chain = completed_chains(&served)[0]["chain_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = Browser::start();
    let pages = [
        ("/ui/overview", "overview"),
        ("/ui/audit", "audit"),
        ("/ui/audit?outcome=rerouted", "audit"),
        ("/ui/audit/temp-norm-001", "trail"),
        ("/ui/chains", "chains"),
        ("/ui/chains?status=completed", "chains"),
        (&format!("/ui/chains/{chain}"), "chain"),
        ("/ui/held", "held"),
        ("/ui/providers", "providers"),
        ("/ui/rules", "rules"),
        ("/ui/tail", "tail"),
    ];
    for (path, page) in pages {
        browser.open(&served.url(path), page);
        assert!(
            !browser.exists(".notice.error"),
            "{path} shows an error: {}",
            browser.text(&browser.find(".notice.error", WAIT))
        );
        assert_clean(&browser, path);
    }
    // `/ui` lands on the overview.
    browser.open(&served.url("/ui"), "overview");
    assert!(browser.url().ends_with("/ui/overview"));
    // The navigation follows links without reloading the page.
    browser.click(&browser.find("#nav a[data-page=rules]", WAIT));
    browser.wait_until("document.documentElement.dataset.ready === 'rules'", WAIT);
    assert!(browser.url().ends_with("/ui/rules"));
    assert_clean(&browser, "the navigation");
}

/// The rule names of the overview's table, in order.
fn overview_rules(browser: &Browser) -> Vec<String> {
    let names = browser.execute(
        "return [...document.querySelectorAll('#rule-counts tr[data-rule]')].map(r => r.dataset.rule);",
        json!([]),
    );
    serde_json::from_value(names).unwrap()
}

fn rule_count(browser: &Browser, rule: &str) -> String {
    browser
        .execute(
            "const row = document.querySelector(`#rule-counts tr[data-rule=\"${arguments[0]}\"] .decisions`); return row ? row.textContent : null;",
            json!([rule]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_landing_page_lists_the_plans_rules_with_counts_that_rise() {
    let served = Served::seed(&[]);
    let plan = served.get("/v1/plan");
    let expected: Vec<String> = plan["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    let browser = Browser::start();
    browser.open(&served.url("/ui"), "overview");
    assert_eq!(
        overview_rules(&browser),
        expected,
        "every rule, in evaluation order"
    );
    assert_eq!(rule_count(&browser, "critical-temperature-alert"), "0");
    assert_eq!(rule_count(&browser, "intrusion-alert"), "0");
    served.dispatch(&seed_event("temp-crit-001"));
    served.dispatch(&seed_event("motion-001"));
    served.dispatch(&seed_event("motion-002"));
    // The page updates every second, without a reload.
    browser.wait_until(
        "document.querySelector('#rule-counts tr[data-rule=\"intrusion-alert\"] .decisions').textContent === '2'",
        WAIT,
    );
    assert_eq!(rule_count(&browser, "critical-temperature-alert"), "1");
    // The seed's sample telemetry over a few seconds, for the chart and the screenshot.
    for (i, line) in std::fs::read_to_string(seed("telemetry.jsonl"))
        .unwrap()
        .lines()
        .enumerate()
    {
        let mut event: Value = serde_json::from_str(line).unwrap();
        event["id"] = json!(format!("{}-again", event["id"].as_str().unwrap()));
        served.dispatch(&event);
        if i % 4 == 3 {
            std::thread::sleep(Duration::from_millis(400));
        }
    }
    for n in 0..20 {
        served.dispatch(&json!({
            "id": format!("other-{n}"), "namespace": "iot", "tenant": "branch-office",
            "action_type": "device_lifecycle", "provider": "event-bus", "payload": { "n": n }
        }));
        if n % 4 == 3 {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    browser.wait_until(
        "Number(document.querySelector('#rule-counts tr[data-rule=\"chain-sensor-readings\"] .decisions').textContent) > 0",
        WAIT,
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert_clean(&browser, "the overview");
    browser.resize(1400, 1250);
    browser.screenshot(&screenshots().join("console-overview.png"));
}

/// Chooses `value` in the `select` named `name`.
fn choose(browser: &Browser, name: &str, value: &str) {
    browser.click(&browser.find(
        &format!("select[name={name}] option[value=\"{value}\"]"),
        WAIT,
    ));
}

fn column(browser: &Browser, css: &str, attribute: &str) -> Vec<String> {
    let values = browser.execute(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]));",
        json!([css, attribute]),
    );
    serde_json::from_value(values).unwrap()
}

#[test]
fn the_audit_explorer_filters_by_outcome_and_shows_one_actions_trail() {
    let served = Served::seed(&[]);
    for id in [
        "temp-crit-001",
        "test-dev-001",
        "firmware-001",
        "temp-norm-001",
        "test-dev-002",
    ] {
        served.dispatch(&seed_event(id));
    }
    // A provider's secret in the payload: the audit keeps it redacted.
    served.dispatch(&json!({
        "id": "lifecycle-secret", "namespace": "iot", "tenant": "smartbuilding-hq",
        "action_type": "device_lifecycle", "provider": "event-bus",
        "payload": { "device_id": "gw-1", "queue_url": "https://example.invalid/secret" }
    }));
    assert!(eventually(WAIT, || !completed_chains(&served).is_empty()));
    let browser = Browser::start();
    browser.open(&served.url("/ui/audit"), "audit");
    assert!(column(&browser, "#audit-results tr[data-outcome]", "data-outcome").len() >= 6);
    choose(&browser, "outcome", "suppressed");
    browser.click(&browser.find("#apply-filters", WAIT));
    browser.wait_until(
        "location.search.includes('outcome=suppressed') && document.documentElement.dataset.ready === 'audit'",
        WAIT,
    );
    let outcomes = column(&browser, "#audit-results tr[data-outcome]", "data-outcome");
    assert_eq!(
        outcomes,
        ["suppressed", "suppressed"],
        "the test devices only"
    );
    let text = browser.text(&browser.find("#audit-results", WAIT));
    assert!(
        text.contains("test-dev-001") && text.contains("test-dev-002"),
        "{text}"
    );
    assert!(!text.contains("temp-crit-001"));
    assert_clean(&browser, "the filtered audit");

    // One action's whole trail: its decision and every record of its chain.
    browser.open(&served.url("/ui/audit?outcome=chain_started"), "audit");
    browser.click(&browser.find("#audit-results a[href='/ui/audit/temp-norm-001']", WAIT));
    browser.wait_until("document.documentElement.dataset.ready === 'trail'", WAIT);
    let trail = column(&browser, "#trail li[data-outcome]", "data-outcome");
    assert_eq!(
        trail.first().map(String::as_str),
        Some("chain_started"),
        "{trail:?}"
    );
    assert_eq!(
        trail.last().map(String::as_str),
        Some("chain_completed"),
        "{trail:?}"
    );
    assert!(
        trail
            .iter()
            .filter(|o| *o == "chain_step_completed")
            .count()
            >= 2,
        "{trail:?}"
    );
    assert_clean(&browser, "the trail");

    // Redacted values are shown as redacted.
    browser.open(&served.url("/ui/audit/lifecycle-secret"), "trail");
    let redacted = browser.find("#trail .redacted", WAIT);
    assert_eq!(browser.text(&redacted).to_lowercase(), "redacted");
    assert!(!browser
        .text(&browser.find("#trail", WAIT))
        .contains("example.invalid"));
}

#[test]
fn the_chains_page_shows_a_completed_chains_path() {
    let served = Served::seed(&[]);
    served.dispatch(&seed_event("temp-norm-001"));
    assert!(eventually(WAIT, || !completed_chains(&served).is_empty()));
    let status = completed_chains(&served)[0].clone();
    let id = status["chain_id"].as_str().unwrap();
    let path: Vec<String> = serde_json::from_value(status["path"].clone()).unwrap();
    let browser = Browser::start();
    browser.open(&served.url("/ui/chains?status=completed"), "chains");
    browser.click(&browser.find(&format!("#chain-list a[href='/ui/chains/{id}']"), WAIT));
    browser.wait_until("document.documentElement.dataset.ready === 'chain'", WAIT);
    assert_eq!(
        browser.text(&browser.find("#chain-state", WAIT)),
        "completed"
    );
    let taken = column(&browser, "#chain-graph g.node.taken", "data-node");
    let mut expected = path.clone();
    expected.sort();
    let mut taken_sorted = taken.clone();
    taken_sorted.sort();
    assert_eq!(taken_sorted, expected, "the steps the chain ran are marked");
    assert!(
        !taken.contains(&"publish-event".to_owned()),
        "a branch not taken is not marked"
    );
    let edges = browser.execute(
        "return [...document.querySelectorAll('#chain-graph g.edge.taken')].map(e => e.dataset.from + '>' + e.dataset.to);",
        json!([]),
    );
    let edges: Vec<String> = serde_json::from_value(edges).unwrap();
    let steps: Vec<String> = path
        .windows(2)
        .map(|w| format!("{}>{}", w[0], w[1]))
        .collect();
    assert_eq!(edges.len(), steps.len(), "{edges:?}");
    for step in steps {
        assert!(edges.contains(&step), "{step} in {edges:?}");
    }
    assert!(
        !browser.exists("#cancel-chain"),
        "a finished chain cannot be cancelled"
    );
    assert_clean(&browser, "the chain page");
    browser.resize(1400, 1000);
    browser.screenshot(&screenshots().join("console-chain.png"));
}

#[test]
fn the_playground_shows_a_pasted_actions_verdict_and_the_matching_rule() {
    let served = Served::seed(&[]);
    let browser = Browser::start();
    browser.open(&served.url("/ui/rules"), "rules");
    let action = seed_event("temp-crit-001");
    let editor = browser.find("#playground-action", WAIT);
    browser.clear(&editor);
    browser.type_text(&editor, &serde_json::to_string_pretty(&action).unwrap());
    browser.click(&browser.find("#playground-run", WAIT));
    browser.wait_until("document.querySelector('#verdict-rule') !== null", WAIT);
    assert_eq!(
        browser.text(&browser.find("#verdict-outcome", WAIT)),
        "rerouted"
    );
    assert_eq!(
        browser.text(&browser.find("#verdict-rule", WAIT)),
        "critical-temperature-alert"
    );
    let matched = column(
        &browser,
        "#playground-result tr[data-matched=true]",
        "data-rule",
    );
    assert_eq!(
        matched.last().map(String::as_str),
        Some("critical-temperature-alert")
    );
    // Each condition with the value it read.
    let row = browser.text(&browser.find(
        "#playground-result tr[data-rule=critical-temperature-alert]",
        WAIT,
    ));
    assert!(
        row.contains("payload.value > devices[payload.device_id].max_temp ?? 85")
            && row.contains("92"),
        "{row}"
    );
    // The case is in the URL, to share.
    assert!(browser.url().contains("action="));
    assert_clean(&browser, "the playground");
    browser.resize(1400, 1000);
    browser.execute(
        "window.scrollTo(0, 0); document.querySelector('#playground-action').scrollTop = 0;",
        json!([]),
    );
    browser.screenshot(&screenshots().join("console-playground.png"));
    // Without touching any window: the same action dispatched for real is a first sighting.
    let decision = served.dispatch(&action);
    assert_eq!(decision["outcome"], "rerouted", "{decision}");
}

#[test]
fn the_live_tail_shows_a_dispatch_made_while_it_is_open() {
    let served = Served::seed(&[]);
    let browser = Browser::start();
    browser.open(&served.url("/ui/tail"), "tail");
    browser.wait_until(
        "document.querySelector('#tail-state').textContent === 'live'",
        WAIT,
    );
    served.dispatch(&seed_event("motion-001"));
    browser.find(
        "#tail-rows tr[data-action='motion-001'][data-outcome=rerouted]",
        WAIT,
    );
    // Paused, nothing new is shown; resumed, what came meanwhile is.
    browser.click(&browser.find("#tail-pause", WAIT));
    served.dispatch(&seed_event("temp-crit-001"));
    browser.wait_until(
        "document.querySelector('#tail-count').textContent.includes('1 waiting')",
        WAIT,
    );
    assert!(!browser.exists("#tail-rows tr[data-action='temp-crit-001']"));
    browser.click(&browser.find("#tail-pause", WAIT));
    browser.find("#tail-rows tr[data-action='temp-crit-001']", WAIT);
    // The server ends each stream after a few seconds; the page connects again by itself.
    std::thread::sleep(Duration::from_secs(6));
    served.dispatch(&seed_event("lifecycle-001"));
    browser.find("#tail-rows tr[data-action='lifecycle-001']", WAIT);
    assert_clean(&browser, "the tail");
    // Filtered on the server: only what is asked for comes.
    browser.open(&served.url("/ui/tail?outcome=denied"), "tail");
    browser.wait_until(
        "document.querySelector('#tail-state').textContent === 'live'",
        WAIT,
    );
    served.dispatch(&seed_event("motion-002"));
    served.dispatch(&seed_event("firmware-001"));
    browser.find("#tail-rows tr[data-action='firmware-001']", WAIT);
    assert!(!browser.exists("#tail-rows tr[data-action='motion-002']"));
}

#[test]
fn a_tenant_limited_key_sees_only_its_tenants_records() {
    let served = Served::seed(&["--api-key", "admin", "--api-key", "hq-key:smartbuilding-hq"]);
    served.dispatch_as(&seed_event("temp-crit-001"), Some("admin"));
    let other = |id: &str| {
        json!({
            "id": id, "namespace": "iot", "tenant": "branch-office",
            "action_type": "device_lifecycle", "provider": "event-bus", "payload": {}
        })
    };
    served.dispatch_as(&other("branch-1"), Some("admin"));
    let browser = Browser::start();
    browser.goto(&served.url("/ui/audit"));
    // The page asks for a key.
    let input = browser.find("#key-input", WAIT);
    browser.wait_until("document.querySelector('#key-dialog').open", WAIT);
    browser.type_text(&input, "hq-key");
    browser.click(&browser.find("#key-submit", WAIT));
    browser.wait_until(
        "document.documentElement.dataset.ready === 'audit' && document.querySelector('#audit-results table')",
        WAIT,
    );
    assert_eq!(
        browser.text(&browser.find("#key-tenants", WAIT)),
        "key: tenant smartbuilding-hq"
    );
    let text = browser.text(&browser.find("#audit-results", WAIT));
    assert!(text.contains("temp-crit-001"), "{text}");
    assert!(
        !text.contains("branch-1") && !text.contains("branch-office"),
        "{text}"
    );
    // Asked for before the first call: no refused request.
    assert_clean(&browser, "the key dialog");
    // The live tail and the overview too.
    browser.open(&served.url("/ui/tail"), "tail");
    browser.wait_until(
        "document.querySelector('#tail-state').textContent === 'live'",
        WAIT,
    );
    served.dispatch_as(&other("branch-2"), Some("admin"));
    served.dispatch_as(&seed_event("motion-001"), Some("admin"));
    browser.find("#tail-rows tr[data-action='motion-001']", WAIT);
    assert!(!browser.exists("#tail-rows tr[data-action='branch-2']"));
    browser.open(&served.url("/ui/overview"), "overview");
    browser.wait_until(
        "document.querySelector('#rule-counts tr[data-rule=\"intrusion-alert\"] .decisions').textContent === '1'",
        WAIT,
    );
    // Three actions of other tenants decided by no rule: none is counted for this key.
    assert!(!browser.exists("#rule-counts tr[data-rule='(no rule: own provider)']"));
    assert_clean(&browser, "the limited key's pages");
}

/// Accepts connections and never answers: a provider that keeps a chain's step waiting.
fn silent_listener() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        let started = Instant::now();
        // Bounded: the test is over long before this.
        while !stopping.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(300) {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (port, stop)
}

#[test]
fn a_running_chain_is_cancelled_from_the_chains_page() {
    // The seed pipeline, its normalizer Lambda pointed at a listener that never answers: live
    // providers are the only ones that can keep a chain's step waiting (a dry run answers at
    // once). No other provider is called here.
    let (port, stop) = silent_listener();
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "safety.acteon",
        "processing.acteon",
        "routing.acteon",
        "devices.jsonl",
    ] {
        std::fs::copy(seed(file), dir.path().join(file)).unwrap();
    }
    let pipeline = std::fs::read_to_string(seed("pipeline.acteon")).unwrap();
    let normalizer = pipeline.find("provider telemetry-normalizer").unwrap();
    let endpoint = normalizer
        + pipeline[normalizer..]
            .find("http://127.0.0.1:4566")
            .unwrap();
    let pipeline = format!(
        "{}http://127.0.0.1:{port}{}",
        &pipeline[..endpoint],
        &pipeline[endpoint + "http://127.0.0.1:4566".len()..]
    );
    std::fs::write(dir.path().join("pipeline.acteon"), pipeline).unwrap();
    let served = Served::start(&dir.path().join("pipeline.acteon"), &[], &[]);
    // Not waited for: the decision's epoch closes only once the step's call has answered.
    let address = served.address;
    std::thread::spawn(move || {
        http(
            address,
            "POST",
            "/v1/dispatch",
            Some(&seed_event("temp-norm-001")),
        )
    });
    let running = || {
        served.get("/v1/chains?status=running")["chains"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        eventually(WAIT, || !running().is_empty()),
        "no running chain"
    );
    let id = running()[0]["chain_id"].as_str().unwrap().to_owned();
    let browser = Browser::start();
    browser.open(&served.url("/ui/chains"), "chains");
    browser.find(
        &format!("#chain-list tr[data-chain='{id}'] button[data-cancel]"),
        WAIT,
    );
    browser.click(&browser.find(&format!("#chain-list a[href='/ui/chains/{id}']"), WAIT));
    browser.wait_until("document.documentElement.dataset.ready === 'chain'", WAIT);
    // The step it waits on.
    assert_eq!(
        browser.text(&browser.find("#chain-waits-on", WAIT)),
        "normalize"
    );
    assert_eq!(
        column(&browser, "#chain-graph g.node.current", "data-node"),
        ["normalize"]
    );
    assert_clean(&browser, "a running chain");
    browser.click(&browser.find("#cancel-chain", WAIT));
    browser.wait_until(
        "document.querySelector('#chain-state').textContent === 'cancelled'",
        WAIT,
    );
    let status = served.get(&format!("/v1/chains/{id}"));
    assert_eq!(status["state"], "cancelled", "{status}");
    assert!(!browser.exists("#cancel-chain"));
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn tripping_a_breaker_on_the_providers_page_shows_it_open_in_the_health_answer() {
    let served = Served::seed(&[]);
    let browser = Browser::start();
    browser.open(&served.url("/ui/providers"), "providers");
    browser.click(&browser.find("button[data-trip='alert-fanout']", WAIT));
    browser.find("tr[data-provider='alert-fanout'] [data-breaker=open]", WAIT);
    let health = served.get("/v1/providers/health");
    let fanout = health["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "alert-fanout")
        .unwrap()
        .clone();
    assert_eq!(fanout["circuit_breaker_state"], "open", "{fanout}");
    assert_eq!(fanout["healthy"], false);
    browser.click(&browser.find("button[data-reset='alert-fanout']", WAIT));
    browser.find(
        "tr[data-provider='alert-fanout'] [data-breaker=closed]",
        WAIT,
    );
    assert_clean(&browser, "the providers page");
}

#[test]
fn the_held_state_page_flushes_a_group_now() {
    let served = Served::seed(&[]);
    served.dispatch(&seed_event("humid-000"));
    let browser = Browser::start();
    browser.open(&served.url("/ui/held"), "held");
    let row = browser.find("#groups tr[data-rule='group-humidity-readings']", WAIT);
    assert!(browser.text(&row).contains("Flush now"));
    browser.click(&browser.find("#groups button[data-flush]", WAIT));
    browser.wait_until(
        "document.querySelector('#groups tr[data-rule]') === null && document.querySelector('#held-messages .ok')",
        WAIT,
    );
    let flushed = served.get("/v1/audit?outcome=group_flushed");
    assert_eq!(flushed["records"].as_array().unwrap().len(), 1, "{flushed}");
    assert_clean(&browser, "the held state page");
}

/// Load like the HTTP benchmark's (`benches/http/dispatch.lua`: 64 keep-alive clients sending
/// single dispatches; here a sensor reading outside the seed's tenant) until `stop`; the dispatches.
fn load(address: std::net::SocketAddr, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<u64>> {
    (0..64)
        .map(|client| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut connection = Connection::open(address);
                let mut n = 0u64;
                let started = Instant::now();
                // Bounded by the flag, and by time should the test fail before setting it.
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                    let body = json!({
                        "id": format!("bench-{client}-{n}"), "namespace": "iot", "tenant": "bench",
                        "provider": "metrics-queue", "action_type": "sensor_reading",
                        "payload": { "device_id": format!("temp-sensor-{client}"), "sensor_type": "temperature", "value": 21 }
                    });
                    let bytes = serde_json::to_vec(&body).unwrap();
                    match connection.request("POST", "/v1/dispatch", &[], Some(&bytes)) {
                        Ok(answer) if answer.status == 200 => n += 1,
                        Ok(_) => {}
                        Err(_) => connection = Connection::open(address),
                    }
                }
                n
            })
        })
        .collect()
}

/// How long a page took to load in the browser, in ms: from the navigation's start until its
/// first data was shown and every request it made for it had ended.
fn load_time(browser: &Browser, url: &str, page: &str) -> f64 {
    browser.goto("about:blank");
    browser.open(url, page);
    let measured = browser.execute(
        "const ready = window.__acteon.readyAt;
         const ends = performance.getEntriesByType('resource')
           .filter(e => e.startTime <= ready).map(e => e.responseEnd);
         const nav = performance.getEntriesByType('navigation')[0];
         return Math.max(ready, nav ? nav.responseEnd : 0, ...ends);",
        json!([]),
    );
    measured.as_f64().unwrap()
}

#[test]
fn the_console_stays_responsive_under_the_http_benchmarks_load() {
    let served = Served::seed(&[]);
    for id in ["temp-crit-001", "temp-norm-001", "humid-000"] {
        served.dispatch(&seed_event(id));
    }
    let browser = Browser::start();
    // Once unloaded, for the browser's own start-up.
    browser.open(&served.url("/ui/overview"), "overview");
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients = load(served.address, stop.clone());
    // As long as the benchmark's own run of single dispatches (10 s) with the loads below.
    std::thread::sleep(Duration::from_secs(5));
    let mut times: Vec<(&str, Vec<f64>)> = vec![("overview", Vec::new()), ("audit", Vec::new())];
    for _ in 0..5 {
        for (page, measured) in times.iter_mut() {
            measured.push(load_time(
                &browser,
                &served.url(&format!("/ui/{page}")),
                page,
            ));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let dispatched: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let rate = dispatched as f64 / started.elapsed().as_secs_f64();
    let records = served.get("/health")["audit_records"].as_u64().unwrap();
    let mut report = json!({ "dispatches_per_second": rate.round(), "audit_records": records });
    for (page, measured) in &times {
        let mut sorted = measured.clone();
        sorted.sort_by(f64::total_cmp);
        report[page] = json!({ "median_ms": sorted[sorted.len() / 2].round(), "max_ms": sorted.last().unwrap().round(), "runs": measured });
        println!(
            "{page}: median {:.0} ms, max {:.0} ms over {} loads, while {rate:.0} dispatches/s were served",
            sorted[sorted.len() / 2],
            sorted.last().unwrap(),
            sorted.len()
        );
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-load.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    assert!(dispatched > 0, "the load made no dispatch");
    for (page, measured) in &times {
        for ms in measured {
            assert!(*ms < 1000.0, "{page} took {ms:.0} ms under load: {report}");
        }
    }
    assert_clean(&browser, "the pages under load");
}
