//! Authentication of the team's backend: `Authorization: Bearer <secret key>`, or a signed
//! request (`Latchkey-Timestamp` + `Latchkey-Signature`, see `crate::signing`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::extract::payload_too_large;
use crate::error::{Error, ErrorCode};
use crate::signing::{constant_time_eq, verify_request, SignatureCheck, SignedRequest};
use crate::AppState;

pub const TIMESTAMP_HEADER: &str = "latchkey-timestamp";
pub const SIGNATURE_HEADER: &str = "latchkey-signature";

/// The path and query the client sent, when the adapter rewrote the request URI (the Lambda
/// stage prefix): signatures cover what the client signed, i.e. the URL it called.
#[derive(Debug, Clone)]
pub struct ClientPath(pub String);

fn malformed(message: &str) -> Error {
    Error::unauthorized(ErrorCode::MalformedAuthHeader, message)
}

pub async fn require_backend_auth(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let keys = state.keys.accepted_secret_keys();
    if let Some(value) = req.headers().get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| malformed("The Authorization header is not valid text."))?;
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| malformed("Use 'Authorization: Bearer <secret key>'."))?;
        let mut ok = false;
        for key in &keys {
            ok |= constant_time_eq(token, key);
        }
        if !ok {
            return Err(Error::unauthorized(ErrorCode::InvalidSecretKey, "The secret key is not valid.").into());
        }
        return Ok(next.run(req).await);
    }

    let Some(timestamp) = req.headers().get(TIMESTAMP_HEADER) else {
        return Err(Error::unauthorized(
            ErrorCode::MissingAuthHeader,
            "Authenticate with 'Authorization: Bearer <secret key>' or a signed request.",
        )
        .into());
    };
    let timestamp: i64 = timestamp
        .to_str()
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| malformed("Latchkey-Timestamp must be Unix seconds."))?;
    let signature = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|s| s.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| malformed("A signed request needs a Latchkey-Signature header."))?;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, state.config.body_limit)
        .await
        .map_err(|_| payload_too_large())?;
    let path_and_query = match parts.extensions.get::<ClientPath>() {
        Some(ClientPath(original)) => original.as_str(),
        None => parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
    };
    let check = verify_request(
        &SignedRequest {
            timestamp,
            signature: &signature,
            method: parts.method.as_str(),
            path_and_query,
            body: &bytes,
        },
        &keys,
        state.clock.now().unix_timestamp(),
    );
    match check {
        SignatureCheck::Valid => Ok(next.run(Request::from_parts(parts, Body::from(bytes))).await),
        SignatureCheck::Stale => Err(Error::unauthorized(
            ErrorCode::ExpiredSignature,
            "Latchkey-Timestamp is more than 300 seconds from the server's clock.",
        )
        .into()),
        SignatureCheck::Mismatch => {
            Err(Error::unauthorized(ErrorCode::InvalidSignature, "The request signature does not match.").into())
        }
    }
}
