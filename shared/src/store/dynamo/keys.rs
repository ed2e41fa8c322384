//! Every key the table uses, per domain: the primary key of each entity's items, the index and
//! filter attributes they carry, and the partitions queries read. The only place a key format
//! is written (the table in `infra/README.md` mirrors this file; `bench/scale_sim.py` models
//! the load on each partition).
//!
//! The rule throughout: no partition key takes more than DynamoDB's per-partition limits
//! (about 1,000 write and 3,000 read units per second). Items that are read or written per
//! connection have a partition of their own; partitions that collect many items (listings, the
//! refresh index, the activity log) are written-sharded with `shards::shard` and read by fanning
//! out over the shards.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::table::{
    ACTIVITY_BY_CONNECTION, ACTIVITY_BY_TIME, CONNECTIONS_BY_END_USER, CONNECTIONS_BY_ENVIRONMENT,
    CONNECTIONS_BY_INTEGRATION, INTEGRATIONS, PK, REFRESH_DUE, SK,
};
use super::{n, s, Attributes, Item};
use crate::domain::{ConnectionId, IntegrationKey};
use crate::store::shards::{shard, ACTIVITY_SHARDS, GENERATION_COPIES, LISTING_SHARDS, REFRESH_SHARDS};
use crate::store::{ActivityCursor, ActivityEntry};

// ---------------------------------------------------------------- partitions
// The partition-key prefixes of every item type of the table and every partition of its
// indexes. `template.yaml` grants each function role the item types it needs by these
// (`dynamodb:LeadingKeys`), checked against this list by `policy_tests`.

/// An integration's own item.
pub(super) const INTEGRATION_PREFIX: &str = "INT#";
/// The copies of an integration's generation that connection reads check.
pub(super) const GENERATION_COPY_PREFIX: &str = "INTGEN#";
/// A connection's item: a partition of its own.
pub(super) const CONNECTION_PREFIX: &str = "CONN#";
pub(super) const OAUTH_SESSION_PREFIX: &str = "OAUTH#";
pub(super) const CONNECT_SESSION_PREFIX: &str = "CONNECT#";
pub(super) const AUTH_RESULT_PREFIX: &str = "RESULT#";
/// An operator's console session (by the hash of its token).
pub(super) const CONSOLE_SESSION_PREFIX: &str = "CONSOLE#";
/// A socket of Nango's frontend client waiting for a flow's outcome (by its client id's hash).
pub(super) const SOCKET_PREFIX: &str = "SOCKET#";
/// One attempt's activity entries.
pub(super) const ATTEMPT_PREFIX: &str = "ACT#";
/// A single-use nonce (a signed request's signature).
pub(super) const NONCE_PREFIX: &str = "NONCE#";
/// The environment's settings: one item.
pub(super) const SETTINGS: &str = "SETTINGS";

/// `Integrations`: the one partition listing every integration.
pub(super) const INTEGRATIONS_PARTITION: &str = "INTS";
/// `ConnectionsByIntegration`: a shard of one integration generation's connections.
pub(super) const INTEGRATION_LISTING_PREFIX: &str = "CI#";
/// `ConnectionsByEnvironment`: a shard of the environment's connections.
pub(super) const ENVIRONMENT_LISTING_PREFIX: &str = "CONNS#";
/// `ConnectionsByEndUser`: one end user's connections.
pub(super) const END_USER_LISTING_PREFIX: &str = "EU#";
/// `RefreshDue`: a shard of the connections due for renewal.
pub(super) const REFRESH_PREFIX: &str = "REFRESH#";
/// `ActivityByTime`: a shard of one day of activity.
pub(super) const ACTIVITY_DAY_PREFIX: &str = "ACTS#";
/// `ActivityByConnection`: one connection id's activity.
pub(super) const CONNECTION_ACTIVITY_PREFIX: &str = "ACTCONN#";

/// A prefix as a `dynamodb:LeadingKeys` pattern.
#[cfg(test)]
fn pattern(prefix: &str) -> String {
    format!("{prefix}*")
}

/// Every partition key of the table's items, as `dynamodb:LeadingKeys` patterns.
#[cfg(test)]
pub(super) fn table_leading_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        INTEGRATION_PREFIX,
        GENERATION_COPY_PREFIX,
        CONNECTION_PREFIX,
        OAUTH_SESSION_PREFIX,
        CONNECT_SESSION_PREFIX,
        AUTH_RESULT_PREFIX,
        CONSOLE_SESSION_PREFIX,
        SOCKET_PREFIX,
        ATTEMPT_PREFIX,
        NONCE_PREFIX,
    ]
    .map(pattern)
    .to_vec();
    keys.push(SETTINGS.to_owned());
    keys
}

