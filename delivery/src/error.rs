//! How one attempt of one call failed, and whether another attempt can help.

/// One failed attempt of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub message: String,
    /// Worth another attempt after a backoff.
    pub transient: bool,
}

impl CallError {
    /// A problem with the call itself (its payload, a client error): retrying cannot help.
    pub fn fatal(message: impl Into<String>) -> CallError {
        CallError {
            message: message.into(),
            transient: false,
        }
    }

    pub fn transient(message: impl Into<String>) -> CallError {
        CallError {
            message: message.into(),
            transient: true,
        }
    }
}
