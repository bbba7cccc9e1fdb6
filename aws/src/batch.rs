//! A batch API's answer (SendMessageBatch, PublishBatch) as one result per entry, in the order
//! the entries were sent: each entry's id is its index, and the answer lists every entry as
//! sent (with its message id) or failed (with a code and whose fault it was).

use crate::error::transient_code;
use acteon_delivery::CallError;
use serde_json::{json, Value};

/// An entry the answer reports as failed.
pub struct Failed<'a> {
    pub id: &'a str,
    pub code: &'a str,
    pub message: Option<&'a str>,
    pub sender_fault: bool,
}

/// `sent`: (entry id, message id) pairs. An entry the answer does not mention failed finally.
pub fn results<'a>(
    count: usize,
    sent: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
    failed: impl IntoIterator<Item = Failed<'a>>,
) -> Vec<Result<Value, CallError>> {
    let index = |id: Option<&str>| id?.parse::<usize>().ok().filter(|&i| i < count);
    let mut results = vec![Err(CallError::fatal("missing from the batch answer")); count];
    for (id, message_id) in sent {
        if let Some(i) = index(id) {
            results[i] = Ok(json!({ "message_id": message_id }));
        }
    }
    for entry in failed {
        if let Some(i) = index(Some(entry.id)) {
            results[i] = Err(CallError {
                message: format!("{}: {}", entry.code, entry.message.unwrap_or_default()),
                // A service-side failure is worth another attempt; a sender's fault only
                // when its code means "slow down".
                transient: !entry.sender_fault || transient_code(entry.code),
            });
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_gets_its_own_result_in_order() {
        let failed = [
            Failed {
                id: "1",
                code: "InvalidParameterValue",
                message: Some("too long"),
                sender_fault: true,
            },
            Failed {
                id: "2",
                code: "InternalError",
                message: None,
                sender_fault: false,
            },
        ];
        let results = results(
            4,
            [(Some("0"), Some("m-0")), (Some("9"), Some("m-9"))],
            failed,
        );
        assert_eq!(results[0], Ok(json!({ "message_id": "m-0" })));
        let error = |i: usize| results[i].clone().unwrap_err();
        assert_eq!(error(1).message, "InvalidParameterValue: too long");
        assert!(!error(1).transient);
        assert!(error(2).transient);
        assert_eq!(error(3).message, "missing from the batch answer");
    }
}
