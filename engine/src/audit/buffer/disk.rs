//! A sink buffer's records on disk: an append-only log of segment files in the buffer's
//! directory, and a cursor file naming the first record not yet delivered.
//!
//! Each record is a 16-byte header (length and CRC-32 of what follows the header, little
//! endian `u32`s, then the time it was buffered, an `i64` of milliseconds) and the line. The
//! writer appends to the newest segment and starts another past [`SEGMENT_BYTES`]; a segment
//! is removed once every record in it is delivered. The cursor is rewritten (to a temporary
//! file, renamed) after every delivered batch but not synced: after a crash it may point at
//! records already delivered, which are then delivered again (the DynamoDB audit writes a
//! record id once; a topic may get a duplicate), never past one that was not. A record cut
//! short by a crash (a torn tail) is cut off when the log is opened again; it was never
//! acknowledged, since acknowledging means syncing the segment.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A segment grows to about this size before the next one starts.
const SEGMENT_BYTES: u64 = 64 << 20;
/// Once every record is delivered, a write segment larger than this is replaced by an empty
/// one, so a healthy destination keeps the log small.
const RESET_BYTES: u64 = 4 << 20;
const HEADER: u64 = 16;
const CURSOR: &str = "cursor";

/// Where a record starts: (segment, byte offset).
type Place = (u64, u64);

#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    /// Segments on disk, oldest first; the last one is written to.
    segments: VecDeque<u64>,
    writer: BufWriter<File>,
    /// Bytes in the write segment, buffered ones included.
    written: u64,
    /// The first record not yet delivered.
    read: Place,
    /// Records not yet delivered.
    pending: u64,
    /// Where each record handed out by the last [`Log::peek`] ends.
    peeked: Vec<Place>,
}

/// One record read back: when it was buffered, and its line.
struct Found {
    at_ms: i64,
    line: Vec<u8>,
    end: Place,
}

impl Log {
    /// Opens (or creates) the log in `dir`: counts the records after the cursor, cuts off a
    /// torn tail, and starts a new write segment.
    pub fn open(dir: &Path) -> io::Result<Log> {
        fs::create_dir_all(dir)?;
        let mut segments: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                name.to_str()?.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        segments.sort_unstable();
        let cursor = fs::read_to_string(dir.join(CURSOR)).ok().and_then(|text| {
            let (segment, offset) = text.trim().split_once(' ')?;
            Some((segment.parse().ok()?, offset.parse().ok()?))
        });
        let mut read = match cursor {
            Some((segment, offset)) if segments.contains(&segment) => (segment, offset),
            _ => (segments.first().copied().unwrap_or(1), 0),
        };
        for &done in segments.iter().filter(|&&s| s < read.0) {
            fs::remove_file(segment_path(dir, done))?;
        }
        segments.retain(|&s| s >= read.0);
        let mut pending = 0;
        for &segment in &segments {
            let start = if segment == read.0 { read.1 } else { 0 };
            let path = segment_path(dir, segment);
            let (count, good_end) = scan(&path, start)?;
            pending += count;
            let length = fs::metadata(&path)?.len();
            if good_end < length {
                tracing::warn!(
                    path = %path.display(),
                    kept = good_end,
                    length,
                    "a sink buffer's segment ends in a record cut short; cutting it off"
                );
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(good_end)?;
            }
            if segment == read.0 && read.1 > good_end {
                read.1 = good_end;
            }
        }
        let next = segments.last().map_or(read.0, |&last| last + 1);
        if segments.is_empty() {
            read = (next, 0);
        }
        let mut log = Log {
            dir: dir.to_path_buf(),
            writer: create_segment(dir, next)?,
            segments: segments.into(),
            written: 0,
            read,
            pending,
            peeked: Vec::new(),
        };
        log.segments.push_back(next);
        Ok(log)
    }

    /// Records not yet delivered.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Appends one record (buffered until [`Log::sync`] or the next peek).
    pub fn append(&mut self, at_ms: i64, line: &[u8]) -> io::Result<()> {
        let length = u32::try_from(line.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a line over 4 GiB"))?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&at_ms.to_le_bytes());
        crc.update(line);
        self.writer.write_all(&length.to_le_bytes())?;
        self.writer.write_all(&crc.finalize().to_le_bytes())?;
        self.writer.write_all(&at_ms.to_le_bytes())?;
        self.writer.write_all(line)?;
        self.written += HEADER + u64::from(length);
        self.pending += 1;
        if self.written >= SEGMENT_BYTES {
            self.rotate()?;
        }
        Ok(())
    }

    /// Makes every appended record durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().sync_data()
    }

    /// Up to `max` records from the first one not delivered, in order.
    pub fn peek(&mut self, max: usize) -> io::Result<Vec<Vec<u8>>> {
        self.writer.flush()?;
        self.peeked.clear();
        let mut lines = Vec::new();
        let mut at = self.read;
        while lines.len() < max {
            let Some(record) = self.record_at(at, true)? else {
                break;
            };
            at = record.end;
            self.peeked.push(record.end);
            lines.push(record.line);
        }
        Ok(lines)
    }

    /// When the first record not delivered was buffered.
    pub fn oldest_ms(&mut self) -> io::Result<Option<i64>> {
        if self.pending == 0 {
            return Ok(None);
        }
        self.writer.flush()?;
        Ok(self.record_at(self.read, false)?.map(|r| r.at_ms))
    }

