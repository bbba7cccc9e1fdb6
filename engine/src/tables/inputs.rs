//! The inputs of a run's tables, opened once per run before its workers start (so a table file
//! that cannot be read, or a topic that cannot be opened, fails the run), then handed to the
//! workers that read them: a file's rows and a topic's reader to the run's first worker, the
//! HTTP API's updates to each process's first worker.

use super::FROM_THE_START;
use super::{CompiledTable, RowPosition, TableBook, TableStore, Tables, Update, Version};
use crate::checkpoint::Checkpointer;
use crate::operators::table::part_name as table_part;
use crate::operators::table_source::{part_name as source_part, TableCut, TableSourceSettings};
use crate::tables::TableReader;
use crate::time::Epochs;
use acteon_dsl::plan::TableSource;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Why a table's input could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TableInputError {
    #[error("table `{table}`: {reason}")]
    File { table: String, reason: String },
    #[error("table `{table}` is read from a topic, and this run has no way to read topics")]
    NoFeed { table: String },
    #[error("table `{table}`: cannot open its topic: {reason}")]
    Topic { table: String, reason: String },
}

/// A run's tables and what their first readers take.
pub struct TableInputs {
    pub book: Arc<TableBook>,
    tables: Vec<Input>,
}

struct Input {
    table: Arc<CompiledTable>,
    store: Arc<TableStore>,
    /// Taken by the run's first worker.
    first: Mutex<Option<FirstReader>>,
}

/// What the run's first worker reads of a table: its file's rows, its topic.
type FirstReader = (Vec<Update>, Option<Box<dyn TableReader>>);

impl TableInputs {
    /// Opens every table `book` reads; `first_process`: whether this process runs the run's
    /// first worker, which reads the files and topics.
    pub fn open(
        book: TableBook,
        tables: &Tables,
        checkpointer: Option<&Checkpointer>,
        first_process: bool,
    ) -> Result<TableInputs, TableInputError> {
        let restored = checkpointer.and_then(Checkpointer::restored);
        let inputs = book
            .tables
            .iter()
            .map(|table| {
                let name = &table.table.name;
                let store = tables.open(&table.table);
                // A checkpoint holds the versions; the topic is read again from its cut.
                let versions_restored = restored.is_some_and(|r| {
                    !r.parts::<Vec<(Arc<str>, Version)>>(&table_part(name))
                        .is_empty()
                });
                let resume: TableCut = restored
                    .map(|r| r.parts::<TableCut>(&source_part(name)))
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|(_, cut)| cut)
                    .collect();
                let first = match first_process {
                    false => None,
                    true => {
                        let rows = match &table.table.source {
                            TableSource::File { path }
                                if !versions_restored && store.seed().is_none() =>
                            {
                                file_rows(table, Path::new(path))?
                            }
                            _ => Vec::new(),
                        };
                        let reader = match &table.table.source {
                            TableSource::Kafka(kafka) => {
                                let feed =
                                    tables.feed().ok_or_else(|| TableInputError::NoFeed {
                                        table: name.clone(),
                                    })?;
                                Some(feed.open(kafka, &resume).map_err(|reason| {
                                    TableInputError::Topic {
                                        table: name.clone(),
                                        reason,
                                    }
                                })?)
                            }
                            TableSource::File { .. } => None,
                        };
                        Some((rows, reader))
                    }
                };
                Ok(Input {
                    table: Arc::clone(table),
                    store,
                    first: Mutex::new(first),
                })
            })
            .collect::<Result<Vec<_>, TableInputError>>()?;
        Ok(TableInputs {
            book: Arc::new(book),
            tables: inputs,
        })
    }

    /// What worker `local` of this process reads of each table (the first one takes the files
    /// and topics, once).
    pub fn for_worker(
        &self,
        local: usize,
        epochs: Epochs,
        checkpointer: Option<Arc<Checkpointer>>,
    ) -> Vec<TableSourceSettings> {
        self.tables
            .iter()
            .map(|input| {
                let first = match local {
                    0 => input.first.lock().ok().and_then(|mut f| f.take()),
                    _ => None,
                };
                let (rows, reader) = first.unwrap_or_default();
                TableSourceSettings {
                    table: Arc::clone(&input.table),
                    store: Arc::clone(&input.store),
                    rows,
                    reader,
                    http: local == 0,
                    epochs,
                    checkpointer: checkpointer.clone(),
                }
            })
            .collect()
    }
}

/// A file's rows as updates that hold from the start; a later line of a key replaces an
/// earlier one.
fn file_rows(table: &CompiledTable, path: &Path) -> Result<Vec<Update>, TableInputError> {
    let mut rows = Vec::new();
    acteon_dsl::rows::for_each_line(path, |line, text| {
        let (key, row) = table.row(text)?;
        rows.push(Update {
            key,
            version: Version {
                at_ms: FROM_THE_START,
                position: RowPosition::Line(line as u64),
                row: Some(row),
            },
        });
        Ok(())
    })
    .map_err(|error| TableInputError::File {
        table: table.table.name.clone(),
        reason: error.to_string(),
    })?;
    Ok(rows)
}
