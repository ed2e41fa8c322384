//! How the DynamoDB key design spreads hot partitions (`dynamo/keys.rs`, `infra/README.md`):
//! a stable hash of an id picks one of N partitions, and queries fan out over all N and merge.
//! The counts are sized so that no partition key exceeds DynamoDB's per-partition limits under
//! the traffic profile of `docs/scale.md`; `bench/scale_mirror.py` mirrors this file (checked by
//! the table in `bench/policy_cases.json`).

/// Partitions of the refresh index (`REFRESH#<n>`), by the connection's internal id.
pub const REFRESH_SHARDS: u32 = 16;
/// Partitions of each connection listing (`CONNS#<n>`, and per integration generation), by the
/// connection's internal id.
pub const LISTING_SHARDS: u32 = 8;
/// Partitions of each day of the environment's activity (`ACTS#<day>#<n>`), by the entry's id.
pub const ACTIVITY_SHARDS: u32 = 8;
/// Copies of an integration's generation (`INTGEN#<key>#<n>`), read with each connection, by the
/// connection id: a copy takes 1/N of the integration's reads.
pub const GENERATION_COPIES: u32 = 8;

/// FNV-1a (32 bit) of `id`, modulo `shards`: the same shard for the same id, everywhere.
pub fn shard(id: &str, shards: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % shards.max(1)
}
