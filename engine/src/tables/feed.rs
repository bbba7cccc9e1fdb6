//! A table read from a topic: every record from the earliest offset (or from a restored
//! checkpoint's positions), by lanes (partitions), each lane's records in offset order. A
//! record's value is the row; an empty or null value deletes the row of the record's key.

use crate::feed::Polled;
use acteon_dsl::plan::KafkaTable;
use std::collections::BTreeMap;

/// Opens the readers of tables that come from topics (`acteon-kafka` implements it).
pub trait TableFeed: Send + Sync + std::fmt::Debug {
    /// The reader of `table`'s topic; a lane in `resume` (lane -> next offset) is read from
    /// there, the others from the earliest offset.
    fn open(
        &self,
        table: &KafkaTable,
        resume: &BTreeMap<i32, i64>,
    ) -> Result<Box<dyn TableReader>, String>;
}

/// The reader of one table's topic, polled without blocking.
pub trait TableReader: Send {
    /// Every lane: each holds the table's time back until it is caught up.
    fn lanes(&self) -> Vec<i32>;

    /// The next record into `record` (its buffers reused).
    fn poll(&mut self, record: &mut TableRecord) -> Polled;
}

/// One record of a table's topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableRecord {
    /// The record's key: the row's key when present.
    pub key: Option<Vec<u8>>,
    /// The row as JSON text; empty for a record without a value.
    pub value: Vec<u8>,
}

impl TableRecord {
    /// Whether the record deletes its key's row: no value, an empty one, or `null`.
    pub fn deletes(&self) -> bool {
        let value = self.value.trim_ascii();
        value.is_empty() || value == b"null"
    }
}
