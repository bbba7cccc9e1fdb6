//! The DynamoDB checkpoint store, for deployments without a shared disk: the seed's
//! `acteon_state` table (key `pk`, `sk`: strings), shared by several pipelines through a
//! prefix (the pipeline's name, or one the user chooses).
//!
//! Layout. An item holds at most 400 KB, and a checkpoint with a million live dedup keys is
//! about 29 MiB, so every part is cut into chunks of [`CHUNK_BYTES`]:
//!
//! | `pk` | `sk` | attributes |
//! |---|---|---|
//! | `<prefix>#checkpoint#<sequence:010>` | `manifest` | `manifest` (the manifest's JSON, as the directory store writes it), `chunks` (part name -> chunk count) |
//! | `<prefix>#checkpoint#<sequence:010>#<part name>#<chunk:05>` | `chunk` | `data` (binary) |
//! | `<prefix>#checkpoints` | `saving#<sequence:010>` | `chunks` (a save under way, and what it writes) |
//! | `<prefix>#checkpoints` | `checkpoint#<sequence:010>` | `epoch`, `bytes`, `written_at_ms` |
//!
//! Every chunk is a partition of its own: DynamoDB takes at most about 1,000 write units a
//! second per partition key, and a 29 MiB checkpoint is about 30,000 of them, which one
//! partition would take half a minute to absorb; spread over keys, the table's partitions
//! share the load. Since nothing has to be found by a Query, every key is computed: from the
//! manifest's chunk counts, or from a save's marker.
//!
//! A save, in order: the removal of anything an earlier, crashed attempt at the same sequence
//! left (its marker names it); the `saving#` marker, naming the chunks; the chunks
//! (BatchWriteItem, 25 per call, unprocessed items sent again); the manifest, which commits
//! the checkpoint; the `checkpoint#` listing entry; the marker's removal. A crash before the
//! manifest leaves chunks that nothing lists or reads; a crash before the listing entry leaves
//! a whole checkpoint that is not listed, which is the same as no save at all. So the listing
//! names only committed checkpoints, and [`StateStore::sequences`] is one Query of one
//! partition, newest first. A load reads the manifest and then the chunks (BatchGetItem,
//! strongly consistent), joins each part's chunks and checks every part's length and CRC-32:
//! a missing or damaged chunk makes the checkpoint [`CheckpointError::Corrupt`], and the run
//! falls back to the previous one. A prune removes all but the newest checkpoints (chunks,
//! then manifest, then listing entry, so that a prune cut short leaves a listed checkpoint
//! that fails to load and is removed again, never chunks nothing names), and the items of
//! saves left unfinished (a marker below the newest checkpoint). The table's TTL attribute
//! (`expires_at`) is not set: a checkpoint stays until a prune removes it. One run writes a
//! prefix at a time.
//!
//! The store's interface is synchronous: the checkpoint writer calls it from its own thread,
//! and the run loads at start on the thread that called it. The calls are made on the run's
//! AWS runtime with `block_on`, which must not be called on a thread of a tokio runtime (it
//! would panic); such a call is refused with an error instead. The store keeps the
//! [`AwsProviders`] it was made from, so its runtime lives as long as the store.

use crate::dynamodb::{self, with_retries, Item};
use crate::error::classify;
use crate::AwsProviders;
use acteon_delivery::Policy;
use acteon_dsl::plan::AwsConnection;
use acteon_engine::checkpoint::{Checkpoint, CheckpointError, Manifest, StateStore};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

/// The bytes of a part per item: below the 400 KB item limit with room for the key, and 25
/// of them (7.5 MiB) stay below BatchWriteItem's 16 MB per call.
pub const CHUNK_BYTES: usize = 300 * 1024;

/// Attempts per DynamoDB call (throttling, unprocessed items, transient errors): a checkpoint
/// not stored is retried only at the next interval, so a call is worth more patience than a
/// provider's.
const ATTEMPTS: u32 = 8;

/// The sort key of a manifest.
pub const MANIFEST: &str = "manifest";
/// The sort key of a chunk.
pub const CHUNK: &str = "chunk";
const LISTED: &str = "checkpoint#";
const SAVING: &str = "saving#";

