//! Audit records and where they go.
//!
//! - [`buffer`]: the bounded buffer (in memory or on disk) in front of a destination that can
//!   be down, and the backpressure it puts on the input when full.
//! - [`record`]: the record, and its expiry ([`record::AuditTtl`]).
//! - [`redact`]: the redaction list compiled once ([`redact::Redactor`]).
//! - [`sink`]: a record's JSON line, and the JSON-lines file writer.
//! - [`store`]: the in-memory store that `sink = memory` and `GET /v1/audit` use.

pub mod buffer;
pub mod record;
pub mod redact;
pub mod sink;
pub mod store;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open the audit file {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{0}` is not a cursor of this audit")]
    BadCursor(String),
}
