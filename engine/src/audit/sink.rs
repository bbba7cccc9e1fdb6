//! The JSON-lines audit file. Records are rendered on the worker threads (the costly part) and
//! one writer appends the lines in order, so the file never interleaves two records. Also the
//! [`RecordSink`] interface of destinations outside the engine, the file as one of them, and
//! several at once.

use crate::audit::record::AuditRecord;
use crate::audit::AuditError;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One record as its line of the audit file, without the newline.
pub fn render(record: &AuditRecord) -> String {
    // Strings, numbers and JSON values only, with string keys: serialization cannot fail.
    serde_json::to_string(record).expect("an audit record always serializes to JSON")
}

/// An audit destination outside the engine (the DynamoDB table): receives every audit line, in
/// order, from one thread. It may write in the background; `finish` returns once everything
/// written before it is stored, with the first error met.
pub trait RecordSink: Send + Sync + std::fmt::Debug {
    fn write_line(&self, line: &str);
    fn finish(&self) -> Result<(), String>;
}

/// Appends lines to the audit file (or any writer), buffered. The buffer is flushed by
/// [`JsonLinesWriter::flush`] and [`JsonLinesWriter::finish`]; dropping the writer flushes too,
/// but cannot report an error, so the end of a run calls `finish`.
pub struct JsonLinesWriter {
    out: BufWriter<Box<dyn Write + Send>>,
    /// Named in errors.
    target: PathBuf,
}

impl JsonLinesWriter {
    /// Creates (or truncates) the file at `path`; its directory must exist.
    pub fn create(path: impl AsRef<Path>) -> Result<JsonLinesWriter, AuditError> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|source| AuditError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(JsonLinesWriter::to_writer(file, path))
    }

    /// Writes to `out` (standard output, a socket, a test buffer); `name` appears in errors.
    pub fn to_writer(
        out: impl Write + Send + 'static,
        name: impl Into<PathBuf>,
    ) -> JsonLinesWriter {
        JsonLinesWriter {
            out: BufWriter::new(Box::new(out)),
            target: name.into(),
        }
    }

    /// Where the lines go, as given.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// `line` must be one rendered record: no newline inside.
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes everything written; the end of a run.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The audit as a JSON-lines file behind the [`RecordSink`] interface: for a file shared by
/// every engine generation of `acteon serve` (each run of the engine would otherwise truncate
/// it), and for a file beside another destination ([`FanOut`]).
pub struct FileSink {
    writer: Mutex<JsonLinesWriter>,
}

impl FileSink {
    pub fn new(writer: JsonLinesWriter) -> FileSink {
        FileSink {
            writer: Mutex::new(writer),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, JsonLinesWriter> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.lock().target().display().to_string())
            .finish()
    }
}

impl RecordSink for FileSink {
    fn write_line(&self, line: &str) {
        if let Err(error) = self.lock().write_line(line) {
            tracing::error!(%error, "writing the audit file failed");
        }
    }

    fn finish(&self) -> Result<(), String> {
        self.lock().flush().map_err(|e| e.to_string())
    }
}

/// Every line to each of several sinks (`--audit FILE --audit kafka://...`). `finish` finishes
/// them all, so each has stored what was written before it returns, and reports the first
/// error.
#[derive(Debug)]
pub struct FanOut(pub Vec<Arc<dyn RecordSink>>);

impl RecordSink for FanOut {
    fn write_line(&self, line: &str) {
        self.0.iter().for_each(|sink| sink.write_line(line));
    }

    fn finish(&self) -> Result<(), String> {
        let results: Vec<Result<(), String>> = self.0.iter().map(|sink| sink.finish()).collect();
        results.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acteon_dsl::plan::Outcome;
    use serde_json::{json, Value};

    fn record(id: &str) -> AuditRecord {
        AuditRecord {
            id: id.into(),
            action_id: "a1".into(),
            namespace: "iot".into(),
            tenant: "smartbuilding-hq".into(),
            action_type: "sensor_reading".into(),
            provider: Some("metrics-queue".into()),
            target: Some("alert-fanout".into()),
            rule: Some("critical-temperature-alert".into()),
            outcome: Outcome::Rerouted,
            details: json!({ "fallback": false }),
            payload: Some(json!({ "value": 92 })),
            chain_id: None,
            dispatched_at: "2026-11-28T09:00:00.000Z".into(),
            completed_at: "2026-11-28T09:00:00.005Z".into(),
            duration_ms: 5,
            expires_at: None,
        }
    }

    #[test]
    fn a_line_has_the_product_field_names() {
        let line = render(&record("r1"));
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "action_id",
                "namespace",
                "tenant",
                "action_type",
                "provider",
                "target",
                "rule",
                "outcome",
                "details",
                "payload",
                "chain_id",
                "dispatched_at",
                "completed_at",
                "duration_ms",
                "expires_at"
            ]
        );
        assert_eq!(value["outcome"], "rerouted");
        assert_eq!(value["chain_id"], Value::Null);
    }

    #[test]
    fn file_holds_one_record_per_line_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut writer = JsonLinesWriter::create(&path).unwrap();
        for id in ["r1", "r2", "r3"] {
            writer.write_line(&render(&record(id))).unwrap();
        }
        writer.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|line| serde_json::from_str::<AuditRecord>(line).unwrap().id)
            .collect();
        assert_eq!(ids, ["r1", "r2", "r3"]);
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn flush_makes_lines_visible_before_the_end() {
        let shared = Shared::default();
        let mut writer = JsonLinesWriter::to_writer(shared.clone(), "-");
        writer.write_line("{}").unwrap();
        assert!(
            shared.0.lock().unwrap().is_empty(),
            "buffered until flushed"
        );
        writer.flush().unwrap();
        assert_eq!(shared.0.lock().unwrap().as_slice(), b"{}\n");
        assert_eq!(writer.target(), Path::new("-"));
    }

    /// Remembers lines; fails its finish when told to.
    #[derive(Debug, Default)]
    struct Lines {
        lines: Mutex<Vec<String>>,
        error: Option<String>,
    }

    impl RecordSink for Lines {
        fn write_line(&self, line: &str) {
            self.lines.lock().unwrap().push(line.to_owned());
        }
        fn finish(&self) -> Result<(), String> {
            self.error.clone().map_or(Ok(()), Err)
        }
    }

    #[test]
    fn fan_out_writes_every_sink_and_finishes_all_of_them() {
        let shared = Shared::default();
        let file = Arc::new(FileSink::new(JsonLinesWriter::to_writer(
            shared.clone(),
            "-",
        )));
        let failing = Arc::new(Lines {
            error: Some("down".into()),
            ..Lines::default()
        });
        let fan_out = FanOut(vec![file.clone(), failing.clone()]);
        fan_out.write_line("{\"id\":1}");
        fan_out.write_line("{\"id\":2}");
        assert_eq!(fan_out.finish(), Err("down".to_owned()));
        assert_eq!(
            shared.0.lock().unwrap().as_slice(),
            b"{\"id\":1}\n{\"id\":2}\n",
            "the file is flushed although another sink failed"
        );
        assert_eq!(failing.lines.lock().unwrap().len(), 2);
        assert!(format!("{file:?}").contains("FileSink"));
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("audit.jsonl");
        let error = JsonLinesWriter::create(&path).err().unwrap();
        assert!(error.to_string().contains("audit.jsonl"), "{error}");
    }
}
