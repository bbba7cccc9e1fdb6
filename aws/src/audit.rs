//! The DynamoDB audit: a sink buffer's destination ([`DynamoAudit`]) that writes every audit
//! record once, with conditional TransactWriteItems (25 records per call) on the run's
//! runtime, and the query by namespace and tenant over time. While the table cannot be
//! reached the records wait in the buffer (`acteon_engine::audit::buffer`), which tries again
//! for as long as it takes: nothing is given up after some number of attempts.
//!
//! Item layout: `pk` = `<namespace>#<tenant>`, `sk` = `<dispatched_at>#<id>` (RFC 3339 sorts
//! as time), every field of the record as its natural attribute type (strings, numbers,
//! booleans, maps, lists, null), and `expires_at_ttl`, the record's `expires_at` in epoch
//! seconds, which the table's TTL setting deletes on. The payload is stored as the record
//! carries it: already redacted.
//!
//! Beside each record, a guard item (`sk` = `~<record id>`) is put on the condition that it
//! does not exist yet, in the same transaction: actions decided again after a restart (those
//! read since the last checkpoint) produce records with the same ids, and these are not
//! written a second time, even on the processing clock where their `dispatched_at` differs.

use crate::dynamodb::Item;
use crate::error::classify;
use acteon_delivery::CallError;
use acteon_engine::audit::buffer::{Destination, Unstored};
use acteon_engine::audit::record::AuditRecord;
use acteon_engine::time::format_rfc3339_ms;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde_json::{Number, Value};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::runtime::Handle;

/// Records per transaction: two items each (guard and record), under TransactWriteItems'
/// limit of 100.
const BATCH: usize = 25;
/// Transactions in flight at once.
const IN_FLIGHT: usize = 4;

/// The audit table and a client for it.
#[derive(Debug, Clone)]
pub struct AuditTable {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub records: Vec<Value>,
    /// Pass back to get the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

impl AuditTable {
    /// Records of `namespace`/`tenant` dispatched in `[from, to]` (RFC 3339; either bound
    /// may be open), oldest first, at most `limit`, starting after `cursor`.
    pub async fn query(
        &self,
        namespace: &str,
        tenant: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<AuditPage, CallError> {
        let pk = partition(namespace, tenant);
        // '~' sorts after '#' and every digit, so "<to>~" includes every record at `to`.
        let upper = format!("{}~", to.unwrap_or("9999"));
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":from", AttributeValue::S(from.unwrap_or("0").into()))
            .expression_attribute_values(":to", AttributeValue::S(upper))
            .limit(limit.max(1));
        if let Some(cursor) = cursor {
            request = request
                .exclusive_start_key("pk", AttributeValue::S(pk))
                .exclusive_start_key("sk", AttributeValue::S(cursor.to_owned()));
        }
        let output = request.send().await.map_err(classify)?;
        let records = output.items().iter().map(record).collect();
        let next_cursor = output
            .last_evaluated_key()
            .and_then(|key| key.get("sk"))
            .and_then(|sk| sk.as_s().ok())
            .cloned();
        Ok(AuditPage {
            records,
            next_cursor,
        })
    }

    /// The records of [`AuditTable::query`] over every page (of `page` records), reading at
    /// most `max_pages` pages.
    pub async fn query_pages(
        &self,
        namespace: &str,
        tenant: &str,
        (from, to): (Option<&str>, Option<&str>),
        page: i32,
        max_pages: usize,
    ) -> Result<Vec<Value>, CallError> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..max_pages {
            let read = self
                .query(namespace, tenant, from, to, page, cursor.as_deref())
                .await?;
            records.extend(read.records);
            cursor = read.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        Ok(records)
    }

