//! The dry-run provider: every call is recorded instead of made, and answered at once with
//! success and the body `{"dry_run": true}`, or as the run's [`Fixtures`] script it (tests give
//! chain steps their answers this way).
//!
//! Calls go to `DIR/<provider>.jsonl` (one JSON line per call: the call's fields plus the
//! provider's `kind`), or to a shared list in memory for `acteon test`. Every worker thread
//! holds the same provider, so each file sits behind a lock and a line is written whole.

use crate::provider::{CallResult, Provider, ProviderCall, Reply};
use crate::providers::immediate_success;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// One recorded call: a line of the dry-run file shows its call's fields and its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    pub call: ProviderCall,
    /// The provider's type as written in scripts (`aws-sns`, `log`, ...).
    pub kind: String,
}

/// Where recorded calls go.
#[derive(Debug, Clone)]
pub enum CallLog {
    File(Arc<CallFile>),
    Memory(Arc<Mutex<Vec<RecordedCall>>>),
    /// Nowhere (`--dry-run /dev/null`): the calls are answered and forgotten.
    Discard,
}

/// A provider's dry-run file, created (or truncated) by the first call, so a provider that is
/// never called leaves no file.
#[derive(Debug)]
pub struct CallFile {
    path: PathBuf,
    writer: Mutex<Option<BufWriter<File>>>,
}

