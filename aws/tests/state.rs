//! The DynamoDB checkpoint store against the local AWS emulator (127.0.0.1:4566), each test in
//! a table of its own: checkpoints larger than an item round trip in chunks, unfinished saves
//! are never listed and are cleared, and a damaged chunk is reported and passed over. Start
//! the emulator with `scripts/services.sh up aws`; these tests fail, never skip, without it.

mod support;

use acteon_aws::dynamodb::Item;
use acteon_aws::state::{DynamoStore, CHUNK, CHUNK_BYTES, MANIFEST};
use acteon_aws::AwsProviders;
use acteon_delivery::Policy;
use acteon_engine::checkpoint::store::{load_latest, Layout, FORMAT};
use acteon_engine::checkpoint::{Checkpoint, CheckpointError, Manifest, StateStore};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;
use std::sync::Arc;
use support::{connection, require_emulator, unique};

/// The dedup part's size: three chunks, the last one short.
const LARGE: usize = 2 * CHUNK_BYTES + 100_000;

struct Fixture {
    aws: Arc<AwsProviders>,
    client: aws_sdk_dynamodb::Client,
    table: String,
    store: DynamoStore,
}

/// A fresh table, and a store in it.
fn fixture() -> Fixture {
    require_emulator();
    let aws = Arc::new(AwsProviders::new(Policy::default()).unwrap());
    let table = unique("acteon-state");
    let store = DynamoStore::open(&aws, &table, "pipeline", &connection()).unwrap();
    store.create_table().unwrap();
    let client = aws_sdk_dynamodb::Client::new(&aws.sdk_config(&connection()));
    Fixture {
        aws,
        client,
        table,
        store,
    }
}

impl Fixture {
    fn key(pk: &str, sk: &str) -> Item {
        Item::from([
            ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }

    fn put(&self, item: Item) {
        self.aws
            .runtime()
            .block_on(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .send(),
            )
            .unwrap();
    }

    fn delete(&self, pk: &str, sk: &str) {
        self.aws
            .runtime()
            .block_on(
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(pk, sk)))
                    .send(),
            )
            .unwrap();
    }

    fn get(&self, pk: &str, sk: &str) -> Option<Item> {
        self.aws
            .runtime()
            .block_on(
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(pk, sk)))
                    .consistent_read(true)
                    .send(),
            )
            .unwrap()
            .item()
            .cloned()
    }

    /// The sort keys of partition `pk` (one page).
    fn sort_keys(&self, pk: &str) -> Vec<String> {
        let output = self
            .aws
            .runtime()
            .block_on(
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                    .projection_expression("sk")
                    .consistent_read(true)
                    .send(),
            )
            .unwrap();
        assert!(output.last_evaluated_key().is_none(), "one page of keys");
        output
            .items()
            .iter()
            .map(|item| item["sk"].as_s().unwrap().clone())
            .collect()
    }

    /// What a save of `sequence` cut short before its manifest leaves: its marker, naming
    /// `chunks` chunks of the dedup part, and those chunks.
    fn unfinished_save(&self, sequence: u64, chunks: u32) {
        let mut marker = Self::key(
            &self.store.listing_partition(),
            &format!("saving#{sequence:010}"),
        );
        let counts = [("dedup/0".to_owned(), AttributeValue::N(chunks.to_string()))];
        marker.insert("chunks".into(), AttributeValue::M(counts.into()));
        self.put(marker);
        for chunk in 0..chunks {
            let pk = self.store.chunk_partition(sequence, "dedup/0", chunk);
            let mut item = Self::key(&pk, CHUNK);
            item.insert("data".into(), AttributeValue::B(Blob::new(vec![7u8; 1000])));
            self.put(item);
        }
    }

    /// Whether chunk `chunk` of `part` of checkpoint `sequence` is stored.
    fn has_chunk(&self, sequence: u64, part: &str, chunk: u32) -> bool {
        let pk = self.store.chunk_partition(sequence, part, chunk);
        self.get(&pk, CHUNK).is_some()
    }
}

