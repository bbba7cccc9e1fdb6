//! Errors: [`ApiError`] is what a client sees (a status, a stable code, a message, as JSON);
//! [`ServerError`] is what stops the server from starting or running.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answered to a client: `{"error": {"code", "message"}}` with its status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, for clients to match on; the message may change.
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {what} `{id}`"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the script has errors:\n{0}")]
    Script(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("cannot open the audit file {path}: {source}")]
    AuditFile {
        path: std::path::PathBuf,
        source: acteon_engine::audit::AuditError,
    },
    #[error("the engine cannot start: {0}")]
    Engine(String),
    #[error(
        "a served cluster keeps the plan it started with: restart every process to change the \
         script or the runtime policies"
    )]
    ClusterPlan,
}
