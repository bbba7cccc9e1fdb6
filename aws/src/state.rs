//! The DynamoDB checkpoint store, for deployments without a shared disk: the seed's
//! `acteon_state` table (key `pk`, `sk`: strings), shared by several pipelines through a
//! prefix (the pipeline's name, or one the user chooses).
//!
//! Layout. An item holds at most 400 KB, and a checkpoint with a million live dedup keys is
//! about 29 MiB, so every part is cut into chunks of [`CHUNK_BYTES`]:
//!
//! | `pk` | `sk` | attributes |
//! |---|---|---|
//! | `<prefix>#checkpoint#<sequence:010>` | `part#<part name>#<chunk:05>` | `data` (binary) |
//! | `<prefix>#checkpoint#<sequence:010>` | `manifest` | `manifest` (JSON: the manifest, and each part's chunk count) |
//! | `<prefix>#checkpoints` | `saving#<sequence:010>` | (a save under way) |
//! | `<prefix>#checkpoints` | `checkpoint#<sequence:010>` | `epoch`, `bytes`, `written_at_ms` |
//!
//! A save, in order: the `saving#` marker; the removal of anything an earlier, crashed attempt
//! at the same sequence left; the chunks (BatchWriteItem, 25 per call, unprocessed items sent
//! again); the manifest, which commits the checkpoint; the `checkpoint#` listing entry; the
//! marker's removal. A crash before the manifest leaves chunks that nothing lists or reads; a
//! crash before the listing entry leaves a whole checkpoint that is not listed, which is the
//! same as no save at all. So the listing names only committed checkpoints, and
//! [`StateStore::sequences`] is one Query of one partition, newest first. A load reads the
//! checkpoint's partition (strongly consistent, paged), joins each part's chunks and checks
//! every part's length and CRC-32: a missing or damaged chunk makes the checkpoint
//! [`CheckpointError::Corrupt`], and the run falls back to the previous one. A prune removes
//! the items and listing entries of all but the newest checkpoints, and the chunks of saves
//! that were left unfinished (their `saving#` markers) below the newest checkpoint.
//!
//! Chunks of a checkpoint share one partition so that a load or a removal is one paged Query;
//! checkpoints are written at most a few times a minute by one writer, so the partition's
//! throughput limit is not in the way. The TTL attribute of the table (`expires_at`) is not
//! set: a checkpoint stays until a prune removes it.
//!
//! The store's interface is synchronous: the checkpoint writer calls it from its own thread,
//! and the run loads at start on the thread that called it. The calls are made on the run's
//! AWS runtime with `block_on`, which must not be called on a thread of a tokio runtime (it
//! would panic); such a call is refused with an error instead. The store keeps the
//! [`AwsProviders`] it was made from, so its runtime lives as long as the store.

use crate::delivery::Policy;
use crate::dynamodb::{self, with_retries, Item};
use crate::error::classify;
use crate::AwsProviders;
use acteon_dsl::plan::AwsConnection;
use acteon_engine::checkpoint::{Checkpoint, CheckpointError, Manifest, StateStore};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// The bytes of a part per item: below the 400 KB item limit with room for the key, and 25
/// of them (7.5 MiB) stay below BatchWriteItem's 16 MB per call.
pub const CHUNK_BYTES: usize = 300 * 1024;

/// Attempts per DynamoDB call (throttling, unprocessed items, transient errors): a checkpoint
/// not stored is retried only at the next interval, so a call is worth more patience than a
/// provider's.
const ATTEMPTS: u32 = 8;

const MANIFEST: &str = "manifest";
const PART: &str = "part#";
const LISTED: &str = "checkpoint#";
const SAVING: &str = "saving#";

/// The manifest item's JSON: the checkpoint's manifest, and how many chunks each part has
/// (a part's last chunk cannot be told from a missing one otherwise).
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    manifest: Manifest,
    chunks: BTreeMap<String, u32>,
}

