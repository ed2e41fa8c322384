//! Authentication of the team's backend: `Authorization: Bearer <secret key>`, or a signed
//! request (`Latchkey-Timestamp` + `Latchkey-Signature`, see `crate::signing`); a signed request
//! that changes something is accepted once (`crate::replay`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::extract::payload_too_large;
use crate::config::EnvironmentKeys;
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

/// Which accepted secret key authenticated a backend request (a request extension). Key
/// management (`PATCH /environment` rotating keys) takes the current one: a previous key
/// still in its grace period may call the API but not mint the keys that replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKeyUsed {
    Current,
    Previous,
}

/// How a backend request says who it is.
enum Presented {
    Bearer(String),
    Signed { timestamp: i64, signature: String },
}

fn presented(req: &Request) -> Result<Presented, Error> {
    if let Some(value) = req.headers().get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| malformed("The Authorization header is not valid text."))?;
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| malformed("Use 'Authorization: Bearer <secret key>'."))?;
        return Ok(Presented::Bearer(token.to_owned()));
    }
    let Some(timestamp) = req.headers().get(TIMESTAMP_HEADER) else {
        return Err(Error::unauthorized(
            ErrorCode::MissingAuthHeader,
            "Authenticate with 'Authorization: Bearer <secret key>' or a signed request.",
        ));
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
    Ok(Presented::Signed { timestamp, signature })
}

/// Checks what was presented against one set of keys.
fn check(
    presented: &Presented,
    keys: &EnvironmentKeys,
    now: time::OffsetDateTime,
    signed: impl Fn(&str, i64, &str) -> SignatureCheck,
) -> Result<SecretKeyUsed, Error> {
    let current = keys.secret_key.expose();
    let previous = keys.previous_secret_key_at(now).map(|k| k.expose());
    match presented {
        Presented::Bearer(token) => {
            let is_current = constant_time_eq(token, current);
            let is_previous = previous.is_some_and(|p| constant_time_eq(token, p));
            match (is_current, is_previous) {
                (true, _) => Ok(SecretKeyUsed::Current),
                (false, true) => Ok(SecretKeyUsed::Previous),
                _ => Err(Error::unauthorized(
                    ErrorCode::InvalidSecretKey,
                    "The secret key is not valid.",
                )),
            }
        }
        Presented::Signed { timestamp, signature } => {
            let with = |key: &str| signed(key, *timestamp, signature);
            match with(current) {
                SignatureCheck::Valid => return Ok(SecretKeyUsed::Current),
                SignatureCheck::Stale => {
                    return Err(Error::unauthorized(
                        ErrorCode::ExpiredSignature,
                        "Latchkey-Timestamp is more than 300 seconds from the server's clock.",
                    ))
                }
                SignatureCheck::Mismatch => {}
            }
            match previous.map(with) {
                Some(SignatureCheck::Valid) => Ok(SecretKeyUsed::Previous),
                _ => Err(Error::unauthorized(
                    ErrorCode::InvalidSignature,
                    "The request signature does not match.",
                )),
            }
        }
    }
}

pub async fn require_backend_auth(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = presented(&req)?;
    let (parts, body) = req.into_parts();
    // A signed request's body is part of what is signed; a Bearer request's passes untouched.
    let (bytes, body) = match presented {
        Presented::Signed { .. } => (
            axum::body::to_bytes(body, state.config.body_limit)
                .await
                .map_err(|_| payload_too_large())?,
            None,
        ),
        Presented::Bearer(_) => (Default::default(), Some(body)),
    };
    let path_and_query = match parts.extensions.get::<ClientPath>() {
        Some(ClientPath(original)) => original.clone(),
        None => parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned(),
    };
    let now = state.clock.now();
    let signed = |key: &str, timestamp: i64, signature: &str| {
        verify_request(
            &SignedRequest {
                timestamp,
                signature,
                method: parts.method.as_str(),
                path_and_query: &path_and_query,
                body: &bytes,
            },
            &[key],
            now.unix_timestamp(),
        )
    };
    // A backend may already use a key another instance rotated in: `check` reads again.
    let (used, _) = state
        .keys
        .check(now, |keys| check(&presented, keys, now, signed))
        .await?;
    // A valid signed request that changes something is accepted once, on any instance.
    if let Presented::Signed { timestamp, signature } = &presented {
        if crate::replay::is_single_use(parts.method.as_str()) {
            crate::replay::claim_signed_request(&state, signature, *timestamp).await?;
        }
    }
    let body = body.unwrap_or_else(|| Body::from(bytes.clone()));
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(used);
    Ok(next.run(req).await)
}

#[cfg(test)]
mod props;
