//! Single-use nonces: item `NONCE#<nonce>` / `-`, holding when its claim ends (`until`) and a
//! TTL. A claim is one conditional `UpdateItem`: it creates the item, or takes over one whose
//! claim ended; of concurrent claims DynamoDB lets exactly one through.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::keys::{self, NONCE_UNTIL};
use super::table::expiring;
use super::{held, n, DynamoStore, Update};
use crate::store::{NonceStore, StoreResult};

#[async_trait]
impl NonceStore for DynamoStore {
    async fn claim_nonce(&self, nonce: &str, now: OffsetDateTime, expires_at: OffsetDateTime) -> StoreResult<bool> {
        let mut update = Update::default();
        update.set(NONCE_UNTIL, n(keys::ms(expires_at)));
        for (attr, value) in expiring(expires_at) {
            update.set(attr, value.expect("a TTL is always set"));
        }
        let until = update.at.name(NONCE_UNTIL);
        let now = update.at.value(":now", n(keys::ms(now)));
        let condition = format!("attribute_not_exists(PK) OR {until} <= {now}");
        held(self.update(keys::nonce(nonce), update, &condition).await)
    }
}
