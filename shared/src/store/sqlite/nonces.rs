//! Single-use nonces: table `nonces`, keyed by the nonce, with the time its claim ends. A claim
//! is one statement — insert, or take over a row whose claim ended — so of two claims one wins.

use async_trait::async_trait;
use rusqlite::params;
use time::OffsetDateTime;

use super::{execute, nanos, SqliteStore};
use crate::store::{NonceStore, StoreResult};

#[async_trait]
impl NonceStore for SqliteStore {
    async fn claim_nonce(&self, nonce: &str, now: OffsetDateTime, expires_at: OffsetDateTime) -> StoreResult<bool> {
        let changed = self.with(|c| {
            execute(
                c,
                "INSERT INTO nonces (nonce, expires_ns) VALUES (?1, ?2)
                 ON CONFLICT (nonce) DO UPDATE SET expires_ns = excluded.expires_ns WHERE nonces.expires_ns <= ?3",
                params![nonce, nanos(expires_at), nanos(now)],
            )
        })?;
        Ok(changed == 1)
    }
}