    /// Writes each record of `items` once (see [`guard`]): one transaction puts, for every
    /// record, its guard on the condition that the guard does not exist, and the record. When
    /// guards exist, AWS cancels the whole transaction and says which: those records were
    /// written before (a replay after a restart) and are left out, and the rest is written
    /// again at once. Any other failure is returned: the sink buffer in front of the table
    /// tries the batch again later, for as long as it takes.
    async fn write(&self, items: Vec<Item>) -> Result<(), String> {
        let mut seen = HashSet::new();
        let mut items: Vec<(Item, Item)> = items
            .into_iter()
            .filter_map(|item| {
                let guard = guard(&item);
                // A transaction may not touch one item twice.
                let key = |name: &str| guard.get(name).and_then(|v| v.as_s().ok()).cloned();
                seen.insert((key("pk"), key("sk"))).then_some((guard, item))
            })
            .collect();
        while !items.is_empty() {
            let mut requests = Vec::with_capacity(items.len() * 2);
            for (guard, record) in &items {
                let put = |item: &Item, condition: Option<&str>| {
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item.clone()))
                        .set_condition_expression(condition.map(str::to_owned))
                        .build()
                        .map(|put| TransactWriteItem::builder().put(put).build())
                        .map_err(|e| e.to_string())
                };
                requests.push(put(guard, Some("attribute_not_exists(sk)"))?);
                requests.push(put(record, None)?);
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(requests))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            else {
                return Err(classify(error).message);
            };
            // Reasons come in request order: record `i`'s guard is request `2 i`.
            let reasons = cancelled.cancellation_reasons();
            let written = |i: usize| {
                reasons.get(2 * i).and_then(|reason| reason.code())
                    == Some("ConditionalCheckFailed")
            };
            let before = items.len();
            items = items
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !written(*i))
                .map(|(_, pair)| pair)
                .collect();
            if items.len() == before {
                return Err(format!(
                    "the audit transaction was cancelled: {}",
                    cancelled.message().unwrap_or("no reason given")
                ));
            }
        }
        Ok(())
    }
}

/// A record's guard: its partition, the sort key `~<record id>`, and its expiry. Record ids
/// are deterministic (action id and place among its records), so a record decided again after
/// a restart has the guard of the first one even when, on the processing clock, its
/// `dispatched_at` and so its own sort key differ. `~` sorts after every digit, so a query
/// over a time range never reads guards.
fn guard(record: &Item) -> Item {
    let id = record
        .get("id")
        .and_then(|id| id.as_s().ok())
        .map_or("", String::as_str);
    let mut guard: Item = record
        .iter()
        .filter(|(key, _)| matches!(key.as_str(), "pk" | "expires_at_ttl"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    guard.insert("sk".into(), AttributeValue::S(guard_key(id)));
    guard
}

/// The sort key of the guard of record `id`.
pub fn guard_key(id: &str) -> String {
    format!("~{id}")
}

fn partition(namespace: &str, tenant: &str) -> String {
    format!("{namespace}#{tenant}")
}

/// An audit record as a DynamoDB item: its fields as the audit line names them, the payload
/// and details as maps, and the table's keys and TTL.
pub fn item(record: &AuditRecord) -> Item {
    let text = |text: &str| AttributeValue::S(text.to_owned());
    let optional = |text: Option<&str>| text.map_or(AttributeValue::Null(true), text_attribute);
    let time = |ms: i64| format_rfc3339_ms(ms);
    let id = record.id.to_string();
    let dispatched_at = time(record.dispatched_at_ms);
    let mut item = Item::new();
    item.insert(
        "pk".into(),
        text(&partition(&record.namespace, &record.tenant)),
    );
    item.insert("sk".into(), text(&format!("{dispatched_at}#{id}")));
    item.insert("id".into(), text(&id));
    item.insert("action_id".into(), text(&record.action_id));
    item.insert("namespace".into(), text(&record.namespace));
    item.insert("tenant".into(), text(&record.tenant));
    item.insert("action_type".into(), text(&record.action_type));
    item.insert("provider".into(), optional(record.provider.as_deref()));
    item.insert("target".into(), optional(record.target.as_deref()));
    item.insert("rule".into(), optional(record.rule.as_deref()));
    item.insert("outcome".into(), text(record.outcome.name()));
    item.insert("details".into(), attribute(&record.details.to_json()));
    let payload = record.payload.as_ref().map(|p| p.value());
    item.insert(
        "payload".into(),
        payload.map_or(AttributeValue::Null(true), attribute),
    );
    item.insert("chain_id".into(), optional(record.chain_id.as_deref()));
    item.insert("dispatched_at".into(), text(&dispatched_at));
    item.insert("completed_at".into(), text(&time(record.completed_at_ms)));
    item.insert(
        "duration_ms".into(),
        AttributeValue::N(record.duration_ms.to_string()),
    );
    let expires = record.expires_at_ms.map(time);
    item.insert("expires_at".into(), optional(expires.as_deref()));
    if let Some(expires_ms) = record.expires_at_ms {
        item.insert(
            "expires_at_ttl".into(),
            AttributeValue::N(expires_ms.div_euclid(1000).to_string()),
        );
    }
    item
}

fn text_attribute(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

/// An item read back as the audit record (the key and TTL attributes dropped).
pub fn record(item: &Item) -> Value {
    Value::Object(
        item.iter()
            .filter(|(key, _)| !matches!(key.as_str(), "pk" | "sk" | "expires_at_ttl"))
            .map(|(key, value)| (key.clone(), json(value)))
            .collect(),
    )
}

fn attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(attribute).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(key, value)| (key.clone(), attribute(value)))
                .collect(),
        ),
    }
}

