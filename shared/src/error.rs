//! The one mapping from failures to the wire: `{"error":{"code","message"}}` with a fitting status.
//! Handlers return `ApiError`; nothing else in the crate builds an error response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A failure the caller may see. `message` is written for the caller and never holds a secret;
/// details for the operator go to the activity log and traces instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_body", message)
    }
    pub fn unknown_integration(key: &str) -> Self {
        Self::not_found(
            "unknown_provider_config",
            format!("No integration with unique key '{key}'."),
        )
    }
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "An internal error occurred.",
        )
    }
    pub fn unavailable(what: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            format!("{what} is temporarily unavailable; nothing was changed. Retry later."),
        )
    }
    pub fn body(&self) -> serde_json::Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Conflict => ApiError::conflict("conflict", "The record was changed concurrently; retry."),
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "store unavailable");
                ApiError::unavailable("The store")
            }
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "corrupt record in store");
                ApiError::server_error()
            }
        }
    }
}

impl From<crate::crypto::SealError> for ApiError {
    fn from(e: crate::crypto::SealError) -> Self {
        use crate::crypto::SealError;
        match e {
            SealError::Unavailable(detail) => {
                tracing::error!(%detail, "key service unavailable");
                ApiError::unavailable("The key service")
            }
            SealError::Invalid => {
                tracing::error!("sealed blob failed to open (wrong context or tampered)");
                ApiError::server_error()
            }
        }
    }
}