/// Every partition key the indexes are queried by, as `dynamodb:LeadingKeys` patterns.
#[cfg(test)]
pub(super) fn index_leading_keys() -> Vec<String> {
    let mut keys = vec![INTEGRATIONS_PARTITION.to_owned()];
    keys.extend(
        [
            INTEGRATION_LISTING_PREFIX,
            ENVIRONMENT_LISTING_PREFIX,
            END_USER_LISTING_PREFIX,
            REFRESH_PREFIX,
            ACTIVITY_DAY_PREFIX,
            CONNECTION_ACTIVITY_PREFIX,
        ]
        .map(pattern),
    );
    keys
}

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

pub(super) fn ms(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos().div_euclid(1_000_000) as i64
}

pub(super) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(ms)
}

/// Sortable time in milliseconds, zero-padded.
fn ms_key(t: OffsetDateTime) -> String {
    format!("{:015}", ms(t).max(0))
}

// ---------------------------------------------------------------- attributes

/// The record's JSON (for connections: what is neither in `view` nor in `credentials`).
pub(super) const BODY: &str = "body";
/// A connection's summary JSON: all that listings read (their indexes project it).
pub(super) const VIEW: &str = "view";
/// A connection's sealed credentials (binary). No index projects it.
pub(super) const CREDENTIALS: &str = "credentials";
/// A connection's sealed secret config fields (binary; absent when it has none). No index
/// projects it.
pub(super) const SECRET_CONFIG: &str = "secret_config";
/// The generation an integration is in, or a connection belongs to.
pub(super) const GENERATION: &str = "gen";
/// The record's `version`, beside the body so that writes can be conditioned on it.
pub(super) const VERSION: &str = "version";
/// The last read the store recorded (ms since the epoch).
pub(super) const LAST_READ: &str = "last_read";
/// The refresh lease: who holds it, and until when (ms since the epoch).
pub(super) const LEASE_OWNER: &str = "lease_owner";
pub(super) const LEASE_UNTIL: &str = "lease_until";

pub(super) fn lease_time(t: OffsetDateTime) -> AttributeValue {
    n(ms(t))
}

// ---------------------------------------------------------------- integrations

/// An integration's own item.
pub(super) fn integration(key: &IntegrationKey) -> Item {
    primary(format!("{INTEGRATION_PREFIX}{}", key.as_str()), "INT")
}

pub(super) fn integration_attributes(key: &IntegrationKey, generation: &str) -> Attributes {
    vec![
        (GENERATION, Some(s(generation))),
        (INTEGRATIONS.pk, Some(s(INTEGRATIONS_PARTITION))),
        (INTEGRATIONS.sk, Some(s(key.as_str()))),
    ]
}

/// Copy `copy` of an integration's generation: each connection read also reads the copy of its
/// connection id's shard, so one integration's reads spread over `GENERATION_COPIES` items.
pub(super) fn generation_copy(key: &IntegrationKey, copy: u32) -> Item {
    primary(format!("{GENERATION_COPY_PREFIX}{}#{copy}", key.as_str()), "GEN")
}

/// The copy a connection's reads check.
pub(super) fn generation_copy_of(key: &IntegrationKey, connection_id: &ConnectionId) -> Item {
    generation_copy(key, shard(connection_id.as_str(), GENERATION_COPIES))
}

// ---------------------------------------------------------------- connections

/// A connection's item: a partition of its own, so reads of different connections never share
/// one. Integration keys and connection ids never contain `#`.
pub(super) fn connection(integration: &IntegrationKey, connection_id: &ConnectionId) -> Item {
    primary(
        format!("{CONNECTION_PREFIX}{}#{}", integration.as_str(), connection_id.as_str()),
        "CONN",
    )
}

/// The (integration, connection id) of a connection item's partition key.
pub(super) fn parse_connection(pk: &str) -> Option<(IntegrationKey, ConnectionId)> {
    let (integration, id) = pk.strip_prefix(CONNECTION_PREFIX)?.split_once('#')?;
    Some((
        IntegrationKey::try_from(integration.to_owned()).ok()?,
        ConnectionId::try_from(id.to_owned()).ok()?,
    ))
}

