//! Tables: reference data the rules read by key, kept as differential collections.
//!
//! A table is a collection of `(key, version)` with updates and retractions, arranged by key
//! once and read by every lookup of it. An action reads each of the plan's lookups once, when
//! it enters the rules, as of its own event time: the row version with the largest (time,
//! position) at or before the action's event time. The operators:
//! [`crate::operators::table_source`] (a table's inputs: its file, its topic, the HTTP API),
//! [`crate::operators::table`] (versions per key, with retractions) and
//! [`crate::operators::lookup`] (the join, as of event time).
//!
//! Module map:
//! - this file: [`Version`] and [`RowPosition`], what the collection holds; [`TableBook`], the
//!   plan's tables and lookups compiled.
//! - [`store`]: each table's latest rows, shared with the HTTP API, and the updates it sends.
//! - [`feed`]: the interface of a table read from a topic (implemented by `acteon-kafka`).
//! - [`inputs`]: a run's table inputs, opened before its workers start and handed to them.

pub mod feed;
pub mod inputs;
pub mod store;

pub use feed::{TableFeed, TableReader, TableRecord};
pub use inputs::{TableInputError, TableInputs};
pub use store::{Inbound, TableStore, Tables};

use crate::eval::{Accessor, PlanPaths, TablePaths};
use crate::payload::Payload;
use acteon_dsl::plan::{Plan, Table};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::sync::Arc;

/// Where an update of a row was read. Two updates of a key at one time apply in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RowPosition {
    /// A line of the table's file.
    Line(u64),
    Kafka {
        partition: i32,
        offset: i64,
    },
    /// The n-th update over the HTTP API.
    Api(u64),
}

/// One version of a row: from `at_ms` (event time) on, the key's row is `row`; `None` is a
/// deletion. Ordered by (time, position): the version an action reads is the greatest one at
/// or before its event time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    pub at_ms: i64,
    pub position: RowPosition,
    pub row: Option<Payload>,
}

/// The time of rows that hold from the start: a file's.
pub const FROM_THE_START: i64 = i64::MIN;

impl Version {
    fn order(&self) -> (i64, RowPosition) {
        (self.at_ms, self.position)
    }

    fn text(&self) -> Option<&str> {
        self.row.as_ref().map(Payload::text)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Versions of one key differ in (time, position); the text only keeps the order total.
impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.order()
            .cmp(&other.order())
            .then_with(|| self.text().cmp(&other.text()))
    }
}

/// An update of a table on its way to the worker owning its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub key: Arc<str>,
    pub version: Version,
}

/// A key's hash, the same in every process: a table's updates and the lookups of a key are
/// exchanged by it, so the arrangement is partitioned by key.
pub fn route(key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

/// The plan's tables and lookups, compiled once per plan.
#[derive(Debug)]
pub struct TableBook {
    pub tables: Vec<Arc<CompiledTable>>,
    /// By lookup index: the table (an index of `tables`) and the action field holding the key.
    pub lookups: Vec<(usize, Accessor)>,
}

#[derive(Debug)]
pub struct CompiledTable {
    pub table: Table,
    pub paths: TablePaths,
}

impl TableBook {
    /// `None` when the plan makes no lookup (its tables, if any, are never read).
    pub fn new(plan: &Plan, paths: &PlanPaths) -> Option<TableBook> {
        let lookups = paths.lookups();
        if lookups.is_empty() {
            return None;
        }
        let tables: Vec<Arc<CompiledTable>> = plan
            .tables
            .iter()
            .filter(|table| lookups.iter().any(|l| l.table == table.name))
            .filter_map(|table| {
                Some(Arc::new(CompiledTable {
                    table: table.clone(),
                    paths: paths.table(&table.name)?.clone(),
                }))
            })
            .collect();
        let lookups = lookups
            .iter()
            .filter_map(|lookup| {
                let table = tables.iter().position(|t| t.table.name == lookup.table)?;
                Some((table, Accessor::compile(&lookup.key, paths)))
            })
            .collect();
        Some(TableBook { tables, lookups })
    }
}

impl CompiledTable {
    /// A row's JSON text read into a row with the plan's slots, and its key; `Err`: why it is
    /// not a row.
    pub fn row(&self, text: &str) -> Result<(Arc<str>, Payload), String> {
        if !text.trim_start().starts_with('{') {
            return Err("a row is a JSON object".into());
        }
        let row = Payload::read(text, &self.paths.set)?;
        let key = match row.slot(self.paths.set.id(), self.paths.key) {
            Some(crate::payload::Slot::Text(start, end)) => Arc::from(row.range(*start, *end)),
            Some(crate::payload::Slot::Owned(text)) => Arc::from(&**text),
            Some(crate::payload::Slot::Missing) | None => {
                return Err(format!("the row has no key field `{}`", self.table.key))
            }
            Some(_) => {
                return Err(format!(
                    "the key field `{}` is not a string",
                    self.table.key
                ))
            }
        };
        Ok((key, row))
    }

    /// The row's `updated_at` (RFC 3339), in Unix milliseconds, when it has one.
    pub fn updated_at(&self, row: &Payload) -> Option<i64> {
        let text = match row.slot(self.paths.set.id(), self.paths.updated_at)? {
            crate::payload::Slot::Text(start, end) => row.range(*start, *end),
            crate::payload::Slot::Owned(text) => text,
            _ => return None,
        };
        crate::time::parse_rfc3339_ms(text)
    }
}
