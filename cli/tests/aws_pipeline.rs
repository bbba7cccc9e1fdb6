//! The seed pipeline and a breaker fault, run through the binary with real providers against
//! the local AWS emulator. `scripts/services.sh up aws` starts it; these tests fail, never
//! skip, when it does not answer.

use acteon_aws::AwsProviders;
use acteon_delivery::Policy;
use acteon_dsl::plan::AwsConnection;
use aws_config::SdkConfig;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BUILDING_ALERTS: &str = "arn:aws:sns:us-east-1:000000000000:building-alerts";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn connection(port: u16) -> AwsConnection {
    AwsConnection {
        region: Some("us-east-1".into()),
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        ..AwsConnection::default()
    }
}

fn answers(port: u16) -> bool {
    let address = format!("127.0.0.1:{port}").parse().unwrap();
    TcpStream::connect_timeout(&address, Duration::from_secs(1))
        .and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
            let mut head = [0u8; 12];
            stream.read_exact(&mut head)?;
            Ok(head.starts_with(b"HTTP/1."))
        })
        .unwrap_or(false)
}

fn require_emulator() {
    assert!(
        answers(4566),
        "the AWS emulator does not answer on 127.0.0.1:4566: run `scripts/services.sh up aws`"
    );
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

struct Aws {
    providers: AwsProviders,
    config: SdkConfig,
}

impl Aws {
    fn at(port: u16) -> Aws {
        let providers = AwsProviders::new(Policy::default()).unwrap();
        let config = providers.sdk_config(&connection(port));
        Aws { providers, config }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.providers.runtime().block_on(future)
    }

    /// A fresh queue: (url, arn).
    fn queue(&self, name: &str) -> (String, String) {
        let sqs = aws_sdk_sqs::Client::new(&self.config);
        self.block_on(async {
            let url = sqs.create_queue().queue_name(name).send().await.unwrap();
            let url = url.queue_url().unwrap().to_owned();
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap();
            let arn = attributes.attributes().unwrap()
                [&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
                .clone();
            (url, arn)
        })
    }

    /// A fresh queue that receives every message of `topic_arn`, raw.
    fn subscribed_queue(&self, topic_arn: &str) -> String {
        let (url, arn) = self.queue(&unique("alerts-copy"));
        let sns = aws_sdk_sns::Client::new(&self.config);
        self.block_on(
            sns.subscribe()
                .topic_arn(topic_arn)
                .protocol("sqs")
                .endpoint(arn)
                .attributes("RawMessageDelivery", "true")
                .send(),
        )
        .unwrap();
        url
    }

    /// A fresh queue that receives every event on the seed's bus matching `pattern`.
    fn bus_copy(&self, pattern: &str) -> String {
        let (url, arn) = self.queue(&unique("events-copy"));
        let bus = aws_sdk_eventbridge::Client::new(&self.config);
        let rule = unique("copy");
        self.block_on(async {
            bus.put_rule()
                .name(&rule)
                .event_bus_name("building-events")
                .event_pattern(pattern)
                .send()
                .await
                .unwrap();
            let target = aws_sdk_eventbridge::types::Target::builder()
                .id("copy")
                .arn(arn)
                .build()
                .unwrap();
            bus.put_targets()
                .rule(&rule)
                .event_bus_name("building-events")
                .targets(target)
                .send()
                .await
                .unwrap();
        });
        url
    }

    /// Every message that `keep`s and arrives within `receives` one-second polls, stopping at
    /// `expected`. The seed's topic, bus and queues are shared by the tests running beside this
    /// one, so each test keeps only the messages of its own actions.
    fn drain(
        &self,
        queue_url: &str,
        expected: usize,
        receives: usize,
        keep: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let sqs = aws_sdk_sqs::Client::new(&self.config);
        let mut bodies = Vec::new();
        for _ in 0..receives {
            if bodies.len() >= expected {
                break;
            }
            let output = self
                .block_on(
                    sqs.receive_message()
                        .queue_url(queue_url)
                        .max_number_of_messages(10)
                        .wait_time_seconds(1)
                        .send(),
                )
                .unwrap();
            for message in output.messages() {
                let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
                if keep(&body) {
                    bodies.push(body);
                }
            }
        }
        bodies
    }
}

/// `acteon run` of the seed pipeline over `input` with real providers; it must succeed.
fn run_seed_pipeline(input: &Path, extra: &[&std::ffi::OsStr]) {
    let out = Command::new(env!("CARGO_BIN_EXE_acteon"))
        .args([
            "run",
            "pipelines/aws-event-pipeline/pipeline.acteon",
            "--input",
        ])
        .arg(input)
        .args(extra)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn setup_seed_resources() {
    let status = Command::new("bash")
        .arg(repo().join("pipelines/aws-event-pipeline/scripts/setup.sh"))
        .status()
        .unwrap();
    assert!(status.success(), "setup.sh failed");
}

/// Copies of what the seed pipeline sends: a queue subscribed to the alerts topic, and a
/// queue receiving the bus's lifecycle events. Returns their URLs.
fn watch_seed_outputs(aws: &Aws) -> (String, String) {
    let alerts = aws.subscribed_queue(BUILDING_ALERTS);
    let events = aws.bus_copy(r#"{"detail-type": ["device_lifecycle"]}"#);
    (alerts, events)
}

/// Empties the audit's partition for the seed's tenant, so what is read back is this run's.
fn clear_seed_audit(aws: &Aws) {
    let table = aws.providers.audit_table("acteon_audit", &connection(4566));
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws.config);
    aws.block_on(async {
        for _ in 0..20 {
            let page = table
                .query("iot", "smartbuilding-hq", None, None, 25, None)
                .await
                .unwrap();
            if page.records.is_empty() {
                break;
            }
            for record in page.records {
                let id = record["id"].as_str().unwrap();
                // The record and its guard, which would keep the next run from writing a
                // record of the same id.
                let record_key = format!("{}#{id}", record["dispatched_at"].as_str().unwrap());
                for sk in [record_key, acteon_aws::audit::guard_key(id)] {
                    dynamodb
                        .delete_item()
                        .table_name("acteon_audit")
                        .key(
                            "pk",
                            aws_sdk_dynamodb::types::AttributeValue::S(
                                "iot#smartbuilding-hq".into(),
                            ),
                        )
                        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
    });
}

/// Every audit record of the seed's tenant in the DynamoDB table.
fn read_seed_audit(aws: &Aws) -> Vec<Value> {
    let table = aws.providers.audit_table("acteon_audit", &connection(4566));
    aws.block_on(table.query_pages("iot", "smartbuilding-hq", (None, None), 100, 20))
        .unwrap()
}

/// An action carrying keys the seed script redacts, at any depth.
fn redacted_action() -> Value {
    json!({
        "id": "config-001", "namespace": "iot", "tenant": "smartbuilding-hq",
        "provider": "local-fallback", "action_type": "device_config",
        "payload": { "queue_url": "http://127.0.0.1:4566/000000000000/private",
                     "target": { "function_arn": "arn:aws:lambda:us-east-1:000000000000:function:x" },
                     "keep": "visible" },
        "created_at": "2026-11-28T09:00:00Z"
    })
}

fn assert_redacted(record: &Value) {
    assert_eq!(record["payload"]["queue_url"], "[REDACTED]", "{record}");
    assert_eq!(record["payload"]["target"]["function_arn"], "[REDACTED]");
    assert_eq!(record["payload"]["keep"], "visible");
    assert!(
        record["expires_at"].is_string(),
        "the audit TTL gives an expiry"
    );
}

#[test]
fn the_seed_pipeline_delivers_to_aws_and_audits_to_dynamodb() {
    require_emulator();
    setup_seed_resources();
    let aws = Aws::at(4566);
    let (alerts, events) = watch_seed_outputs(&aws);
    clear_seed_audit(&aws);

    // The seed's telemetry, plus one action carrying keys the script redacts.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("telemetry.jsonl");
    let mut lines =
        std::fs::read_to_string(repo().join("pipelines/aws-event-pipeline/telemetry.jsonl"))
            .unwrap();
    lines.push_str(&redacted_action().to_string());
    lines.push('\n');
    std::fs::write(&input, lines).unwrap();
    run_seed_pipeline(&input, &[]);

    let alerting = [
        "temp-sensor-301",
        "temp-sensor-501",
        "motion-sensor-101",
        "motion-sensor-B01",
    ];
    let mut sent = aws.drain(&alerts, 4, 10, |m| {
        alerting.contains(&m["device_id"].as_str().unwrap_or_default())
    });
    sent.sort_by_key(|m| m["device_id"].as_str().map(str::to_owned));
    let alerted: Vec<(&str, &str)> = sent
        .iter()
        .map(|m| {
            (
                m["device_id"].as_str().unwrap(),
                m["sensor_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(alerted.len(), 4, "{sent:?}");
    assert!(
        alerted
            .iter()
            .filter(|(_, kind)| *kind == "temperature")
            .count()
            == 2,
        "{sent:?}"
    );
    assert!(
        alerted.iter().filter(|(_, kind)| *kind == "motion").count() == 2,
        "{sent:?}"
    );
    let lifecycle = aws.drain(&events, 1, 10, |_| true);
    assert_eq!(lifecycle.len(), 1, "{lifecycle:?}");
    assert_eq!(lifecycle[0]["source"], "acteon");
    assert_eq!(lifecycle[0]["detail"]["device_id"], "temp-sensor-301");
    assert_eq!(lifecycle[0]["detail"]["event"], "online");

    let records = read_seed_audit(&aws);
    let of =
        |id: &str| -> Vec<&Value> { records.iter().filter(|r| r["action_id"] == id).collect() };
    for line in std::fs::read_to_string(&input).unwrap().lines() {
        let id = serde_json::from_str::<Value>(line).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!of(&id).is_empty(), "no audit record for {id}");
    }
    for id in ["temp-crit-001", "temp-crit-002", "motion-001", "motion-002"] {
        let record = of(id)[0];
        assert_eq!(record["outcome"], "rerouted", "{record}");
        assert_eq!(record["target"], "alert-fanout");
        assert_eq!(record["details"]["delivery"]["attempts"], 1, "{record}");
        assert!(record["details"]["delivery"]["response"]["message_id"].is_string());
    }
    let lifecycle_record = of("lifecycle-001")[0];
    assert_eq!(lifecycle_record["target"], "event-bus");
    assert!(lifecycle_record["details"]["delivery"]["response"]["event_id"].is_string());
    assert_redacted(of("config-001")[0]);
}

/// A seed-shaped sensor reading of `device` (its id too), `value` in `sensor_type`'s unit.
fn reading(device: &str, sensor_type: &str, value: u32) -> String {
    json!({
        "id": device, "namespace": "iot", "tenant": "smartbuilding-hq",
        "provider": "metrics-queue", "action_type": "sensor_reading", "dedup_key": device,
        "payload": { "device_id": device, "sensor_type": sensor_type, "value": value,
                     "unit": "unit", "floor": "9", "zone": "test" },
        "created_at": "2026-11-28T10:00:00Z"
    })
    .to_string()
}

/// Each audit record of `id` as (outcome, step, chain id), in written order.
fn chain_trail(records: &[Value], id: &str) -> Vec<(String, Option<String>, Option<String>)> {
    records
        .iter()
        .filter(|r| r["action_id"] == id)
        .map(|r| {
            (
                r["outcome"].as_str().unwrap().to_owned(),
                r["details"]["step"].as_str().map(str::to_owned),
                r["chain_id"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn the_processing_chain_archives_a_normal_reading_and_alerts_on_an_anomaly() {
    require_emulator();
    setup_seed_resources();
    let aws = Aws::at(4566);
    let alerts = aws.subscribed_queue(BUILDING_ALERTS);
    let events = aws.bus_copy(r#"{"detail-type": ["CriticalAlert"]}"#);
    let normal = unique("chain-normal");
    // Energy over 1000 kWh is the detector's anomaly; the reading is first held 60 s by the
    // schedule rule, then released at the end of the input and chained.
    let anomalous = unique("chain-anomaly");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("readings.jsonl");
    std::fs::write(
        &input,
        format!(
            "{}\n{}\n",
            reading(&normal, "temperature", 21),
            reading(&anomalous, "energy", 1500)
        ),
    )
    .unwrap();
    let audit = dir.path().join("audit.jsonl");
    run_seed_pipeline(&input, &["--audit".as_ref(), audit.as_os_str()]);

    let metrics = "http://127.0.0.1:4566/000000000000/telemetry-metrics";
    let archived = aws.drain(metrics, 1, 30, |m| m["device_id"] == normal.as_str());
    assert_eq!(archived.len(), 1, "no archive message for {normal}");
    assert_eq!(archived[0]["processed"], "true");
    assert_eq!(
        archived[0]["value"], 21,
        "a whole-reference template keeps the number"
    );
    let alerted = aws.drain(&alerts, 1, 10, |m| m["device_id"] == anomalous.as_str());
    assert_eq!(alerted.len(), 1, "no SNS alert for {anomalous}");
    assert_eq!(alerted[0]["severity"], "critical");
    let published = aws.drain(&events, 1, 10, |m| {
        m["detail"]["device_id"] == anomalous.as_str()
    });
    assert_eq!(published.len(), 1, "no EventBridge event for {anomalous}");
    assert_eq!(published[0]["source"], "acteon.iot");
    assert_eq!(published[0]["detail"]["value"], 1500);

    let records: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let owned = |outcome: &str, step: Option<&str>, chain: &str| {
        (
            outcome.to_owned(),
            step.map(str::to_owned),
            Some(chain.to_owned()),
        )
    };
    let processing = format!("{normal}/telemetry-processing");
    assert_eq!(
        chain_trail(&records, &normal),
        [
            owned("chain_started", None, &processing),
            owned("chain_step_completed", Some("normalize"), &processing),
            owned("chain_step_completed", Some("detect-anomaly"), &processing),
            owned("chain_step_completed", Some("archive-metrics"), &processing),
            owned("chain_completed", None, &processing),
        ]
    );
    let processing = format!("{anomalous}/telemetry-processing");
    let alert = format!("{processing}/publish-event");
    let trail = chain_trail(&records, &anomalous);
    assert_eq!(trail[0].0, "scheduled", "{trail:?}");
    assert_eq!(
        trail[1..],
        [
            owned("chain_started", None, &processing),
            owned("chain_step_completed", Some("normalize"), &processing),
            owned("chain_step_completed", Some("detect-anomaly"), &processing),
            owned("chain_step_completed", Some("fan-out-alert"), &alert),
            owned("chain_step_completed", Some("publish-to-bus"), &alert),
            owned("chain_completed", None, &alert),
            owned("chain_step_completed", Some("publish-event"), &processing),
            // The seed's chain: normalize -> detect -> publish -> archive, every reading archived.
            owned("chain_step_completed", Some("archive-metrics"), &processing),
            owned("chain_completed", None, &processing),
        ]
    );
}

/// A private emulator on its own port, so that stopping it disturbs no other test.
struct Emulator {
    port: u16,
    child: Option<Child>,
}

impl Emulator {
    fn start() -> Emulator {
        let port = free_port();
        let mut emulator = Emulator { port, child: None };
        emulator.restart();
        emulator
    }

    fn restart(&mut self) {
        let python = repo().join(".infra/venv/bin/python");
        assert!(
            python.exists(),
            "no emulator venv in .infra/venv: run `scripts/services.sh up aws`"
        );
        let child = Command::new(python)
            .arg(repo().join("scripts/moto_local_lambda.py"))
            .args(["--port", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while !answers(self.port) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the private emulator did not answer on port {} in 60 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn the_breaker_reroutes_to_the_fallback_while_sns_is_down_and_recovers() {
    require_emulator();
    let mut emulator = Emulator::start();
    let topic = "arn:aws:sns:us-east-1:000000000000:fault-alerts";
    let prepare = |aws: &Aws| {
        let sns = aws_sdk_sns::Client::new(&aws.config);
        aws.block_on(sns.create_topic().name("fault-alerts").send())
            .unwrap();
        aws.subscribed_queue(topic)
    };
    let aws = Aws::at(emulator.port);
    let first_copy = prepare(&aws);

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fault.acteon");
    std::fs::write(
        &script,
        format!(
            r#"provider alert-fanout aws-sns {{
  region = "us-east-1"
  endpoint_url = "http://127.0.0.1:{port}"
  topic_arn = "{topic}"
}}
provider local-fallback log

breaker alert-fanout {{
  failure_threshold = 2
  success_threshold = 1
  recovery_timeout = 6s
  fallback = local-fallback
}}
"#,
            port = emulator.port
        ),
    )
    .unwrap();
    let audit = dir.path().join("audit.jsonl");
    let mut run = Command::new(env!("CARGO_BIN_EXE_acteon"))
        .arg("run")
        .arg(&script)
        .args(["--input", "-", "--clock", "processing", "--audit"])
        .arg(&audit)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = run.stdin.take().unwrap();
    let mut send = |id: &str| {
        let action = json!({
            "id": id, "namespace": "iot", "tenant": "hq", "action_type": "alert",
            "provider": "alert-fanout", "payload": { "alert": id }
        });
        writeln!(stdin, "{action}").unwrap();
        stdin.flush().unwrap();
    };
    let wait = |seconds: f64| std::thread::sleep(Duration::from_secs_f64(seconds));

    // A copy reaches its queue before SNS answers the publish, and the call (and the breaker)
    // ends on the answer: each check below gives the answer a second (it takes milliseconds;
    // the run's audit file, which would show it, is written at the end).
    let answered = || wait(1.0);
    send("up-1");
    assert_eq!(
        aws.drain(&first_copy, 1, 10, |_| true).len(),
        1,
        "delivered while the emulator is up"
    );
    answered();
    emulator.stop();
    let failing = Instant::now();
    send("down-1");
    send("down-2");
    // Both fail after their retries (connection refused: under a second), which opens the
    // breaker well before these next two, and its 6 s recovery timeout well after them.
    wait(3.0);
    send("open-1");
    send("open-2");
    wait(0.5);
    emulator.restart();
    let second_copy = prepare(&aws);
    // Past the recovery timeout: the next call is the probe that closes the breaker.
    wait(7.5 - failing.elapsed().as_secs_f64().min(7.5));
    send("probe-1");
    assert_eq!(
        aws.drain(&second_copy, 1, 10, |_| true).len(),
        1,
        "the probe was delivered"
    );
    // The breaker closes on the probe's answer: before it, `after-1` would find it half-open.
    answered();
    send("after-1");
    drop(stdin);
    let finished = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            finished.elapsed() < Duration::from_secs(60),
            "the run did not end"
        );
        wait(0.1);
    };
    let mut stderr = String::new();
    run.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");

    let records: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let of = |id: &str| -> &Value {
        records
            .iter()
            .find(|r| r["action_id"] == id)
            .unwrap_or_else(|| panic!("no record for {id}"))
    };
    assert_eq!(records.len(), 7, "one record per input: {records:?}");
    for id in ["up-1", "probe-1", "after-1"] {
        assert_eq!(of(id)["outcome"], "executed", "{}", of(id));
        assert_eq!(of(id)["target"], "alert-fanout");
    }
    // The two calls that failed (and opened the breaker) went on to the fallback as well.
    for (ids, reason) in [
        (["down-1", "down-2"], "call_failed"),
        (["open-1", "open-2"], "breaker_open"),
    ] {
        for id in ids {
            let record = of(id);
            assert_eq!(record["outcome"], "rerouted", "{record}");
            assert_eq!(record["target"], "local-fallback");
            assert_eq!(record["details"]["fallback"], true);
            assert_eq!(record["details"]["fallback_reason"], reason, "{record}");
            assert_eq!(record["details"]["original_target"], "alert-fanout");
        }
    }
    assert!(of("down-1")["details"]["original_error"].is_string());
    assert_eq!(
        aws.drain(&second_copy, 1, 5, |_| true).len(),
        1,
        "after-1 reached SNS"
    );
}

/// `acteon serve` on the seed pipeline, killed when dropped.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start() -> Served {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_acteon"))
            .args([
                "serve",
                "pipelines/aws-event-pipeline/pipeline.acteon",
                // HTTP only: other tests fill the seed's topic.
                "--no-source",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(repo())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let served = Served {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers_http(port) {
            assert!(Instant::now() < deadline, "acteon serve did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    }

    /// Runs one of the pipeline's scripts against the server; its standard output.
    fn script(&self, name: &str) -> String {
        let out = Command::new("bash")
            .arg(
                repo()
                    .join("pipelines/aws-event-pipeline/scripts")
                    .join(name),
            )
            .env("ACTEON_URL", &self.url)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answers_http(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port))
        .and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            stream.write_all(b"GET /health HTTP/1.0\r\n\r\n")?;
            let mut head = [0u8; 12];
            stream.read_exact(&mut head)?;
            Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
        })
        .unwrap_or(false)
}

/// The rows of one table of show-report.sh: (first column, second column).
fn report_rows<'a>(report: &'a str, title: &str) -> Vec<(&'a str, &'a str)> {
    let start = report.find(&format!("== {title}")).expect(title);
    report[start..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with("  ") && !line.starts_with("  records"))
        .filter_map(|line| {
            let mut columns = line.split_whitespace();
            Some((columns.next()?, columns.next()?))
        })
        .collect()
}

#[test]
fn the_seed_pipeline_served_over_http_gives_the_expected_outcomes() {
    require_emulator();
    setup_seed_resources();
    let aws = Aws::at(4566);
    let (alerts, events) = watch_seed_outputs(&aws);
    clear_seed_audit(&aws);
    let metrics = "http://127.0.0.1:4566/000000000000/telemetry-metrics";
    let sqs = aws_sdk_sqs::Client::new(&aws.config);
    // Read and deleted rather than purged: PurgeQueue is allowed once a minute per queue, and
    // the emulator may still hold an earlier run's messages.
    aws.block_on(async {
        for _ in 0..100 {
            let read = sqs
                .receive_message()
                .queue_url(metrics)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            if read.messages().is_empty() {
                break;
            }
            for message in read.messages() {
                if let Some(receipt) = message.receipt_handle() {
                    let delete = sqs.delete_message().queue_url(metrics);
                    delete.receipt_handle(receipt).send().await.unwrap();
                }
            }
        }
    });

    let served = Served::start();
    let setup = served.script("setup-api.sh");
    assert!(
        setup.contains("quota") && setup.contains("retention") && setup.contains("recurring"),
        "{setup}"
    );
    let sent = served.script("send-telemetry.sh");
    let outcome_of = |id: &str| -> String {
        let line = sent
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id}: {sent}"));
        line.split_whitespace().nth(1).unwrap().to_owned()
    };
    // The seed's Expected Outcomes, event by event.
    for (ids, outcome) in [
        (
            &[
                "temp-crit-001",
                "temp-crit-002",
                "motion-001",
                "motion-002",
                "lifecycle-001",
            ][..],
            "rerouted",
        ),
        (
            &[
                "temp-norm-001",
                "temp-norm-002",
                "temp-norm-003",
                "rapid-1",
                "rapid-2",
                "rapid-3",
                "dup-temp-001",
            ][..],
            "chain_started",
        ),
        (&["humid-000", "humid-001", "humid-002"][..], "grouped"),
        (&["energy-001", "energy-002"][..], "scheduled"),
        (&["dup-temp-002"][..], "deduplicated"),
        (&["test-dev-001", "test-dev-002"][..], "suppressed"),
        (&["firmware-001"][..], "denied"),
    ] {
        for id in ids {
            assert_eq!(outcome_of(id), outcome, "{id}: {sent}");
        }
    }
    // The redacted keys reach the DynamoDB audit redacted.
    let posted = Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
        ])
        .arg(redacted_action().to_string())
        .arg(format!("{}/v1/dispatch", served.url))
        .output()
        .unwrap();
    assert!(
        posted.status.success(),
        "{}",
        String::from_utf8_lossy(&posted.stderr)
    );

    // The chains finish on the emulator's Lambdas; then the report shows the seed's figures.
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let report = served.script("show-report.sh");
        let done = report_rows(&report, "Chains")
            .iter()
            .all(|(_, state)| *state == "completed");
        if done || Instant::now() > deadline {
            break report;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let outcomes = report_rows(&report, "Audit by outcome");
    for (outcome, count) in [
        ("rerouted", "5"),
        ("chain_started", "7"),
        ("grouped", "3"),
        ("scheduled", "2"),
        ("deduplicated", "1"),
        ("suppressed", "2"),
        ("denied", "1"),
        ("chain_completed", "7"),
    ] {
        assert!(
            outcomes.contains(&(outcome, count)),
            "{outcome} {count}: {report}"
        );
    }
    assert_eq!(report_rows(&report, "Chains").len(), 7, "{report}");
    assert_eq!(report_rows(&report, "Groups").len(), 2, "{report}");
    assert!(
        report.contains("500") && report.contains("604800") && report.contains("*/5 * * * *"),
        "{report}"
    );

    // The AWS side: four SNS alerts, the lifecycle event, an archive message per chain.
    assert_eq!(aws.drain(&alerts, 4, 15, |_| true).len(), 4);
    let lifecycle = aws.drain(&events, 1, 15, |_| true);
    assert_eq!(lifecycle[0]["detail"]["event"], "online", "{lifecycle:?}");
    let archived = aws.drain(metrics, 7, 30, |_| true);
    assert_eq!(archived.len(), 7, "{archived:?}");
    assert!(
        archived.iter().all(|m| m["processed"] == "true"),
        "{archived:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let records = loop {
        let records = read_seed_audit(&aws);
        if records.iter().any(|r| r["action_id"] == "config-001") || Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let redacted = records
        .iter()
        .find(|r| r["action_id"] == "config-001")
        .expect("config-001 audited in DynamoDB");
    assert_redacted(redacted);
    served.script("teardown.sh");
}