/// Part name -> how many chunks it has (a part's last chunk cannot be told from a missing one
/// otherwise).
type Counts = BTreeMap<String, u32>;

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
        // '#' separates the key's fields: a prefix holding one could name another's items.
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

    /// The partition key of a checkpoint's manifest.
    pub fn manifest_partition(&self, sequence: u64) -> String {
        format!("{}#checkpoint#{sequence:010}", self.prefix)
    }

    /// The partition key of one chunk of one part of a checkpoint.
    pub fn chunk_partition(&self, sequence: u64, part: &str, chunk: u32) -> String {
        format!("{}#{part}#{chunk:05}", self.manifest_partition(sequence))
    }

    /// The partition key of the listing and of the markers of saves under way.
    pub fn listing_partition(&self) -> String {
        format!("{}#checkpoints", self.prefix)
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

    /// The keys of the chunks of checkpoint `sequence` with `counts`.
    fn chunk_keys(&self, sequence: u64, counts: &Counts) -> Vec<Item> {
        counts
            .iter()
            .flat_map(|(part, &count)| {
                (0..count)
                    .map(move |chunk| key(&self.chunk_partition(sequence, part, chunk), CHUNK))
            })
            .collect()
    }

    /// The listing partition's items whose sort key starts with `prefix`, in sort key order
    /// (reversed with `newest_first`), read strongly consistent, page by page.
    async fn listing(
        &self,
        prefix: &str,
        newest_first: bool,
    ) -> Result<Vec<Item>, CheckpointError> {
        let pk = self.listing_partition();
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = with_retries(&self.policy, || {
                let request = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .consistent_read(true)
                    .scan_index_forward(!newest_first)
                    .set_exclusive_start_key(start.clone())
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.into()));
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

    /// One item, read strongly consistent.
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, CheckpointError> {
        with_retries(&self.policy, || {
            let request = self
                .client
                .get_item()
                .table_name(&self.table)
                .consistent_read(true)
                .set_key(Some(key(pk, sk)));
            async move { request.send().await.map_err(classify) }
        })
        .await
        .map(|output| output.item().cloned())
        .map_err(|e| self.failure(format!("reading {pk}: {}", e.message)))
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

    async fn delete(&self, keys: Vec<Item>) -> Result<(), CheckpointError> {
        let requests = keys
            .into_iter()
            .map(dynamodb::delete)
            .collect::<Result<_, _>>()
            .map_err(|e| self.failure(e))?;
        dynamodb::write_all(&self.client, &self.table, requests, &self.policy)
            .await
            .map_err(|e| self.failure(e))
    }

    /// Deletes a checkpoint's chunks (those `counts` names), then its manifest.
    async fn remove(&self, sequence: u64, counts: Option<&Counts>) -> Result<(), CheckpointError> {
        if let Some(counts) = counts {
            self.delete(self.chunk_keys(sequence, counts)).await?;
        }
        self.delete(vec![key(&self.manifest_partition(sequence), MANIFEST)])
            .await
    }

    async fn save_async(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let sequence = checkpoint.manifest.sequence;
        let marker = format!("{SAVING}{sequence:010}");
        // An earlier attempt at this sequence (a run that crashed while saving it) may have
        // left chunks this save does not overwrite, and even its manifest.
        if let Some(earlier) = self.get(&self.listing_partition(), &marker).await? {
            self.remove(sequence, counts_of(&earlier).as_ref()).await?;
        }

        let mut counts = Counts::new();
        let mut requests = Vec::new();
        for (name, bytes) in &checkpoint.parts {
            let mut count = 0;
            for piece in bytes.chunks(CHUNK_BYTES) {
                let mut item = key(&self.chunk_partition(sequence, name, count), CHUNK);
                item.insert("data".into(), AttributeValue::B(Blob::new(piece)));
                requests.push(dynamodb::put(item).map_err(|e| self.failure(e))?);
                count += 1;
            }
            counts.insert(name.clone(), count);
        }
        let mut saving = key(&self.listing_partition(), &marker);
        saving.insert("chunks".into(), counts_attribute(&counts));
        self.put(saving).await?;
        dynamodb::write_all(&self.client, &self.table, requests, &self.policy)
            .await
            .map_err(|e| self.failure(e))?;

        let json = serde_json::to_string(&checkpoint.manifest)
            .map_err(|e| CheckpointError::Encode(e.to_string()))?;
        let mut manifest = key(&self.manifest_partition(sequence), MANIFEST);
        manifest.insert(MANIFEST.into(), AttributeValue::S(json));
        manifest.insert("chunks".into(), counts_attribute(&counts));
        self.put(manifest).await?;

        let mut listed = key(
            &self.listing_partition(),
            &format!("{LISTED}{sequence:010}"),
        );
        let numbers = [
            ("epoch", checkpoint.manifest.epoch.to_string()),
            ("bytes", checkpoint.size().to_string()),
            (
                "written_at_ms",
                checkpoint.manifest.written_at_ms.to_string(),
            ),
        ];
        for (name, number) in numbers {
            listed.insert(name.into(), AttributeValue::N(number));
        }
        self.put(listed).await?;
        self.delete(vec![key(&self.listing_partition(), &marker)])
            .await
    }

    async fn sequences_async(&self) -> Result<Vec<u64>, CheckpointError> {
        let listed = self.listing(LISTED, true).await?;
        Ok(listed
            .iter()
            .filter_map(|item| numbered(item, LISTED))
            .collect())
    }

    async fn load_async(&self, sequence: u64) -> Result<Checkpoint, CheckpointError> {
        let corrupt = |reason: String| CheckpointError::Corrupt { sequence, reason };
        let item = self
            .get(&self.manifest_partition(sequence), MANIFEST)
            .await?
            .ok_or_else(|| corrupt("the manifest is missing".into()))?;
        let json = item
            .get(MANIFEST)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| corrupt("the manifest item holds no manifest".into()))?;
        let manifest: Manifest =
            serde_json::from_str(json).map_err(|e| corrupt(format!("manifest: {e}")))?;
        if manifest.sequence != sequence {
            return Err(corrupt("the manifest names another sequence".into()));
        }
        let counts =
            counts_of(&item).ok_or_else(|| corrupt("the manifest has no chunk counts".into()))?;
        let chunks = dynamodb::get_all(
            &self.client,
            &self.table,
            self.chunk_keys(sequence, &counts),
            &self.policy,
        )
        .await
        .map_err(|e| self.failure(format!("reading checkpoint {sequence}: {}", e.message)))?;
        let mut pieces: HashMap<&str, &[u8]> = HashMap::new();
        for chunk in &chunks {
            let pk = chunk.get("pk").and_then(|v| v.as_s().ok());
            let data = chunk.get("data").and_then(|v| v.as_b().ok());
            if let (Some(pk), Some(data)) = (pk, data) {
                pieces.insert(pk, data.as_ref());
            }
        }
        let mut parts = BTreeMap::new();
        for entry in &manifest.parts {
            let count = *counts
                .get(&entry.name)
                .ok_or_else(|| corrupt(format!("part {} has no chunk count", entry.name)))?;
            let mut bytes = Vec::with_capacity(entry.bytes as usize);
            for chunk in 0..count {
                let pk = self.chunk_partition(sequence, &entry.name, chunk);
                let piece = pieces.get(pk.as_str()).ok_or_else(|| {
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
        let mut listed: Vec<u64> = self
            .listing(LISTED, true)
            .await?
            .iter()
            .filter_map(|item| numbered(item, LISTED))
            .collect();
        listed.sort_unstable_by(|a, b| b.cmp(a));
        for &sequence in listed.iter().skip(keep) {
            let manifest = self
                .get(&self.manifest_partition(sequence), MANIFEST)
                .await?;
            let counts = manifest.as_ref().and_then(counts_of);
            self.remove(sequence, counts.as_ref()).await?;
            let entry = format!("{LISTED}{sequence:010}");
            self.delete(vec![key(&self.listing_partition(), &entry)])
                .await?;
        }
        let newest = listed.first().copied().unwrap_or(0);
        for marker in self.listing(SAVING, false).await? {
            let Some(sequence) = numbered(&marker, SAVING) else {
                continue;
            };
            let saved = listed.contains(&sequence);
            // A save above the newest checkpoint may be made again by this run; a listed one
            // was saved, and only its marker's removal was cut short.
            if !saved && sequence >= newest {
                continue;
            }
            if !saved {
                self.remove(sequence, counts_of(&marker).as_ref()).await?;
            }
            let marker = format!("{SAVING}{sequence:010}");
            self.delete(vec![key(&self.listing_partition(), &marker)])
                .await?;
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

/// The sequence in a listing item's sort key `<prefix><sequence>`.
fn numbered(item: &Item, prefix: &str) -> Option<u64> {
    item.get("sk")?
        .as_s()
        .ok()?
        .strip_prefix(prefix)?
        .parse()
        .ok()
}

fn counts_attribute(counts: &Counts) -> AttributeValue {
    AttributeValue::M(
        counts
            .iter()
            .map(|(part, count)| (part.clone(), AttributeValue::N(count.to_string())))
            .collect(),
    )
}

/// The `chunks` attribute of a manifest or a marker.
fn counts_of(item: &Item) -> Option<Counts> {
    item.get("chunks")?
        .as_m()
        .ok()?
        .iter()
        .map(|(part, count)| Some((part.clone(), count.as_n().ok()?.parse().ok()?)))
        .collect()
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
