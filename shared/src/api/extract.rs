//! Extractors that turn axum's plain-text rejections into our JSON errors, so malformed input
//! is answered in the one error shape and never echoes a submitted value.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::error::{Error, ErrorCode};

/// serde messages quote the offending value (`invalid type: string "sk_live…"`): keep the
/// expectation, drop the value.
fn without_values(message: &str) -> String {
    for marker in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(at) = message.find(marker) {
            let (path, rest) = message.split_at(at);
            let kind = marker.trim_end_matches([':', ' ']);
            return match rest.find(", expected ") {
                Some(i) => format!("{path}{kind}{}", &rest[i..]),
                None => format!("{path}{kind}"),
            };
        }
    }
    message.to_owned()
}

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidBody,
            "Send the body as JSON with 'Content-Type: application/json'.",
        ),
        JsonRejection::JsonDataError(e) => {
            use std::error::Error as _;
            let detail = e.source().map(|s| s.to_string()).unwrap_or_default();
            Error::invalid_body(format!(
                "The body does not match the expected shape: {}",
                without_values(&detail)
            ))
            .into()
        }
        JsonRejection::JsonSyntaxError(_) => Error::invalid_body("The body is not valid JSON.").into(),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        _ => Error::invalid_body("The body could not be read.").into(),
    }
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        "The request body is too large.",
    )
}

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                use std::error::Error as _;
                let detail = e.source().map(|s| s.to_string()).unwrap_or_default();
                Err(Error::invalid(
                    ErrorCode::InvalidQueryParams,
                    format!("Invalid query: {}", without_values(&detail)),
                )
                .into())
            }
            Err(_) => Err(Error::invalid(ErrorCode::InvalidQueryParams, "Invalid query string.").into()),
        }
    }
}

/// The path's parameters. A segment that does not decode (percent-encoded bytes that are not
/// UTF-8) names nothing Latchkey holds: `404 not_found`, as JSON like every other refusal.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            // The route has no such parameter: the table and the handler disagree, a bug.
            Err(PathRejection::MissingPathParams(_)) => Err(Error::internal().into()),
            Err(_) => Err(Error::not_found(
                ErrorCode::NotFound,
                "Nothing is at this path: a segment of it is not valid UTF-8 text.",
            )
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_values;

    #[test]
    fn serde_messages_lose_the_submitted_value() {
        assert_eq!(
            without_values("invalid type: string \"sk_live_secret\", expected u64 at line 1 column 20"),
            "invalid type, expected u64 at line 1 column 20"
        );
        assert_eq!(
            without_values("credentials.client_secret: invalid type: integer `12345`, expected a string"),
            "credentials.client_secret: invalid type, expected a string"
        );
        assert_eq!(without_values("missing field `provider`"), "missing field `provider`");
    }
}