    /// The first `count` records of the last peek are delivered.
    pub fn consume(&mut self, count: usize) -> io::Result<()> {
        let Some(&end) = count.checked_sub(1).and_then(|last| self.peeked.get(last)) else {
            return Ok(());
        };
        self.peeked.clear();
        self.pending = self.pending.saturating_sub(count as u64);
        self.read = end;
        while self.segments.len() > 1 && self.segments.front().is_some_and(|&s| s < end.0) {
            if let Some(done) = self.segments.pop_front() {
                fs::remove_file(segment_path(&self.dir, done))?;
            }
        }
        if self.pending == 0 && self.written > RESET_BYTES {
            self.rotate()?;
            while self.segments.len() > 1 {
                if let Some(done) = self.segments.pop_front() {
                    fs::remove_file(segment_path(&self.dir, done))?;
                }
            }
            self.read = (self.segments.back().copied().unwrap_or(end.0), 0);
        }
        let temporary = self.dir.join("cursor.tmp");
        fs::write(&temporary, format!("{} {}\n", self.read.0, self.read.1))?;
        fs::rename(temporary, self.dir.join(CURSOR))
    }

    /// Starts the next write segment, the current one synced first.
    fn rotate(&mut self) -> io::Result<()> {
        self.sync()?;
        let next = self.segments.back().map_or(1, |&last| last + 1);
        self.writer = create_segment(&self.dir, next)?;
        self.segments.push_back(next);
        self.written = 0;
        Ok(())
    }

    /// The record at `place`, going on to the next segment at the end of one; `None` at the
    /// end of the log. `line`: read the line too (else only the header).
    fn record_at(&self, mut place: Place, line: bool) -> io::Result<Option<Found>> {
        loop {
            let path = segment_path(&self.dir, place.0);
            let mut file = BufReader::new(File::open(&path)?);
            file.seek(SeekFrom::Start(place.1))?;
            match read_record(&mut file, line)? {
                Some((at_ms, body, length)) => {
                    return Ok(Some(Found {
                        at_ms,
                        line: body,
                        end: (place.0, place.1 + HEADER + length),
                    }))
                }
                None => match self.segments.iter().find(|&&s| s > place.0) {
                    Some(&next) => place = (next, 0),
                    None => return Ok(None),
                },
            }
        }
    }
}

/// Reads one record: (time, line if asked for, length); `None` at the end or at a record cut
/// short or damaged.
fn read_record(file: &mut impl Read, line: bool) -> io::Result<Option<(i64, Vec<u8>, u64)>> {
    let mut header = [0u8; HEADER as usize];
    if !read_full(file, &mut header)? {
        return Ok(None);
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (length, crc) = (word(0), word(4));
    let mut time = [0u8; 8];
    time.copy_from_slice(&header[8..16]);
    let at_ms = i64::from_le_bytes(time);
    if !line {
        return Ok(Some((at_ms, Vec::new(), u64::from(length))));
    }
    let mut body = vec![0u8; length as usize];
    if !read_full(file, &mut body)? {
        return Ok(None);
    }
    let mut check = crc32fast::Hasher::new();
    check.update(&time);
    check.update(&body);
    if check.finalize() != crc {
        return Ok(None);
    }
    Ok(Some((at_ms, body, u64::from(length))))
}

/// Fills `buffer`; false when the file ends first.
fn read_full(file: &mut impl Read, buffer: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

/// The records of a segment from `start`: how many are whole and sound, and where they end.
fn scan(path: &Path, start: u64) -> io::Result<(u64, u64)> {
    let mut file = BufReader::new(File::open(path)?);
    let length = file.get_ref().metadata()?.len();
    if start >= length {
        return Ok((0, length.min(start)));
    }
    file.seek(SeekFrom::Start(start))?;
    let (mut count, mut end) = (0, start);
    while let Some((_, _, size)) = read_record(&mut file, true)? {
        count += 1;
        end += HEADER + size;
    }
    Ok((count, end))
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.log"))
}

/// A new, empty segment; the directory is synced so the file outlives a crash.
fn create_segment(dir: &Path, segment: u64) -> io::Result<BufWriter<File>> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, segment))?;
    File::open(dir)?.sync_all()?;
    Ok(BufWriter::with_capacity(1 << 16, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(log: &mut Log, max: usize) -> Vec<String> {
        log.peek(max)
            .unwrap()
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn records_not_delivered_survive_a_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path()).unwrap();
        for n in 0..5 {
            log.append(n, format!("r{n}").as_bytes()).unwrap();
        }
        log.sync().unwrap();
        assert_eq!(lines(&mut log, 2), ["r0", "r1"]);
        log.consume(2).unwrap();
        assert_eq!(log.pending(), 3);
        assert_eq!(log.oldest_ms().unwrap(), Some(2));
        drop(log);

        let mut log = Log::open(dir.path()).unwrap();
        assert_eq!(log.pending(), 3);
        log.append(9, b"r9").unwrap();
        assert_eq!(lines(&mut log, 10), ["r2", "r3", "r4", "r9"]);
        log.consume(4).unwrap();
        assert_eq!(log.pending(), 0);
        assert_eq!(log.oldest_ms().unwrap(), None);
        drop(log);
        let mut log = Log::open(dir.path()).unwrap();
        assert!(lines(&mut log, 10).is_empty());
        let segments = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "log")
            })
            .count();
        assert!(segments <= 2, "delivered segments are removed: {segments}");
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_the_records_before_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path()).unwrap();
        log.append(1, b"whole").unwrap();
        log.append(2, b"torn-record").unwrap();
        log.sync().unwrap();
        let segment = segment_path(dir.path(), log.segments[0]);
        drop(log);
        let length = fs::metadata(&segment).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap()
            .set_len(length - 3)
            .unwrap();
        let mut log = Log::open(dir.path()).unwrap();
        assert_eq!(log.pending(), 1);
        assert_eq!(lines(&mut log, 10), ["whole"]);
    }
}
