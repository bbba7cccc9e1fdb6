//! Errors: what goes wrong building the providers, and how a failed call is classified for
//! retries (transient: throttling, 5xx, timeouts, connection errors; everything else is final).

use acteon_delivery::CallError;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("cannot start the AWS runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("provider {provider}: {reason}")]
    Config { provider: String, reason: String },
    #[error("the audit table {table}: {reason}")]
    Audit { table: String, reason: String },
}

/// Error codes that mean "slow down" whatever the HTTP status says (AWS answers some of them
/// with 400).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Whether an error code from a batch entry (PutEvents, PublishBatch, BatchWriteItem) is
/// transient.
pub fn transient_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
        || code.contains("InternalFailure")
        || code.contains("InternalError")
        || code.contains("ServiceUnavailable")
}

/// Classifies an SDK error by its kind, not its text: the SDK prints a refused connection
/// as "dispatch failure", which no keyword list recognises.
pub fn classify<E>(error: SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &error {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => !failure.is_user(),
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            status >= 500 || status == 429 || service.err().code().is_some_and(transient_code)
        }
        _ => false,
    };
    CallError {
        message: DisplayErrorContext(&error).to_string(),
        transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_codes_are_transient_client_codes_are_not() {
        for code in [
            "ThrottlingException",
            "InternalFailure",
            "ServiceUnavailable",
        ] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["ValidationException", "AccessDenied", "NotFound"] {
            assert!(!transient_code(code), "{code}");
        }
    }
}
