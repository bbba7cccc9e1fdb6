//! Each table's latest rows, shared between the table operators of a process (each writes the
//! keys it owns) and whoever reads them while the run goes on (the HTTP API): what a table holds
//! now, read without stopping the dataflow; and the updates the HTTP API sends the other way,
//! applied at processing time by the table's source.
//!
//! [`Tables`] outlives a run: a served engine's next generation finds the rows of a file table
//! it keeps (same name, key and file) here and starts from them instead of the file, so rows
//! changed over HTTP survive a reload.

use super::{TableFeed, Version};
use acteon_dsl::plan::{Table, TableSource};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use timely::scheduling::SyncActivator;

/// The tables of a run (and of the runs after it), by name, and how tables read from topics
/// are opened. Clones share them.
#[derive(Clone, Default)]
pub struct Tables {
    stores: Arc<Mutex<BTreeMap<String, Arc<TableStore>>>>,
    feed: Option<Arc<dyn TableFeed>>,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables")
            .field("tables", &self.names())
            .field("feed", &self.feed)
            .finish()
    }
}

impl Tables {
    pub fn new() -> Tables {
        Tables::default()
    }

    /// Tables from topics are read through `feed`.
    pub fn with_feed(mut self, feed: Arc<dyn TableFeed>) -> Tables {
        self.feed = Some(feed);
        self
    }

    pub fn feed(&self) -> Option<&Arc<dyn TableFeed>> {
        self.feed.as_ref()
    }

    /// The store of table `name` in the run deciding now.
    pub fn store(&self, name: &str) -> Option<Arc<TableStore>> {
        self.lock().get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The store of `table` for a run starting now, which becomes the one [`Tables::store`]
    /// finds. A file table the previous run had too starts from that run's rows.
    pub(crate) fn open(&self, table: &Table) -> Arc<TableStore> {
        let mut stores = self.lock();
        let seed = stores
            .get(&table.name)
            .filter(|previous| {
                previous.table == *table && matches!(table.source, TableSource::File { .. })
            })
            .map(|previous| Arc::new(previous.rows().clone()));
        let store = Arc::new(TableStore {
            table: table.clone(),
            rows: RwLock::new(BTreeMap::new()),
            seed,
            inbox: Mutex::new(Vec::new()),
            activator: Mutex::new(None),
            sequence: AtomicU64::new(0),
        });
        stores.insert(table.name.clone(), Arc::clone(&store));
        store
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<TableStore>>> {
        self.stores.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One table of one run: its latest rows, and the updates waiting for its source.
pub struct TableStore {
    pub table: Table,
    /// The latest version of every row there is (a deleted row is gone).
    rows: RwLock<BTreeMap<Arc<str>, Version>>,
    /// The rows the previous run ended with, when this run starts from them.
    seed: Option<Arc<BTreeMap<Arc<str>, Version>>>,
    inbox: Mutex<Vec<Inbound>>,
    /// The source that drains the inbox, woken when an update arrives.
    activator: Mutex<Option<SyncActivator>>,
    sequence: AtomicU64,
}

impl std::fmt::Debug for TableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableStore")
            .field("table", &self.table.name)
            .field("rows", &self.len())
            .finish_non_exhaustive()
    }
}

/// A row's key and its latest version.
pub type Row = (Arc<str>, Version);

/// An update sent over the HTTP API, applied at processing time: `at_ms` is when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub key: Arc<str>,
    /// The row's JSON text; `None` deletes the row.
    pub row: Option<String>,
    pub at_ms: i64,
    /// Its place among the table's HTTP updates.
    pub sequence: u64,
}

impl TableStore {
    /// The row of `key` now.
    pub fn get(&self, key: &str) -> Option<Version> {
        self.rows().get(key).cloned()
    }

    pub fn len(&self) -> usize {
        self.rows().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `limit` rows `keep` accepts, in key order, after the key `after`; and the key to
    /// go on after when there may be more. Reads under the lock for as long as it takes to
    /// find them, copying only those.
    pub fn page(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: impl Fn(&Version) -> bool,
    ) -> (Vec<Row>, Option<Arc<str>>) {
        let rows = self.rows();
        let start = match after {
            Some(after) => Bound::Excluded(after),
            None => Bound::Unbounded,
        };
        let mut page: Vec<Row> = Vec::new();
        for (key, version) in rows.range::<str, _>((start, Bound::Unbounded)) {
            if !keep(version) {
                continue;
            }
            if page.len() == limit {
                let next = page
                    .last()
                    .map(|(k, _): &(Arc<str>, Version)| Arc::clone(k));
                return (page, next);
            }
            page.push((Arc::clone(key), version.clone()));
        }
        (page, None)
    }

    /// Sends an update to the table's source; `row` `None` deletes. Returns its sequence.
    pub fn send(&self, key: Arc<str>, row: Option<String>, at_ms: i64) -> u64 {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        lock(&self.inbox).push(Inbound {
            key,
            row,
            at_ms,
            sequence,
        });
        if let Some(activator) = lock(&self.activator).as_ref() {
            // A source whose dataflow has ended reads no more updates.
            let _ = activator.activate();
        }
        sequence
    }

    /// The updates sent since the last call.
    pub(crate) fn take_inbox(&self) -> Vec<Inbound> {
        std::mem::take(&mut *lock(&self.inbox))
    }

    pub(crate) fn listen(&self, activator: SyncActivator) {
        *lock(&self.activator) = Some(activator);
    }

    /// The rows this run starts from instead of its file, if any.
    pub(crate) fn seed(&self) -> Option<&BTreeMap<Arc<str>, Version>> {
        self.seed.as_deref()
    }

    /// Notes the key's latest version (`None` when its row is deleted); returns the one it
    /// replaces.
    pub(crate) fn apply(&self, key: &Arc<str>, version: Option<Version>) -> Option<Version> {
        let mut rows = self.rows_mut();
        match version {
            Some(version) => rows.insert(Arc::clone(key), version),
            None => rows.remove(key),
        }
    }

    /// The rows whose keys `owns` accepts.
    pub(crate) fn owned(&self, owns: impl Fn(&str) -> bool) -> Vec<Row> {
        self.rows()
            .iter()
            .filter(|(key, _)| owns(key))
            .map(|(k, v)| (Arc::clone(k), v.clone()))
            .collect()
    }

    fn rows(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Arc<str>, Version>> {
        // Rows are replaced whole under the lock: a panicked writer left no torn row.
        self.rows.read().unwrap_or_else(|e| e.into_inner())
    }

    fn rows_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Arc<str>, Version>> {
        self.rows.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
