//! Audit records and where they go.
pub mod record;
