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

/// An audit destination outside the engine (the DynamoDB table, a topic, the server's store):
/// receives every record with its rendered line, in order, from one thread, and reads what it
/// needs from either (no sink parses a line back). It may write in the background; `finish`
/// returns once everything written before it is stored, with the first error met.
pub trait RecordSink: Send + Sync + std::fmt::Debug {
    /// `line` is the record's JSON line, redacted, without the newline.
    fn write(&self, record: &AuditRecord, line: &[u8]);
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

    /// Appends to the file at `path`, created when missing (files that outlive a run: a
    /// served engine's generations share one dead-letter file).
    pub fn append(path: impl AsRef<Path>) -> Result<JsonLinesWriter, AuditError> {
        let path = path.as_ref();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| AuditError::Open {
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
            out: BufWriter::with_capacity(1 << 16, Box::new(out)),
            target: name.into(),
        }
    }

    /// Where the lines go, as given.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// `line` must be one rendered record: no newline inside.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
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

/// A [`JsonLinesWriter`] on a thread of its own: the audit writer hands it each batch of
/// lines, in order, and goes on; copying them into the file's buffer and the write system
/// calls happen off the dataflow's workers. [`LineThread::flush`] returns once everything
/// handed over before it is in the file.
pub struct LineThread {
    lines: Option<std::sync::mpsc::Sender<Command>>,
    thread: Option<std::thread::JoinHandle<io::Result<JsonLinesWriter>>>,
}

enum Command {
    Lines(Vec<Vec<u8>>),
    Flush(std::sync::mpsc::Sender<io::Result<()>>),
}

impl LineThread {
    pub fn start(mut writer: JsonLinesWriter) -> LineThread {
        let (lines, commands) = std::sync::mpsc::channel::<Command>();
        let thread = std::thread::Builder::new()
            .name("acteon-audit-file".into())
            .spawn(move || {
                // The first error stops the writing; it is reported by the next flush.
                let mut failed: Option<io::Error> = None;
                for command in commands {
                    match command {
                        Command::Lines(batch) if failed.is_none() => {
                            for line in batch {
                                if let Err(error) = writer.write_line(&line) {
                                    failed = Some(error);
                                    break;
                                }
                            }
                        }
                        Command::Lines(_) => {}
                        Command::Flush(done) => {
                            let result = match failed.take() {
                                Some(error) => Err(error),
                                None => writer.flush(),
                            };
                            let _ = done.send(result);
                        }
                    }
                }
                writer.flush().map(|()| writer)
            })
            .expect("a thread for the audit file");
        LineThread {
            lines: Some(lines),
            thread: Some(thread),
        }
    }

    /// Hands `batch` to the thread (lines without their newline).
    pub fn write(&self, batch: Vec<Vec<u8>>) {
        if let Some(lines) = &self.lines {
            // A thread that is gone has failed; its join reports why.
            let _ = lines.send(Command::Lines(batch));
        }
    }

    /// Waits until every line handed over is written and flushed.
    pub fn flush(&self) -> io::Result<()> {
        let (done, flushed) = std::sync::mpsc::channel();
        let sent = self
            .lines
            .as_ref()
            .is_some_and(|lines| lines.send(Command::Flush(done)).is_ok());
        match sent.then(|| flushed.recv().ok()).flatten() {
            Some(result) => result,
            None => Err(io::Error::other("the audit file's writer has stopped")),
        }
    }

    /// Writes everything handed over, flushes, and stops the thread.
    pub fn finish(mut self) -> io::Result<()> {
        self.lines = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result.map(drop),
            Some(Err(_)) => Err(io::Error::other("the audit file's writer panicked")),
            None => Ok(()),
        }
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
    fn write(&self, _record: &AuditRecord, line: &[u8]) {
        if let Err(error) = self.lock().write_line(line) {
            tracing::error!(%error, "writing the audit file failed");
        }
    }

    fn finish(&self) -> Result<(), String> {
        self.lock().flush().map_err(|e| e.to_string())
    }
}

/// Every record to each of several sinks (`--audit FILE --audit kafka://...`). `finish`
/// finishes them all, so each has stored what was written before it returns, and reports the
/// first error.
#[derive(Debug)]
pub struct FanOut(pub Vec<Arc<dyn RecordSink>>);

impl RecordSink for FanOut {
    fn write(&self, record: &AuditRecord, line: &[u8]) {
        self.0.iter().for_each(|sink| sink.write(record, line));
    }

    fn finish(&self) -> Result<(), String> {
        let results: Vec<Result<(), String>> = self.0.iter().map(|sink| sink.finish()).collect();
        results.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Details, RecordId};
    use acteon_dsl::plan::Outcome;

    fn record(id: &str) -> AuditRecord {
        AuditRecord {
            id: RecordId::new(id.into(), crate::action::Position::Line(1), 0),
            action_id: "a1".into(),
            namespace: "iot".into(),
            tenant: "smartbuilding-hq".into(),
            action_type: "sensor_reading".into(),
            provider: Some("metrics-queue".into()),
            target: Some("alert-fanout".into()),
            rule: Some("critical-temperature-alert".into()),
            outcome: Outcome::Rerouted,
            details: Details::new().with("fallback", false),
            payload: None,
            chain_id: None,
            dispatched_at_ms: 0,
            completed_at_ms: 5,
            duration_ms: 5,
            expires_at_ms: None,
        }
    }

    #[test]
    fn file_holds_one_record_per_line_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut writer = JsonLinesWriter::create(&path).unwrap();
        for id in ["r1", "r2", "r3"] {
            writer.write_line(record(id).to_line().as_bytes()).unwrap();
        }
        writer.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|line| AuditRecord::parse(line).unwrap().id.to_string())
            .collect();
        assert_eq!(ids, ["r1@L1#0", "r2@L1#0", "r3@L1#0"]);
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
        writer.write_line(b"{}").unwrap();
        assert!(
            shared.0.lock().unwrap().is_empty(),
            "buffered until flushed"
        );
        writer.flush().unwrap();
        assert_eq!(shared.0.lock().unwrap().as_slice(), b"{}\n");
        assert_eq!(writer.target(), Path::new("-"));
    }

    /// Remembers records; fails its finish when told to.
    #[derive(Debug, Default)]
    struct Records {
        ids: Mutex<Vec<String>>,
        error: Option<String>,
    }

    impl RecordSink for Records {
        fn write(&self, record: &AuditRecord, _line: &[u8]) {
            self.ids.lock().unwrap().push(record.id.to_string());
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
        let failing = Arc::new(Records {
            error: Some("down".into()),
            ..Records::default()
        });
        let fan_out = FanOut(vec![file.clone(), failing.clone()]);
        fan_out.write(&record("r1"), b"{\"id\":1}");
        fan_out.write(&record("r2"), b"{\"id\":2}");
        assert_eq!(fan_out.finish(), Err("down".to_owned()));
        assert_eq!(
            shared.0.lock().unwrap().as_slice(),
            b"{\"id\":1}\n{\"id\":2}\n",
            "the file is flushed although another sink failed"
        );
        assert_eq!(*failing.ids.lock().unwrap(), ["r1@L1#0", "r2@L1#0"]);
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
