//! The one mapping from failures to HTTP: a domain `Error`'s kind and code choose the status,
//! and the body is always `{"error":{"code","message"}}`. Handlers return `ApiError`; nothing
//! outside `api` knows a status code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::wire;
use crate::error::{Error, ErrorCode, ErrorKind};

/// A failure as the caller receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

/// The status of a domain failure. A few codes keep the status they always had on the wire,
/// whatever the kind: a credentials test that failed answers 400 even when the provider did
/// not answer, since the submitted credentials are not proven either way.
pub fn status_of(kind: ErrorKind, code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::PayloadTooLarge => return StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::MethodNotAllowed => return StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::ConnectionTestFailed | ErrorCode::InvalidCredentials => return StatusCode::BAD_REQUEST,
        // Nango's wire: a connection whose refresh failed is a failed dependency.
        ErrorCode::ConnectionRefreshBackoff | ErrorCode::ConnectionRefreshExhausted => {
            return StatusCode::FAILED_DEPENDENCY
        }
        _ => {}
    }
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::InvalidInput | ErrorKind::ProviderRefused => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::ProviderUnavailable => StatusCode::BAD_GATEWAY,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// A failure only HTTP knows (a media type, a method): its status is given.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn body(&self) -> wire::ErrorBody<'_> {
        wire::ErrorBody::new(self.code, &self.message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self {
            status: status_of(e.kind, e.code),
            code: e.code,
            message: e.message,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Error::from(e).into()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = %self.code, message = %self.message, "request failed");
        }
        (self.status, axum::Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_kind_except_where_the_wire_fixed_them() {
        let status = |e: Error| ApiError::from(e).status;
        assert_eq!(status(Error::unknown_integration("x")), StatusCode::NOT_FOUND);
        assert_eq!(status(Error::unavailable("The store")), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(Error::internal()), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            status(Error::provider(true, ErrorCode::TokenErr, "timeout")),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status(Error::provider(false, ErrorCode::TokenErr, "invalid_grant")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(Error::provider(true, ErrorCode::ConnectionTestFailed, "did not answer")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(Error::conflict(ErrorCode::DuplicateIntegration, "taken")),
            StatusCode::CONFLICT
        );
        for code in [
            ErrorCode::ConnectionRefreshBackoff,
            ErrorCode::ConnectionRefreshExhausted,
        ] {
            assert_eq!(status(Error::provider(false, code, "refused")).as_u16(), 424);
        }
        assert_eq!(
            status(Error::provider(true, ErrorCode::ProviderUnavailable, "no answer")),
            StatusCode::BAD_GATEWAY
        );
    }
}
