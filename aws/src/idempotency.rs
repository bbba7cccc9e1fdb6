//! Idempotent effects: what a replayed call carries so the target recognises it.
//!
//! After a restart the engine decides again the actions read since its last checkpoint, and
//! some of their calls were already made. SQS and SNS FIFO targets drop a message whose
//! deduplication id they saw in the last five minutes, so a call to a FIFO target carries one
//! derived from [`ProviderCall::idempotency_key`] (the action id, or the chain step) unless
//! the payload names its own. S3 objects are written under keys derived from the same key,
//! so a replay overwrites the object instead of adding one (see [`crate::s3`]); the DynamoDB
//! audit writes each record id once (see [`crate::audit`]).

use acteon_engine::provider::ProviderCall;
use sha2::{Digest, Sha256};

/// SQS and SNS limit deduplication ids to 128 characters.
const MAX_DEDUPLICATION_ID: usize = 128;

/// FIFO queues and topics are the ones whose name ends in `.fifo` (AWS requires it), so the
/// queue URL or topic ARN says it without a call.
pub fn is_fifo(queue_url_or_topic_arn: &str) -> bool {
    queue_url_or_topic_arn.ends_with(".fifo")
}

/// The deduplication id of `call`: its idempotency key when SQS accepts it as one (at most
/// 128 ASCII letters, digits and punctuation), otherwise the key's SHA-256 in hex, so any
/// action id works and equal keys still give equal ids.
pub fn deduplication_id(call: &ProviderCall) -> String {
    let key = &call.idempotency_key;
    let accepted = !key.is_empty()
        && key.len() <= MAX_DEDUPLICATION_ID
        && key.bytes().all(|b| b.is_ascii_graphic());
    if accepted {
        return key.to_string();
    }
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The deduplication id to send: the payload's own when it names one; else, for a FIFO
/// target, the call's; else none (standard queues and topics do not take one).
pub fn choose(named: Option<String>, fifo: bool, call: &ProviderCall) -> Option<String> {
    named.or_else(|| fifo.then(|| deduplication_id(call)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(key: &str) -> ProviderCall {
        ProviderCall {
            provider: "q".into(),
            action_id: "a".into(),
            namespace: "iot".into(),
            tenant: "hq".into(),
            action_type: "reading".into(),
            payload: acteon_engine::payload::Payload::empty(),
            idempotency_key: key.into(),
        }
    }

    #[test]
    fn a_plain_key_is_its_own_id_and_others_are_hashed() {
        assert_eq!(
            deduplication_id(&call("r-1/processing#2")),
            "r-1/processing#2"
        );
        let spaced = deduplication_id(&call("reading 7"));
        assert_eq!(spaced.len(), 64);
        assert_eq!(spaced, deduplication_id(&call("reading 7")));
        assert_ne!(spaced, deduplication_id(&call("reading 8")));
        assert_eq!(deduplication_id(&call(&"x".repeat(200))).len(), 64);
        assert_eq!(deduplication_id(&call("é")).len(), 64);
    }

    #[test]
    fn only_fifo_targets_get_an_id_and_a_named_one_wins() {
        let c = call("a");
        assert!(is_fifo("http://127.0.0.1:4566/000000000000/orders.fifo"));
        assert!(!is_fifo("arn:aws:sns:us-east-1:000000000000:alerts"));
        assert_eq!(choose(None, true, &c), Some("a".into()));
        assert_eq!(choose(None, false, &c), None);
        assert_eq!(choose(Some("mine".into()), true, &c), Some("mine".into()));
    }
}