fn json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Number::from)
            .ok()
            .or_else(|| n.parse::<u64>().ok().map(Number::from))
            .or_else(|| n.parse::<f64>().ok().and_then(Number::from_f64))
            .map_or(Value::Null, Value::Number),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(items) => Value::Array(items.iter().map(json).collect()),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), json(value)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The table as a sink buffer's destination: each batch of lines becomes transactions of
/// [`BATCH`] records, [`IN_FLIGHT`] at once, on the run's runtime.
#[derive(Debug)]
pub struct DynamoAudit {
    table: Arc<AuditTable>,
    runtime: Handle,
}

impl DynamoAudit {
    pub fn new(table: AuditTable, runtime: Handle) -> DynamoAudit {
        DynamoAudit {
            table: Arc::new(table),
            runtime,
        }
    }
}

impl Destination for DynamoAudit {
    fn name(&self) -> String {
        format!("dynamodb-{}", self.table.table)
    }

    /// Transactions run a few at a time; the batch's stored part is the run of transactions
    /// from its start that succeeded (those after a failed one are written again with it, and
    /// their guards keep them single).
    fn store(&self, lines: &[Vec<u8>]) -> Result<(), Unstored> {
        let items: Vec<Item> = lines
            .iter()
            .map(|line| {
                std::str::from_utf8(line)
                    .map_err(|e| e.to_string())
                    .and_then(|line| AuditRecord::parse(line).map_err(|e| e.to_string()))
                    .map(|record| item(&record))
            })
            .collect::<Result<_, String>>()
            // Lines come from the audit writer: one that does not read back is a bug, and no
            // number of retries would store it.
            .map_err(|error| Unstored {
                stored: 0,
                error: format!("an audit line does not read back as a record: {error}"),
            })?;
        let chunks: Vec<Vec<Item>> = items.chunks(BATCH).map(<[Item]>::to_vec).collect();
        let mut stored = 0;
        let mut chunks = chunks.into_iter().peekable();
        while chunks.peek().is_some() {
            let wave: Vec<Vec<Item>> = chunks.by_ref().take(IN_FLIGHT).collect();
            let sizes: Vec<usize> = wave.iter().map(Vec::len).collect();
            let results = self.runtime.block_on(async {
                let writes: Vec<_> = wave
                    .into_iter()
                    .map(|chunk| {
                        let table = Arc::clone(&self.table);
                        tokio::spawn(async move { table.write(chunk).await })
                    })
                    .collect();
                let mut results = Vec::with_capacity(writes.len());
                for write in writes {
                    results.push(write.await.unwrap_or_else(|e| Err(e.to_string())));
                }
                results
            });
            for (size, result) in sizes.into_iter().zip(results) {
                match result {
                    Ok(()) => stored += size,
                    Err(error) => return Err(Unstored { stored, error }),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_round_trips_through_its_item_with_keys_and_ttl() {
        let record = json!({
            "id": "a#0", "action_id": "a", "namespace": "iot", "tenant": "hq",
            "action_type": "reading", "provider": "p", "target": null, "rule": null,
            "outcome": "executed",
            "details": { "delivery": { "attempts": 1, "response": null, "error": null } },
            "payload": { "queue_url": "[REDACTED]", "value": 92.5, "tags": ["x"] },
            "chain_id": null, "dispatched_at": "2026-11-28T09:00:00.000Z",
            "completed_at": "2026-11-28T09:00:00.000Z", "duration_ms": 3,
            "expires_at": "2026-12-05T09:00:00.000Z"
        });
        let item = item(&AuditRecord::parse(&record.to_string()).unwrap());
        assert_eq!(item["pk"], AttributeValue::S("iot#hq".into()));
        assert_eq!(
            item["sk"],
            AttributeValue::S("2026-11-28T09:00:00.000Z#a#0".into())
        );
        assert_eq!(
            item["expires_at_ttl"],
            AttributeValue::N("1796461200".into())
        );
        assert_eq!(super::record(&item), record);
    }
}
