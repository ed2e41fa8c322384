//! Every key the table uses, per domain: the primary key of each entity's items, the index and
//! filter attributes they carry, and the partitions queries read. The only place a key format
//! is written (the table in `infra/README.md` mirrors this file).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::table::{GSI1, GSI2, GSI_REFRESH, PK, SK};
use super::{n, s, Attributes, Item};
use crate::domain::{ConnectionId, IntegrationKey};
use crate::store::{ActivityEntry, ConnectionRecord};

fn primary(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// The primary key of an item read from the table or an index.
pub(super) fn key_of(item: &Item) -> Option<Item> {
    let (pk, sk) = (item.get(PK)?, item.get(SK)?);
    Some(HashMap::from([
        (PK.to_owned(), pk.clone()),
        (SK.to_owned(), sk.clone()),
    ]))
}

/// Sortable time: nanoseconds since the epoch, zero-padded.
fn ts_key(t: OffsetDateTime) -> String {
    format!("{:020}", t.unix_timestamp_nanos().max(0))
}

fn ms(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

/// Sortable time in milliseconds, zero-padded.
fn ms_key(t: OffsetDateTime) -> String {
    format!("{:015}", ms(t).max(0))
}

// ---------------------------------------------------------------- integrations

/// The partition of an integration: its own item and its connections' items.
pub(super) fn integration_partition(key: &IntegrationKey) -> String {
    format!("INT#{}", key.as_str())
}

pub(super) fn integration(key: &IntegrationKey) -> Item {
    primary(integration_partition(key), "INT")
}

/// GSI1 partition listing every integration, by key.
pub(super) const INTEGRATIONS: &str = "INTS";

pub(super) fn integration_attributes(key: &IntegrationKey) -> Attributes {
    vec![(GSI1.pk, Some(s(INTEGRATIONS))), (GSI1.sk, Some(s(key.as_str())))]
}

// ---------------------------------------------------------------- connections

/// Sort keys of the connections in an integration's partition start with this.
pub(super) const CONNECTION_SK_PREFIX: &str = "CONN#";

pub(super) fn connection(integration: &IntegrationKey, connection_id: &ConnectionId) -> Item {
    primary(
        integration_partition(integration),
        format!("{CONNECTION_SK_PREFIX}{}", connection_id.as_str()),
    )
}

/// GSI1 partition listing every connection, newest first.
pub(super) const CONNECTIONS: &str = "CONNS";

/// Filter attributes of connection items (and of activity items: `integration`,
/// `connection_id`).
pub(super) const INTEGRATION: &str = "integration";
pub(super) const CONNECTION_ID: &str = "connection_id";
pub(super) const END_USER_ID: &str = "end_user_id";
/// The connection id in lower case, for case-insensitive search.
pub(super) const SEARCH: &str = "search_lc";
/// The record's `version`, beside the body so that writes can be conditioned on it.
pub(super) const VERSION: &str = "version";
/// The refresh lease: who holds it, and until when (ms since the epoch).
pub(super) const LEASE_OWNER: &str = "lease_owner";
pub(super) const LEASE_UNTIL: &str = "lease_until";

pub(super) fn lease_time(t: OffsetDateTime) -> AttributeValue {
    n(ms(t))
}

/// Shards of the refresh index: due connections are spread over this many partitions so the
/// scheduler's reads and the writers' index updates never pile onto one key.
pub const REFRESH_SHARDS: u32 = 8;

/// FNV-1a of the connection's internal id: a stable shard for the refresh index.
pub fn refresh_shard(id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % REFRESH_SHARDS
}

/// GSI_REFRESH partition of one shard.
pub(super) fn refresh_partition(shard: u32) -> String {
    format!("REFRESH#{shard}")
}

/// GSI_REFRESH sort keys below this bound expire strictly before `before`.
pub(super) fn refresh_bound(before: OffsetDateTime) -> String {
    ms_key(before)
}

/// Everything of a connection item besides its key and body. Attributes of a missing value
/// are `None`: a write removes them (the connection leaves the refresh index when its
/// `expires_at` is cleared). The lease is not here: record writes never touch it.
pub(super) fn connection_attributes(record: &ConnectionRecord) -> Attributes {
    let end_user_id = record
        .end_user
        .as_ref()
        .and_then(|u| u.get("id")?.as_str().map(str::to_owned));
    let listed = format!(
        "{}#{}#{}",
        ts_key(record.created_at),
        record.integration.as_str(),
        record.connection_id.as_str()
    );
    let refresh = record.expires_at.map(|at| {
        (
            refresh_partition(refresh_shard(&record.id)),
            format!("{}#{}", ms_key(at), record.id),
        )
    });
    vec![
        (VERSION, Some(n(record.version))),
        (GSI1.pk, Some(s(CONNECTIONS))),
        (GSI1.sk, Some(s(listed))),
        (INTEGRATION, Some(s(record.integration.as_str()))),
        (CONNECTION_ID, Some(s(record.connection_id.as_str()))),
        (SEARCH, Some(s(record.connection_id.as_str().to_lowercase()))),
        (END_USER_ID, end_user_id.map(s)),
        (GSI_REFRESH.pk, refresh.as_ref().map(|(pk, _)| s(pk))),
        (GSI_REFRESH.sk, refresh.map(|(_, sk)| s(sk))),
    ]
}

// ---------------------------------------------------------------- flow sessions

pub(super) fn oauth_session(state: &str) -> Item {
    primary(format!("OAUTH#{state}"), "-")
}

pub(super) fn connect_session(token_hash: &str) -> Item {
    primary(format!("CONNECT#{token_hash}"), "-")
}

pub(super) fn auth_result(nonce_hash: &str) -> Item {
    primary(format!("RESULT#{nonce_hash}"), "-")
}

pub(super) fn socket(client_hash: &str) -> Item {
    primary(format!("SOCKET#{client_hash}"), "-")
}

// ---------------------------------------------------------------- activity

/// The partition of one attempt's entries.
pub(super) fn attempt_partition(attempt_id: &str) -> String {
    format!("ACT#{attempt_id}")
}

/// GSI2 partition of one connection's entries.
pub(super) fn connection_activity_partition(connection_id: &str) -> String {
    format!("ACTCONN#{connection_id}")
}

/// GSI1 partition listing every entry of the environment, newest first.
pub(super) const ACTIVITY: &str = "ACTS";

/// Entries sort by time, then id.
fn activity_sort(entry: &ActivityEntry) -> String {
    format!("{}#{}", ts_key(entry.timestamp), entry.id)
}

pub(super) fn activity(entry: &ActivityEntry) -> Item {
    primary(attempt_partition(&entry.attempt_id), activity_sort(entry))
}

pub(super) fn activity_attributes(entry: &ActivityEntry) -> Attributes {
    let sort = activity_sort(entry);
    let conn = entry.connection_id.as_deref();
    vec![
        (GSI1.pk, Some(s(ACTIVITY))),
        (GSI1.sk, Some(s(&sort))),
        (GSI2.pk, conn.map(|c| s(connection_activity_partition(c)))),
        (GSI2.sk, conn.map(|_| s(sort))),
        (CONNECTION_ID, conn.map(s)),
        (INTEGRATION, entry.integration.as_deref().map(s)),
        ("attempt_id", Some(s(&entry.attempt_id))),
    ]
}

// ---------------------------------------------------------------- settings

pub(super) fn settings() -> Item {
    primary("SETTINGS".into(), "-")
}
