//! The outcome of a browser flow, kept for the SDK's polling fallback: providers'
//! cross-origin-opener policies can sever `window.opener`, so the SDK sends a random
//! `client_nonce` with the connect URL and polls for the outcome. It is kept under the SHA-256
//! of the nonce, for a few minutes, and handed out once.

use serde_json::Value;

use crate::error::Error;
use crate::signing::sha256_hex;
use crate::store::AuthResult;
use crate::AppState;

/// How long an outcome waits to be polled.
pub const RESULT_TTL: time::Duration = time::Duration::minutes(5);

/// Where the outcome of the flow started with `nonce` is kept.
pub fn nonce_hash(nonce: &str) -> String {
    sha256_hex(nonce.as_bytes())
}

/// Keeps `body` for the poller. Best effort: the result page's message is the main path, so a
/// store failure is logged, not raised.
pub async fn keep(state: &AppState, nonce_hash: &str, body: Value) {
    let result = AuthResult {
        nonce_hash: nonce_hash.to_owned(),
        body,
        expires_at: state.clock.now() + RESULT_TTL,
    };
    if let Err(e) = state.store.put_auth_result(&result).await {
        tracing::warn!(error = %e, "could not keep the auth result for polling");
    }
}

/// The kept outcome, once; `None` when there is none (unknown, expired, or already taken).
pub async fn take(state: &AppState, nonce_hash: &str) -> Result<Option<Value>, Error> {
    let result = state.store.take_auth_result(nonce_hash).await?;
    Ok(result.filter(|r| state.clock.now() <= r.expires_at).map(|r| r.body))
}