impl CallFile {
    pub fn new(path: impl Into<PathBuf>) -> CallFile {
        CallFile {
            path: path.into(),
            writer: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `line` ends with its newline.
    fn append(&self, line: &[u8]) -> io::Result<()> {
        let mut writer = self.lock();
        if writer.is_none() {
            *writer = Some(BufWriter::with_capacity(1 << 16, File::create(&self.path)?));
        }
        writer.as_mut().expect("opened above").write_all(line)
    }

    pub fn flush(&self) -> io::Result<()> {
        match self.lock().as_mut() {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<BufWriter<File>>> {
        // A thread that panicked mid-line leaves at worst a partial line; the file stays usable.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A scripted answer to a dry-run call.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Success with this response body.
    Success(Value),
    /// The call fails with this error.
    Failure(String),
    /// No answer ever comes (a call that hangs until its chain times out).
    Silence,
}

type Script = Arc<dyn Fn(&ProviderCall) -> Answer + Send + Sync>;

/// Scripted answers by provider name; a provider without a script gets the default answer.
/// Cheap to clone: clones share the scripts (and a list's position).
#[derive(Clone, Default)]
pub struct Fixtures {
    scripts: BTreeMap<String, Script>,
}

impl std::fmt::Debug for Fixtures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.scripts.keys()).finish()
    }
}

/// Two fixtures are equal when they hold the very same scripts.
impl PartialEq for Fixtures {
    fn eq(&self, other: &Fixtures) -> bool {
        self.scripts.len() == other.scripts.len()
            && self
                .scripts
                .iter()
                .zip(&other.scripts)
                .all(|((a, f), (b, g))| a == b && Arc::ptr_eq(f, g))
    }
}

impl Eq for Fixtures {}

impl Fixtures {
    pub fn new() -> Fixtures {
        Fixtures::default()
    }

    /// `provider` answers each call as `script` says.
    pub fn script(
        mut self,
        provider: &str,
        script: impl Fn(&ProviderCall) -> Answer + Send + Sync + 'static,
    ) -> Fixtures {
        self.scripts.insert(provider.to_owned(), Arc::new(script));
        self
    }

    /// `provider` gives these answers in call order, then repeats the last one.
    pub fn answers(self, provider: &str, answers: Vec<Answer>) -> Fixtures {
        let next = Mutex::new(0usize);
        self.script(provider, move |_| {
            let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
            let answer = answers
                .get(*next)
                .or(answers.last())
                .cloned()
                .unwrap_or(Answer::Success(json!({ "dry_run": true })));
            *next += 1;
            answer
        })
    }

    fn answer(&self, call: &ProviderCall) -> Option<Answer> {
        self.scripts.get(&*call.provider).map(|script| script(call))
    }
}

#[derive(Debug, Clone)]
pub struct DryRun {
    kind: &'static str,
    log: CallLog,
    fixtures: Fixtures,
}

impl DryRun {
    /// `kind`: the provider's type name, written into every recorded call.
    pub fn new(kind: &'static str, log: CallLog) -> DryRun {
        DryRun {
            kind,
            log,
            fixtures: Fixtures::default(),
        }
    }

    /// Answers as `fixtures` script, instead of the default answer.
    pub fn with_fixtures(mut self, fixtures: Fixtures) -> DryRun {
        self.fixtures = fixtures;
        self
    }

    fn record(&self, call: ProviderCall) -> Result<(), String> {
        match &self.log {
            CallLog::Memory(calls) => {
                calls
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(RecordedCall {
                        call,
                        kind: self.kind.to_string(),
                    });
                Ok(())
            }
            CallLog::File(file) => LINE.with(|line| {
                // Rendered outside the file's lock, into this thread's buffer.
                let mut line = line.borrow_mut();
                line.clear();
                let kind = format!("\"{}\"", self.kind);
                call.write_json(&mut line, &[("kind", &kind)]);
                line.push(b'\n');
                file.append(&line).map_err(|error| {
                    format!(
                        "dry run could not record the call in {}: {error}",
                        file.path().display()
                    )
                })
            }),
            CallLog::Discard => Ok(()),
        }
    }

    /// Records `call` and answers it; `None` when the fixtures say it never gets an answer.
    fn answer(&self, call: ProviderCall) -> Option<CallResult> {
        let answer = self.fixtures.answer(&call);
        let failure = |error: String| CallResult {
            success: false,
            body: Value::Null,
            error: Some(error),
            attempts: 1,
            duration_ms: 0,
            delivered_by: None,
            failed_over: None,
        };
        Some(match self.record(call) {
            Ok(()) => match answer {
                None => immediate_success(dry_run_body()),
                Some(Answer::Success(body)) => immediate_success(body),
                Some(Answer::Failure(error)) => failure(error),
                Some(Answer::Silence) => return None,
            },
            Err(error) => {
                tracing::warn!(%error, "dry-run call not recorded");
                failure(error)
            }
        })
    }
}

thread_local! {
    /// The dry-run line being written on this thread.
    static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `{"dry_run": true}`, the answer to every call no fixture scripts.
fn dry_run_body() -> Value {
    json!({ "dry_run": true })
}

impl Provider for DryRun {
    fn submit(&self, call: ProviderCall, reply: Reply) {
        // Dropping the reply of a call that never gets an answer is never answering.
        if let Some(result) = self.answer(call) {
            reply.send(result);
        }
    }

    fn make(&self, call: ProviderCall, _reply: &mut dyn FnMut() -> Reply) -> Option<CallResult> {
        self.answer(call)
    }

    fn answers_inline(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing;
    use serde_json::Value;

    #[test]
    fn memory_keeps_every_call_and_replies_dry_run() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let provider = DryRun::new("aws-sqs", CallLog::Memory(calls.clone()));
        for id in ["a1", "a2"] {
            let (reply, results) = testing::reply(1);
            provider.submit(testing::call("metrics-queue", id), reply);
            let (_, result) = results.try_recv().unwrap();
            assert!(result.success);
            assert_eq!(result.body, json!({ "dry_run": true }));
        }
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(&*calls[1].call.action_id, "a2");
        assert_eq!(calls[1].kind, "aws-sqs");
    }

    #[test]
    fn fixtures_script_answers_per_provider() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let fixtures = Fixtures::new()
            .answers(
                "detector",
                vec![
                    Answer::Failure("down".into()),
                    Answer::Success(json!({ "anomaly": true })),
                ],
            )
            .script("echo", |call| Answer::Success(call.payload.value().clone()));
        let provider =
            DryRun::new("aws-lambda", CallLog::Memory(calls.clone())).with_fixtures(fixtures);
        let answer = |name: &str| {
            let (reply, results) = testing::reply(1);
            provider.submit(testing::call(name, "a1"), reply);
            results.try_recv().unwrap().1
        };
        assert_eq!(answer("detector").error.as_deref(), Some("down"));
        for _ in 0..2 {
            assert_eq!(answer("detector").body, json!({ "anomaly": true }));
        }
        assert_eq!(answer("echo").body["value"], json!(92));
        assert_eq!(answer("other").body, json!({ "dry_run": true }));
        assert_eq!(calls.lock().unwrap().len(), 5);

        let silent = Fixtures::new().answers("hang", vec![Answer::Silence]);
        let (reply, results) = testing::reply(2);
        DryRun::new("log", CallLog::Memory(calls.clone()))
            .with_fixtures(silent)
            .submit(testing::call("hang", "a2"), reply);
        assert!(results.try_recv().is_err(), "a silent call never answers");
        assert_eq!(calls.lock().unwrap().len(), 6, "but it is recorded");
    }

    #[test]
    fn file_gets_one_line_per_call_with_the_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alert-fanout.jsonl");
        let file = Arc::new(CallFile::new(&path));
        let provider = DryRun::new("aws-sns", CallLog::File(file.clone()));
        file.flush().unwrap();
        assert!(!path.exists(), "no call, no file");

        let (reply, results) = testing::reply(3);
        provider.submit(testing::call("alert-fanout", "a1"), reply);
        assert!(results.try_recv().unwrap().1.success);
        file.flush().unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines,
            [json!({
                "provider": "alert-fanout", "action_id": "a1", "namespace": "iot",
                "tenant": "smartbuilding-hq", "action_type": "sensor_reading",
                "payload": { "value": 92, "queue_url": "https://sqs/q" },
                "idempotency_key": "a1", "kind": "aws-sns"
            })]
        );
    }

    #[test]
    fn lines_stay_whole_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics-queue.jsonl");
        let file = Arc::new(CallFile::new(&path));
        let provider = Arc::new(DryRun::new("aws-sqs", CallLog::File(file.clone())));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let provider = provider.clone();
                std::thread::spawn(move || {
                    for n in 0..50 {
                        let (reply, _results) = testing::reply(n);
                        provider.submit(testing::call("metrics-queue", &format!("{t}-{n}")), reply);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        file.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["action_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200);
    }

    #[test]
    fn an_unwritable_file_fails_the_call() {
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(CallFile::new(dir.path().join("gone").join("p.jsonl")));
        let provider = DryRun::new("log", CallLog::File(file));
        let (reply, results) = testing::reply(1);
        provider.submit(testing::call("p", "a1"), reply);
        let (_, result) = results.try_recv().unwrap();
        assert!(!result.success);
        assert!(result.error.unwrap().contains("p.jsonl"));
    }
}