/// Listings sort by creation time, then internal id.
fn listed(created_at: OffsetDateTime, id: &str) -> String {
    format!("{}#{id}", ts_key(created_at))
}

/// A shard of one integration generation's connections.
pub(super) fn integration_listing(integration: &IntegrationKey, generation: &str, shard: u32) -> String {
    format!(
        "{INTEGRATION_LISTING_PREFIX}{}#{generation}#{shard}",
        integration.as_str()
    )
}

/// A shard of the environment's connections.
pub(super) fn environment_listing(shard: u32) -> String {
    format!("{ENVIRONMENT_LISTING_PREFIX}{shard}")
}

/// One end user's connections. Long ids (they come from the team's backend) are hashed so the
/// key stays far below DynamoDB's 2 KB limit; the listing checks the id itself.
pub(super) fn end_user_listing(end_user_id: &str) -> String {
    if end_user_id.len() <= 512 {
        format!("{END_USER_LISTING_PREFIX}{end_user_id}")
    } else {
        use sha2::Digest;
        format!(
            "{END_USER_LISTING_PREFIX}sha256:{}",
            hex::encode(sha2::Sha256::digest(end_user_id.as_bytes()))
        )
    }
}

/// A shard of the refresh index.
pub(super) fn refresh_partition(shard: u32) -> String {
    format!("{REFRESH_PREFIX}{shard}")
}

/// Refresh index sort keys below this bound are due strictly before `before`.
pub(super) fn refresh_bound(before: OffsetDateTime) -> String {
    ms_key(before)
}

/// When a refresh index sort key (`<ms>#<id>`) falls due.
pub(super) fn refresh_due_at(sort_key: &str) -> Option<OffsetDateTime> {
    sort_key.split('#').next()?.parse().ok().map(from_ms)
}

/// What places a connection in the indexes: a listing key per listing (the end user's only
/// when it has one) and the refresh index key when it has a next proactive renewal.
pub struct ConnectionPlacement<'a> {
    pub id: &'a str,
    pub integration: &'a IntegrationKey,
    /// The generation the item is written into; `None` keeps the item's own (and its
    /// per-generation listing key, which nothing else can change).
    pub generation: Option<&'a str>,
    pub created_at: OffsetDateTime,
    pub end_user_id: Option<&'a str>,
    pub next_refresh: Option<OffsetDateTime>,
}

/// The index keys of a connection item. Absent values are `None`: a write removes them, and
/// the connection leaves that index.
pub(super) fn connection_index_attributes(p: &ConnectionPlacement<'_>) -> Attributes {
    let sort = listed(p.created_at, p.id);
    let listing = shard(p.id, LISTING_SHARDS);
    let mut attributes = Vec::new();
    if let Some(generation) = p.generation {
        attributes.push((
            CONNECTIONS_BY_INTEGRATION.pk,
            Some(s(integration_listing(p.integration, generation, listing))),
        ));
        attributes.push((CONNECTIONS_BY_INTEGRATION.sk, Some(s(&sort))));
    }
    attributes.extend([
        (CONNECTIONS_BY_ENVIRONMENT.pk, Some(s(environment_listing(listing)))),
        (CONNECTIONS_BY_ENVIRONMENT.sk, Some(s(&sort))),
        (
            CONNECTIONS_BY_END_USER.pk,
            p.end_user_id.map(|u| s(end_user_listing(u))),
        ),
        (CONNECTIONS_BY_END_USER.sk, p.end_user_id.map(|_| s(&sort))),
    ]);
    attributes.extend(refresh_index_attributes(p.id, p.next_refresh));
    attributes
}

/// The refresh index keys of connection `id` renewed next at `next` (none: not in the index).
pub(super) fn refresh_index_attributes(id: &str, next: Option<OffsetDateTime>) -> Attributes {
    let refresh = next.map(|at| {
        (
            refresh_partition(shard(id, REFRESH_SHARDS)),
            format!("{}#{id}", ms_key(at)),
        )
    });
    vec![
        (REFRESH_DUE.pk, refresh.as_ref().map(|(pk, _)| s(pk))),
        (REFRESH_DUE.sk, refresh.map(|(_, sk)| s(sk))),
    ]
}

// ---------------------------------------------------------------- flow sessions