/// Bytes that do not repeat within a chunk, different per sequence.
fn bytes(len: usize, sequence: u64) -> Vec<u8> {
    let mut state = sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A checkpoint with a part of three chunks, a small part and an empty one.
fn checkpoint(sequence: u64) -> Checkpoint {
    Checkpoint {
        manifest: Manifest {
            format: FORMAT,
            sequence,
            epoch: sequence * 1000,
            workers: 1,
            written_at_ms: 1_790_000_000_000,
            layout: Layout {
                rules: Vec::new(),
                quotas: Vec::new(),
            },
            positions: [(0, sequence as i64 * 100)].into(),
            parts: Vec::new(),
        },
        parts: BTreeMap::from([
            ("dedup/0".to_owned(), bytes(LARGE, sequence)),
            ("throttle/0".to_owned(), vec![1, 2, 3]),
            ("group/0".to_owned(), Vec::new()),
        ]),
    }
    .seal()
}

#[test]
fn checkpoints_larger_than_an_item_round_trip_in_chunks_and_old_ones_are_pruned() {
    let fixture = fixture();
    let store = &fixture.store;
    assert!(store.sequences().unwrap().is_empty());
    assert!(load_latest(store).unwrap().is_none());
    for sequence in 1..=4 {
        store.save(&checkpoint(sequence)).unwrap();
    }
    assert_eq!(store.sequences().unwrap(), [4, 3, 2, 1]);
    let stored = |part: &str| -> Vec<bool> {
        (0..4)
            .map(|chunk| fixture.has_chunk(4, part, chunk))
            .collect()
    };
    assert_eq!(stored("dedup/0"), [true, true, true, false], "three chunks");
    assert_eq!(stored("throttle/0"), [true, false, false, false]);
    assert_eq!(stored("group/0"), [false; 4], "an empty part has no chunk");

    let loaded = store.load(3).unwrap();
    let original = checkpoint(3);
    assert_eq!(loaded.manifest, original.manifest);
    assert_eq!(loaded.parts, original.parts);
    assert_eq!(loaded.parts["dedup/0"].len(), LARGE);

    store.prune(2).unwrap();
    assert_eq!(store.sequences().unwrap(), [4, 3]);
    for pruned in [1, 2] {
        let manifest = fixture.get(&store.manifest_partition(pruned), MANIFEST);
        assert!(manifest.is_none(), "checkpoint {pruned}'s manifest is gone");
        assert!(
            (0..3).all(|chunk| !fixture.has_chunk(pruned, "dedup/0", chunk)),
            "checkpoint {pruned}'s chunks are gone"
        );
    }
    assert_eq!(
        load_latest(store).unwrap().unwrap().manifest.positions[&0],
        400
    );

    // Another prefix in the same table sees none of these.
    let other = DynamoStore::open(&fixture.aws, &fixture.table, "other", &connection()).unwrap();
    assert!(other.sequences().unwrap().is_empty());
}

#[test]
fn an_unfinished_save_is_never_listed_and_its_chunks_are_cleared() {
    let fixture = fixture();
    let store = &fixture.store;
    store.save(&checkpoint(1)).unwrap();
    // A run crashed while saving 2, after 8 chunks of a part (more than the next save writes).
    fixture.unfinished_save(2, 8);
    assert_eq!(store.sequences().unwrap(), [1]);
    assert_eq!(load_latest(store).unwrap().unwrap().manifest.sequence, 1);

    // The next run saves 2 again: nothing of the crashed attempt is left.
    store.save(&checkpoint(2)).unwrap();
    assert!(fixture.has_chunk(2, "dedup/0", 2));
    assert!(
        !fixture.has_chunk(2, "dedup/0", 7),
        "the crashed attempt's chunk is gone"
    );
    assert_eq!(store.load(2).unwrap().parts, checkpoint(2).parts);

    // Saving 3 failed midway; the run went on and saved 4.
    fixture.unfinished_save(3, 2);
    store.save(&checkpoint(4)).unwrap();
    assert_eq!(store.sequences().unwrap(), [4, 2, 1]);
    store.prune(3).unwrap();
    assert!(!fixture.has_chunk(3, "dedup/0", 0) && !fixture.has_chunk(3, "dedup/0", 1));
    assert_eq!(
        fixture.sort_keys(&store.listing_partition()),
        [
            "checkpoint#0000000001",
            "checkpoint#0000000002",
            "checkpoint#0000000004"
        ],
        "the listing names the saved checkpoints, and no save is under way"
    );
}

#[test]
fn a_damaged_chunk_fails_the_load_as_corrupt_and_the_previous_checkpoint_is_used() {
    let fixture = fixture();
    let store = &fixture.store;
    for sequence in 1..=3 {
        store.save(&checkpoint(sequence)).unwrap();
    }
    // One byte of the middle chunk of checkpoint 3's large part flipped.
    let mut item = fixture
        .get(&store.chunk_partition(3, "dedup/0", 1), CHUNK)
        .unwrap();
    let mut data = item["data"].as_b().unwrap().as_ref().to_vec();
    data[CHUNK_BYTES / 2] ^= 0xff;
    item.insert("data".into(), AttributeValue::B(Blob::new(data)));
    fixture.put(item);
    let error = store.load(3).unwrap_err();
    assert!(
        matches!(&error, CheckpointError::Corrupt { sequence: 3, reason } if reason.contains("dedup/0")),
        "{error}"
    );
    assert_eq!(load_latest(store).unwrap().unwrap().manifest.sequence, 2);

    // Checkpoint 2 loses a chunk: it is reported as missing, and 1 is used.
    fixture.delete(&store.chunk_partition(2, "dedup/0", 2), CHUNK);
    let error = store.load(2).unwrap_err();
    assert!(
        matches!(&error, CheckpointError::Corrupt { sequence: 2, reason } if reason.contains("missing")),
        "{error}"
    );
    assert_eq!(load_latest(store).unwrap().unwrap().manifest.sequence, 1);
}

#[test]
fn a_bad_prefix_and_a_call_from_inside_the_runtime_are_errors_not_panics() {
    let fixture = fixture();
    for prefix in ["", "a#b"] {
        let opened = DynamoStore::open(&fixture.aws, &fixture.table, prefix, &connection());
        assert!(
            matches!(opened, Err(CheckpointError::Store { .. })),
            "{prefix:?}"
        );
    }
    let inside = fixture
        .aws
        .runtime()
        .block_on(async { fixture.store.sequences() });
    let error = inside.unwrap_err();
    assert!(error.to_string().contains("async runtime"), "{error}");
}

/// About 100 chunks: several BatchWriteItem calls in flight, and more than one BatchGetItem
/// response (each is at most 16 MB). The times printed are the README's figures.
#[test]
fn a_checkpoint_the_size_of_a_million_dedup_keys_saves_and_loads() {
    let fixture = fixture();
    let store = &fixture.store;
    let mut large = checkpoint(1);
    large.parts.insert("dedup/0".into(), bytes(29 << 20, 1));
    let large = large.seal();
    let started = std::time::Instant::now();
    store.save(&large).unwrap();
    let saved = started.elapsed();
    let loaded = store.load(1).unwrap();
    eprintln!(
        "29 MiB: saved in {saved:?}, loaded in {:?}",
        started.elapsed() - saved
    );
    assert_eq!(loaded.parts, large.parts);
}
