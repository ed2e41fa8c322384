//! Signed backend requests that change something are single-use: within the signature window a
//! captured request sent again is refused. The mark is kept in the store (a conditional write
//! of the signature's hash that expires with the window), so it holds across processes and
//! Lambda instances. Reads (`GET`, `HEAD`) may be repeated: they change nothing, and clients
//! retry them.

use time::OffsetDateTime;

use crate::error::{Error, ErrorCode};
use crate::signing::request_nonce;
use crate::AppState;

/// Whether a request of `method` must be single-use.
pub fn is_single_use(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Claims a verified signed request; `replayed_signature` when it was seen within its window.
pub async fn claim_signed_request(state: &AppState, signature: &str, timestamp: i64) -> Result<(), Error> {
    let (nonce, forget_at) = request_nonce(signature, timestamp);
    // The timestamp is within the window of now, so it is a valid time.
    let forget_at = OffsetDateTime::from_unix_timestamp(forget_at).map_err(|_| Error::internal())?;
    if state.store.claim_nonce(&nonce, state.clock.now(), forget_at).await? {
        Ok(())
    } else {
        Err(Error::unauthorized(
            ErrorCode::ReplayedSignature,
            "This signed request was already received; sign each request that changes something anew (a new \
             timestamp, a new signature).",
        ))
    }
}
