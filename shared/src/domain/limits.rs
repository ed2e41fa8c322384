//! What one stored connection may hold, part by part, so that every item stays under
//! DynamoDB's item limit (400 KB, attribute names included) whatever its parts hold. Each part
//! is measured as the JSON it is stored as, and refused where it enters — the API's edits,
//! imports, connect sessions, the credentials a mode obtained — with a clear error, never by a
//! failed write after a provider's code was spent. The test below adds the bounds up.

use serde::Serialize;

use crate::error::Error;

/// DynamoDB's item limit.
pub const ITEM_LIMIT: usize = 400 * 1024;
/// The credentials JSON before sealing: the tokens and the provider's `raw` answer that holds
/// them again, so somewhat more than twice what a default provider answer can be.
pub const CREDENTIALS: usize = 144 * 1024;
/// A provider's token response kept as `raw`.
pub const RAW: usize = 64 * 1024;
pub const CONNECTION_CONFIG: usize = 32 * 1024;
pub const METADATA: usize = 64 * 1024;
pub const TAGS: usize = 16 * 1024;
pub const END_USER: usize = 8 * 1024;
/// A connect session's `integrations_config_defaults`, all integrations together.
pub const CONFIG_DEFAULTS: usize = 32 * 1024;
/// A failed refresh's `cause` (a provider's error code, sanitized and cut to this).
pub const FAILURE_CAUSE: usize = 64;
/// A sealed blob is its plaintext plus at most this: KMS's encrypted data key (under 1 KiB),
/// the format byte and length, the nonce and the tag.
pub const SEAL_OVERHEAD: usize = 1024 + 3 + 12 + 16;

/// The size of a value as stored: its JSON.
pub fn stored_size(value: &impl Serialize) -> usize {
    serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX)
}

/// `invalid_body` when `value` (the field `field`) is larger than `limit` as stored.
pub fn check(field: &str, value: &impl Serialize, limit: usize) -> Result<(), Error> {
    let size = stored_size(value);
    if size > limit {
        return Err(too_large(field, limit));
    }
    Ok(())
}

/// The refusal of a part larger than Latchkey stores.
pub fn too_large(field: &str, limit: usize) -> Error {
    Error::invalid_body(format!(
        "{field} is larger than Latchkey stores ({} KiB as JSON).",
        limit / 1024
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ConnectionProblem, ConnectionRecord, FailureKind, RefreshFailure, Sealed};
    use serde_json::{Map, Value};

    /// A JSON object whose serialized size is exactly `size`, as large as a part may be.
    fn object_of(size: usize) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("k".into(), Value::String(String::new()));
        let overhead = stored_size(&map);
        map.insert("k".into(), Value::String("x".repeat(size - overhead)));
        assert_eq!(stored_size(&map), size);
        map
    }

    /// The worst case of a connection item: every part at its bound, the credentials and the
    /// secret config fields sealed with the largest envelope (binary attributes of their own;
    /// the secret fields counted again beside a whole plain config, though they are part of
    /// its bound), under the longest ids, with the attributes DynamoDB keeps beside the body
    /// (keys, index keys, filters, the refresh lease) budgeted at 4 KiB.
    #[test]
    fn the_largest_connection_item_fits_under_the_item_limit() {
        let id = "i".repeat(255);
        let record = ConnectionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            integration: crate::domain::IntegrationKey::parse(&id).unwrap(),
            connection_id: crate::domain::ConnectionId::parse(&id).unwrap(),
            provider: "p".repeat(64),
            auth_mode: crate::domain::AuthMode::OAuth2,
            credentials: Sealed(vec![0xff; CREDENTIALS + SEAL_OVERHEAD]),
            connection_config: object_of(CONNECTION_CONFIG),
            secret_config: Some(Sealed(vec![0xff; CONNECTION_CONFIG + SEAL_OVERHEAD])),
            vouched_config: (0..64).map(|i| format!("{i:0>64}")).collect(),
            metadata: object_of(METADATA),
            end_user: Some(Value::Object(object_of(END_USER))),
            tags: object_of(TAGS),
            expires_at: Some(time::OffsetDateTime::UNIX_EPOCH),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
            last_fetched_at: time::OffsetDateTime::UNIX_EPOCH,
            version: u64::MAX,
            has_refresh_token: true,
            last_read_at: Some(time::OffsetDateTime::UNIX_EPOCH),
            errors: vec![
                ConnectionProblem {
                    kind: "refresh".into(),
                    log_id: uuid::Uuid::new_v4().to_string(),
                };
                8
            ],
            refresh_failure: Some(RefreshFailure {
                kind: FailureKind::Unavailable,
                attempts: u32::MAX,
                last_failure_at: time::OffsetDateTime::UNIX_EPOCH,
                next_attempt_at: Some(time::OffsetDateTime::UNIX_EPOCH),
                cause: "c".repeat(FAILURE_CAUSE),
                log_id: uuid::Uuid::new_v4().to_string(),
            }),
            webhook_url_override: Some(format!(
                "https://{}",
                "u".repeat(crate::events::destination::MAX_URL_LEN - 8)
            )),
        };
        // The sealed parts are not in the record's JSON: each backend stores them apart.
        let sealed = record.credentials.0.len() + record.secret_config.as_ref().map_or(0, |s| s.0.len());
        let body = stored_size(&record) + sealed;
        let beside_body = 4 * 1024;
        assert!(
            body + beside_body < ITEM_LIMIT,
            "worst case {} bytes, limit {ITEM_LIMIT}",
            body + beside_body
        );
        // What the bounds leave over, for a part added later.
        assert!(ITEM_LIMIT - body - beside_body > 64 * 1024, "{body}");
        const { assert!(RAW < CREDENTIALS, "raw is kept inside the credentials") };
    }

    #[test]
    fn a_part_over_its_bound_is_refused_by_name() {
        assert!(check("metadata", &object_of(METADATA), METADATA).is_ok());
        let e = check("metadata", &object_of(METADATA + 1), METADATA).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::InvalidBody);
        assert_eq!(e.message, "metadata is larger than Latchkey stores (64 KiB as JSON).");
    }
}
