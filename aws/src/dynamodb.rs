//! DynamoDB calls of the checkpoint store: BatchWriteItem with its unprocessed items sent
//! again, BatchGetItem likewise, and any call retried with backoff while its error is
//! transient. The batch calls succeed even when DynamoDB throttles part of
//! them or (BatchGetItem) the response would pass 16 MB: what was left comes back as
//! unprocessed, so a batch is done only once that list is empty.

use crate::error::classify;
use acteon_delivery::CallError;
use acteon_delivery::Policy;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest,
};
use std::collections::HashMap;
use std::future::Future;
use tokio::task::JoinSet;

pub type Item = HashMap<String, AttributeValue>;

/// BatchWriteItem's limit of requests per call.
pub const BATCH: usize = 25;

/// BatchGetItem's limit of keys per call.
pub const GET_BATCH: usize = 100;

/// A put of `item`, for [`write_batch`].
pub fn put(item: Item) -> Result<WriteRequest, String> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// A delete of the item with `key` (its key attributes only), for [`write_batch`].
pub fn delete(key: Item) -> Result<WriteRequest, String> {
    let delete = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(|e| e.to_string())?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}

/// Sends at most [`BATCH`] requests in one BatchWriteItem, then sends the unprocessed ones
/// again after a backoff, and the whole batch again after a transient error, for at most
/// `policy.max_attempts` calls.
pub async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut requests: Vec<WriteRequest>,
    policy: &Policy,
) -> Result<(), String> {
    for attempt in 1..=policy.max_attempts {
        let result = client
            .batch_write_item()
            .request_items(table, requests.clone())
            .send()
            .await;
        match result {
            Ok(output) => {
                requests = output
                    .unprocessed_items()
                    .and_then(|unprocessed| unprocessed.get(table))
                    .cloned()
                    .unwrap_or_default();
                if requests.is_empty() {
                    return Ok(());
                }
            }
            Err(error) => {
                let error = classify(error);
                if !error.transient {
                    return Err(error.message);
                }
                tracing::debug!(attempt, table, error = %error.message, "batch write failed, retrying");
            }
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
    }
    Err(format!(
        "{} writes to {table} not done after {} attempts",
        requests.len(),
        policy.max_attempts
    ))
}

/// Sends any number of requests as batches of [`BATCH`], `policy.max_in_flight` calls at
/// once; the first batch that fails ends the write with its error.
pub async fn write_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut requests: Vec<WriteRequest>,
    policy: &Policy,
) -> Result<(), String> {
    let mut writes = JoinSet::new();
    let mut failure = None;
    while !requests.is_empty() || !writes.is_empty() {
        if !requests.is_empty() && writes.len() < policy.max_in_flight.max(1) {
            let batch: Vec<WriteRequest> = requests.drain(..requests.len().min(BATCH)).collect();
            let (client, table, policy) = (client.clone(), table.to_owned(), *policy);
            writes.spawn(async move { write_batch(&client, &table, batch, &policy).await });
            continue;
        }
        let done = match writes.join_next().await {
            Some(Ok(done)) => done,
            Some(Err(panicked)) => Err(format!("a batch write ended abnormally: {panicked}")),
            None => Ok(()),
        };
        if let Err(error) = done {
            // The batches still in flight are cancelled; the write has failed anyway.
            requests.clear();
            failure.get_or_insert(error);
            writes.abort_all();
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Reads the items with `keys` (strongly consistent), [`GET_BATCH`] keys per BatchGetItem,
/// asking again for the keys a call left unprocessed; a call that read nothing and left keys
/// unprocessed (throttling) is followed by a backoff, and `policy.max_attempts` of those in a
/// row end the read. Keys without an item are not in the result, which is in no order.
pub async fn get_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut keys: Vec<Item>,
    policy: &Policy,
) -> Result<Vec<Item>, CallError> {
    let mut items = Vec::new();
    let mut starved = 0;
    while !keys.is_empty() {
        let batch: Vec<Item> = keys.drain(..keys.len().min(GET_BATCH)).collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(batch))
            .consistent_read(true)
            .build()
            .map_err(|e| CallError::fatal(e.to_string()))?;
        let output = with_retries(policy, || {
            let call = client
                .batch_get_item()
                .request_items(table, request.clone());
            async move { call.send().await.map_err(classify) }
        })
        .await?;
        let read = output.responses().and_then(|r| r.get(table));
        let count = read.map_or(0, Vec::len);
        items.extend(read.into_iter().flatten().cloned());
        let unprocessed = output
            .unprocessed_keys()
            .and_then(|u| u.get(table))
            .map_or(&[][..], |u| u.keys());
        keys.extend(unprocessed.iter().cloned());
        if count == 0 && !unprocessed.is_empty() {
            starved += 1;
            if starved >= policy.max_attempts {
                return Err(CallError::transient(format!(
                    "{} items of {table} not read after {starved} attempts",
                    keys.len()
                )));
            }
            tokio::time::sleep(policy.backoff(starved)).await;
        } else {
            starved = 0;
        }
    }
    Ok(items)
}

/// Runs `call` until it succeeds, fails for good, or `policy.max_attempts` attempts failed
/// transiently.
pub async fn with_retries<T, F, Fut>(policy: &Policy, mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(error) if error.transient && attempt < policy.max_attempts => {
                tracing::debug!(attempt, error = %error.message, "DynamoDB call failed, retrying");
                tokio::time::sleep(policy.backoff(attempt)).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}
