//! The polling fallback of browser flows over HTTP (`flows::poll` keeps the outcomes): the SDK
//! sends a random `client_nonce` with `/oauth/connect` and polls `GET /oauth/result/{nonce}`.
//!
//! Answers: `{status: "success", providerConfigKey, connectionId}`,
//! `{status: "error", error_type, error_desc}`, or `{status: "pending"}` — also for unknown,
//! expired and already-read nonces, so polling reveals nothing and never logs a browser error.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ApiError;
use super::extract::ApiPath;
use super::result_page::Outcome;
use super::wire::PollResult;
use crate::error::{Error, ErrorCode};
use crate::flows::poll;
use crate::AppState;

/// A nonce is 22 to 128 characters of base64url: at least 128 bits from the SDK's generator.
pub fn parse_nonce(raw: &str) -> Result<String, Error> {
    let ok = (22..=128).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(Error::invalid(
            ErrorCode::InvalidQueryParams,
            "client_nonce must be 22 to 128 characters of A-Z a-z 0-9 - _.",
        ));
    }
    Ok(raw.to_owned())
}

/// The nonce of a connect query, read leniently: used to report errors of a query that did
/// not parse as a whole.
pub fn nonce_of_query(raw: Option<&str>) -> Option<String> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "client_nonce")
        .and_then(|(_, v)| parse_nonce(&v).ok())
}

/// Keeps the outcome for the poller, in its wire form.
pub async fn record(state: &AppState, nonce_hash: &str, outcome: &Outcome<'_>) {
    let body = serde_json::to_value(PollResult::from(outcome)).expect("wire objects serialize");
    poll::keep(state, nonce_hash, body).await;
}

pub async fn poll(State(state): State<AppState>, ApiPath(nonce): ApiPath<String>) -> Response {
    let pending = serde_json::to_value(PollResult::Pending).expect("wire objects serialize");
    let body = match parse_nonce(&nonce) {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(nonce) => match poll::take(&state, &poll::nonce_hash(&nonce)).await {
            Ok(Some(body)) => body,
            Ok(None) => pending,
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_long_url_safe_tokens() {
        assert!(parse_nonce(&crate::crypto::random_token()).is_ok());
        for bad in [
            "short",
            "has space in it and is long enough",
            &"a".repeat(129),
            "ab/cdefghijklmnopqrstuvwxyz",
        ] {
            assert!(parse_nonce(bad).is_err(), "{bad}");
        }
        let n = crate::crypto::random_token();
        assert_eq!(
            nonce_of_query(Some(&format!("public_key=x&client_nonce={n}&params[a b]=1"))),
            Some(n)
        );
    }
}