/// Checkpoints in a DynamoDB table (see the module documentation for the layout).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    aws: Arc<AwsProviders>,
    client: aws_sdk_dynamodb::Client,
    table: String,
    prefix: String,
    policy: Policy,
}

impl DynamoStore {
    /// The store of the checkpoints under `prefix` in `table`, reached through `connection`.
    /// Nothing is called yet: a missing table is reported by the first call (the run's first
    /// is listing the checkpoints at start).
    pub fn open(
        aws: &Arc<AwsProviders>,
        table: &str,
        prefix: &str,
        connection: &AwsConnection,
    ) -> Result<DynamoStore, CheckpointError> {
        let store = DynamoStore {
            aws: Arc::clone(aws),
            client: aws_sdk_dynamodb::Client::new(&aws.sdk_config(connection)),
            table: table.to_owned(),
            prefix: prefix.to_owned(),
            policy: Policy {
                max_attempts: ATTEMPTS,
                ..Policy::default()
            },
        };
        // '#' separates the key's fields: a prefix holding one could read another's items.
        if prefix.is_empty() || prefix.contains('#') {
            return Err(store.failure(format!(
                "the prefix {prefix:?} must be non-empty and without '#'"
            )));
        }
        Ok(store)
    }

    /// Creates the table with the key this store needs (`pk`, `sk`: strings), billed per
    /// request, as the seed's setup script creates `acteon_state`; for tests and first
    /// deployments (on AWS the table takes writes once it is ACTIVE, moments after this
    /// returns).
    pub fn create_table(&self) -> Result<(), CheckpointError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let mut request = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest);
        for (name, kind) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
            let attribute = AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| self.failure(e))?;
            let key = KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| self.failure(e))?;
            request = request.attribute_definitions(attribute).key_schema(key);
        }
        self.block_on(async {
            request
                .send()
                .await
                .map(drop)
                .map_err(|e| self.failure(classify(e).message))
        })
    }

    /// The partition of one checkpoint's chunks and manifest.
    pub fn partition_of(&self, sequence: u64) -> String {
        format!("{}#checkpoint#{sequence:010}", self.prefix)
    }

    /// The partition of the listing and of the markers of saves under way.
    fn listing(&self) -> String {
        format!("{}#checkpoints", self.prefix)
    }

    /// The sort key of a part's chunk.
    pub fn chunk_key(part: &str, chunk: u32) -> String {
        format!("{PART}{part}#{chunk:05}")
    }

    fn failure(&self, reason: impl std::fmt::Display) -> CheckpointError {
        CheckpointError::Store {
            store: format!("DynamoDB table {} (prefix {})", self.table, self.prefix),
            reason: reason.to_string(),
        }
    }

    /// Runs `future` on the AWS runtime and waits for it (see the module documentation).
    fn block_on<T>(
        &self,
        future: impl Future<Output = Result<T, CheckpointError>>,
    ) -> Result<T, CheckpointError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(self.failure(
                "called on a thread of an async runtime, where it cannot wait for its calls",
            ));
        }
        self.aws.runtime().block_on(future)
    }

    /// Every item of partition `pk` whose sort key starts with `prefix` (all with `""`), in
    /// sort key order (reversed with `newest_first`), read strongly consistent, page by page;
    /// `keys_only` reads just `pk` and `sk`.
    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        newest_first: bool,
        keys_only: bool,
    ) -> Result<Vec<Item>, CheckpointError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = with_retries(&self.policy, || {
                let mut request = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .consistent_read(true)
                    .scan_index_forward(!newest_first)
                    .set_exclusive_start_key(start.clone())
                    .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()));
                request = if prefix.is_empty() {
                    request.key_condition_expression("pk = :pk")
                } else {
                    request
                        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                        .expression_attribute_values(":prefix", AttributeValue::S(prefix.into()))
                };
                if keys_only {
                    request = request.projection_expression("pk, sk");
                }
                async move { request.send().await.map_err(classify) }
            })
            .await
            .map_err(|e| self.failure(format!("query of {pk}: {}", e.message)))?;
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn put(&self, item: Item) -> Result<(), CheckpointError> {
        with_retries(&self.policy, || {
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()));
            async move { request.send().await.map_err(classify) }
        })
        .await
        .map(drop)
        .map_err(|e| self.failure(e.message))
    }

    async fn write_all(
        &self,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<(), CheckpointError> {
        dynamodb::write_all(&self.client, &self.table, requests, &self.policy)
            .await
            .map_err(|e| self.failure(e))
    }

    /// Deletes the items of partition `pk`, and then the listing entries `listing` (sort
    /// keys): a removal cut short leaves a listed checkpoint that fails to load (and is
    /// removed again by the next prune), never chunks that nothing names.
    async fn remove(&self, pk: &str, listing: &[String]) -> Result<(), CheckpointError> {
        let requests = self
            .query(pk, "", false, true)
            .await?
            .into_iter()
            .map(dynamodb::delete)
            .collect::<Result<_, _>>()
            .map_err(|e| self.failure(e))?;
        self.write_all(requests).await?;
        self.remove_listing(listing).await
    }

    async fn save_async(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let sequence = checkpoint.manifest.sequence;
        let pk = self.partition_of(sequence);
        let marker = format!("{SAVING}{sequence:010}");
        self.put(key(&self.listing(), &marker)).await?;
        // An earlier attempt at this sequence (a run that crashed while saving it) may have
        // left chunks, some of which this save would not overwrite.
        self.remove(&pk, &[]).await?;

        let mut chunks = BTreeMap::new();
        let mut requests = Vec::new();
        for (name, bytes) in &checkpoint.parts {
            let mut count = 0;
            for piece in bytes.chunks(CHUNK_BYTES) {
                let mut item = key(&pk, &Self::chunk_key(name, count));
                item.insert("data".into(), AttributeValue::B(Blob::new(piece)));
                requests.push(dynamodb::put(item).map_err(|e| self.failure(e))?);
                count += 1;
            }
            chunks.insert(name.clone(), count);
        }
        self.write_all(requests).await?;

        let stored = Stored {
            manifest: checkpoint.manifest.clone(),
            chunks,
        };
        let json =
            serde_json::to_string(&stored).map_err(|e| CheckpointError::Encode(e.to_string()))?;
        let mut manifest = key(&pk, MANIFEST);
        manifest.insert(MANIFEST.into(), AttributeValue::S(json));
        self.put(manifest).await?;

        let mut listed = key(&self.listing(), &format!("{LISTED}{sequence:010}"));
        let number = |n: u64| AttributeValue::N(n.to_string());
        listed.insert("epoch".into(), number(checkpoint.manifest.epoch));
        listed.insert("bytes".into(), number(checkpoint.size()));
        listed.insert(
            "written_at_ms".into(),
            AttributeValue::N(checkpoint.manifest.written_at_ms.to_string()),
        );
        self.put(listed).await?;
        self.remove_listing(&[marker]).await
    }

    async fn remove_listing(&self, sort_keys: &[String]) -> Result<(), CheckpointError> {
        let requests = sort_keys
            .iter()
            .map(|sk| dynamodb::delete(key(&self.listing(), sk)))
            .collect::<Result<_, _>>()
            .map_err(|e| self.failure(e))?;
        self.write_all(requests).await
    }

    async fn sequences_async(&self) -> Result<Vec<u64>, CheckpointError> {
        let listed = self.query(&self.listing(), LISTED, true, true).await?;
        Ok(listed
            .iter()
            .filter_map(|item| sort_key(item)?.strip_prefix(LISTED)?.parse().ok())
            .collect())
    }

    async fn load_async(&self, sequence: u64) -> Result<Checkpoint, CheckpointError> {
        let corrupt = |reason: String| CheckpointError::Corrupt { sequence, reason };
        let items = self
            .query(&self.partition_of(sequence), "", false, false)
            .await?;
        let mut stored = None;
        let mut pieces: BTreeMap<(&str, u32), &[u8]> = BTreeMap::new();
        for item in &items {
            let Some(sk) = sort_key(item) else { continue };
            if sk == MANIFEST {
                let json = item
                    .get(MANIFEST)
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| corrupt("the manifest item has no manifest".into()))?;
                let parsed: Stored =
                    serde_json::from_str(json).map_err(|e| corrupt(format!("manifest: {e}")))?;
                stored = Some(parsed);
            } else if let Some((name, chunk)) =
                sk.strip_prefix(PART).and_then(|rest| rest.rsplit_once('#'))
            {
                let chunk = chunk
                    .parse()
                    .map_err(|_| corrupt(format!("the chunk key {sk:?} has no chunk number")))?;
                let data = item
                    .get("data")
                    .and_then(|v| v.as_b().ok())
                    .ok_or_else(|| corrupt(format!("chunk {sk:?} holds no data")))?;
                pieces.insert((name, chunk), data.as_ref());
            }
        }
        let Stored { manifest, chunks } =
            stored.ok_or_else(|| corrupt("the manifest is missing".into()))?;
        if manifest.sequence != sequence {
            return Err(corrupt("the manifest names another sequence".into()));
        }
        let mut parts = BTreeMap::new();
        for entry in &manifest.parts {
            let count = *chunks
                .get(&entry.name)
                .ok_or_else(|| corrupt(format!("part {} has no chunk count", entry.name)))?;
            let mut bytes = Vec::with_capacity(entry.bytes as usize);
            for chunk in 0..count {
                let piece = pieces.get(&(entry.name.as_str(), chunk)).ok_or_else(|| {
                    corrupt(format!("chunk {chunk} of part {} is missing", entry.name))
                })?;
                bytes.extend_from_slice(piece);
            }
            parts.insert(entry.name.clone(), bytes);
        }
        let checkpoint = Checkpoint { manifest, parts };
        checkpoint.verify()?;
        Ok(checkpoint)
    }

    async fn prune_async(&self, keep: usize) -> Result<(), CheckpointError> {
        let entries = self.query(&self.listing(), "", false, true).await?;
        let numbered = |wanted: &str| -> Vec<u64> {
            entries
                .iter()
                .filter_map(|item| sort_key(item)?.strip_prefix(wanted)?.parse().ok())
                .collect()
        };
        let mut listed = numbered(LISTED);
        listed.sort_unstable_by(|a, b| b.cmp(a));
        for &sequence in listed.iter().skip(keep) {
            let entry = format!("{LISTED}{sequence:010}");
            self.remove(&self.partition_of(sequence), &[entry]).await?;
        }
        let newest = listed.first().copied().unwrap_or(0);
        for sequence in numbered(SAVING) {
            let marker = format!("{SAVING}{sequence:010}");
            if listed.contains(&sequence) {
                // Saved and listed, and the marker's removal was cut short.
                self.remove_listing(&[marker]).await?;
            } else if sequence < newest {
                self.remove(&self.partition_of(sequence), &[marker]).await?;
            }
        }
        Ok(())
    }
}

/// An item holding only the key `pk`, `sk`.
fn key(pk: &str, sk: &str) -> Item {
    Item::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn sort_key(item: &Item) -> Option<&str> {
    item.get("sk")?.as_s().ok().map(String::as_str)
}

impl StateStore for DynamoStore {
    fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        self.block_on(self.save_async(checkpoint))
    }

    fn sequences(&self) -> Result<Vec<u64>, CheckpointError> {
        self.block_on(self.sequences_async())
    }

    fn load(&self, sequence: u64) -> Result<Checkpoint, CheckpointError> {
        self.block_on(self.load_async(sequence))
    }

    fn prune(&self, keep: usize) -> Result<(), CheckpointError> {
        self.block_on(self.prune_async(keep))
    }
}
