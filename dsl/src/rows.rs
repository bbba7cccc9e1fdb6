//! Table files: JSON lines, one row (a JSON object) per line, each keyed by the text of its key
//! field. The checker reads them to know which fields rows have; the engine loads them.

use serde_json::Value;
use std::io::BufRead;
use std::path::Path;

/// One row of a table file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// 1-based line of the file.
    pub line: usize,
    pub key: String,
    /// A JSON object.
    pub value: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line} of `{path}`: {reason}")]
    Line {
        path: String,
        line: usize,
        reason: String,
    },
}

/// Every row of the file at `path`, whose key is the field `key`; blank lines are skipped. The
/// first line that is not a row is the error.
pub fn read_file(path: &Path, key: &str) -> Result<Vec<FileRow>, RowsError> {
    let mut rows = Vec::new();
    for_each_line(path, |line, text| {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let key = row_key(&value, key)?.to_owned();
        rows.push(FileRow { line, key, value });
        Ok(())
    })?;
    Ok(rows)
}

/// Calls `row` with every line of the file at `path` that is not blank, and its 1-based
/// number; the first line it refuses (with the reason) is the error.
pub fn for_each_line(
    path: &Path,
    mut row: impl FnMut(usize, &str) -> Result<(), String>,
) -> Result<(), RowsError> {
    let shown = || path.display().to_string();
    let read = |source| RowsError::Read {
        path: shown(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(read)?;
        if line.trim().is_empty() {
            continue;
        }
        row(index + 1, &line).map_err(|reason| RowsError::Line {
            path: shown(),
            line: index + 1,
            reason,
        })?;
    }
    Ok(())
}

/// The key of a row: its field `key`, which must be a string.
pub fn row_key<'v>(row: &'v Value, key: &str) -> Result<&'v str, String> {
    let Value::Object(fields) = row else {
        return Err("a row is a JSON object".into());
    };
    match fields.get(key) {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(format!("the key field `{key}` is not a string")),
        None => Err(format!("the row has no key field `{key}`")),
    }
}