pub(super) fn oauth_session(state: &str) -> Item {
    primary(format!("{OAUTH_SESSION_PREFIX}{state}"), "-")
}

pub(super) fn connect_session(token_hash: &str) -> Item {
    primary(format!("{CONNECT_SESSION_PREFIX}{token_hash}"), "-")
}

pub(super) fn auth_result(nonce_hash: &str) -> Item {
    primary(format!("{AUTH_RESULT_PREFIX}{nonce_hash}"), "-")
}

pub(super) fn console_session(token_hash: &str) -> Item {
    primary(format!("{CONSOLE_SESSION_PREFIX}{token_hash}"), "-")
}

pub(super) fn socket(client_hash: &str) -> Item {
    primary(format!("{SOCKET_PREFIX}{client_hash}"), "-")
}

// ---------------------------------------------------------------- activity

/// The partition of one attempt's entries.
pub(super) fn attempt_partition(attempt_id: &str) -> String {
    format!("{ATTEMPT_PREFIX}{attempt_id}")
}

/// The `ActivityByConnection` partition of one connection id's entries.
pub(super) fn connection_activity_partition(connection_id: &str) -> String {
    format!("{CONNECTION_ACTIVITY_PREFIX}{connection_id}")
}

/// A day (UTC) of the environment's entries, as the `ActivityByTime` partitions name it.
pub(super) fn day(t: OffsetDateTime) -> String {
    let d = t.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// One shard of one day of the environment's entries.
pub(super) fn activity_day_partition(day: &str, shard: u32) -> String {
    format!("{ACTIVITY_DAY_PREFIX}{day}#{shard}")
}

/// Entries sort by time, then id; everywhere (table and both indexes).
fn activity_sort(timestamp: OffsetDateTime, id: &str) -> String {
    format!("{}#{id}", ts_key(timestamp))
}

/// Sort keys of entries older than the cursor are below this bound.
pub(super) fn activity_bound(cursor: &ActivityCursor) -> String {
    activity_sort(cursor.timestamp, &cursor.id)
}

/// Sort keys of entries at or after `since` are at or above this bound.
pub(super) fn activity_lower_bound(since: OffsetDateTime) -> String {
    ts_key(since)
}

pub(super) fn activity(entry: &ActivityEntry) -> Item {
    primary(
        attempt_partition(&entry.attempt_id),
        activity_sort(entry.timestamp, &entry.id),
    )
}

pub(super) fn activity_attributes(entry: &ActivityEntry) -> Attributes {
    let sort = activity_sort(entry.timestamp, &entry.id);
    let conn = entry.connection_id.as_deref();
    vec![
        (
            ACTIVITY_BY_TIME.pk,
            Some(s(activity_day_partition(
                &day(entry.timestamp),
                shard(&entry.id, ACTIVITY_SHARDS),
            ))),
        ),
        (ACTIVITY_BY_TIME.sk, Some(s(&sort))),
        (
            ACTIVITY_BY_CONNECTION.pk,
            conn.map(|c| s(connection_activity_partition(c))),
        ),
        (ACTIVITY_BY_CONNECTION.sk, conn.map(|_| s(sort))),
    ]
}

// ---------------------------------------------------------------- nonces

pub(super) fn nonce(nonce: &str) -> Item {
    primary(format!("{NONCE_PREFIX}{nonce}"), "-")
}

/// When a nonce's claim ends (ms since the epoch): a claim is taken over only after it.
pub(super) const NONCE_UNTIL: &str = "until";

// ---------------------------------------------------------------- settings

pub(super) fn settings() -> Item {
    primary(SETTINGS.into(), "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_keys_parse_back() {
        let (i, c) = (
            IntegrationKey::parse("acme.crm").unwrap(),
            ConnectionId::parse("u:1@x|y+z").unwrap(),
        );
        let key = connection(&i, &c);
        let Some(AttributeValue::S(pk)) = key.get(PK) else {
            panic!()
        };
        assert_eq!(parse_connection(pk), Some((i, c)));
        assert_eq!(parse_connection("INT#x"), None);
    }

    #[test]
    fn days_and_refresh_keys_read_back() {
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000) + time::Duration::milliseconds(1234);
        assert_eq!(day(t), "20241004");
        assert_eq!(refresh_due_at(&format!("{}#id", ms_key(t))), Some(t));
        assert!(end_user_listing(&"x".repeat(600)).len() < 100);
    }
}
