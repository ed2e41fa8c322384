//! Connections: item `CONN#<integration>#<id>` / `CONN`, a partition per connection. The item
//! holds the record in three parts (`view`, `body`, and the sealed bytes: `credentials` and, when
//! the provider has secret config fields, `secret_config`), its `gen`eration, `version`,
//! the recorded read and the lease, and the keys that place it in the listing and refresh
//! indexes (`keys::connection_index_attributes`).
//!
//! Reads are one `BatchGetItem` of the item and the integration's generation copy for its id:
//! a connection exists only while its generation is the integration's. Every record write is an
//! `UpdateItem` conditioned on the stored `version` (never a whole-item put), so the refresh
//! lease beside the record survives it; `create_connection`'s is conditioned on there being no
//! item of the live generation. Writes after the integration's delete land in the ended
//! generation, which no read sees and the purge removes.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::{
    self, ConnectionPlacement, CREDENTIALS, GENERATION, LAST_READ, LEASE_OWNER, LEASE_UNTIL, SECRET_CONFIG, VERSION,
    VIEW,
};
use super::{held, json_attr, n, s, s_attr, to_json, DynamoStore, Item, Update, BODY};
use crate::domain::{ConnectionConfig, ConnectionId, IntegrationKey, VouchedKeys};
use crate::refresh_policy::RefreshFacts;
use crate::store::{
    ConnectionFilter, ConnectionRecord, ConnectionStore, ConnectionSummary, DueConnection, RefreshFailure, Sealed,
    StoreError, StoreResult, Upsert,
};

/// How often `upsert_connection` reads again after losing a race to a concurrent writer.
const UPSERT_ATTEMPTS: usize = 5;

/// What a connection's `body` holds: the record minus its `view` and its sealed parts. A field
/// added to `ConnectionRecord` goes here, or into `ConnectionSummary` when listings show it
/// (`decode` does not compile until it is placed).
#[derive(Serialize, Deserialize)]
struct Rest {
    connection_config: ConnectionConfig,
    /// The config keys the team's backend set (`ConnectionRecord::vouched_config`).
    #[serde(default, skip_serializing_if = "VouchedKeys::is_empty")]
    vouched_config: VouchedKeys,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_fetched_at: OffsetDateTime,
    has_refresh_token: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_failure: Option<RefreshFailure>,
    /// Where its webhooks go instead of the environment's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook_url_override: Option<String>,
}

/// The record of a connection item (`None` fields of the item are corrupt).
pub(super) fn decode(item: &Item) -> StoreResult<ConnectionRecord> {
    let view: ConnectionSummary = json_attr(item, VIEW)?;
    let rest: Rest = json_attr(item, BODY)?;
    let credentials = match item.get(CREDENTIALS) {
        Some(AttributeValue::B(b)) => Sealed(b.as_ref().to_vec()),
        _ => return Err(StoreError::Corrupt("connection without credentials".into())),
    };
    let secret_config = match item.get(SECRET_CONFIG) {
        Some(AttributeValue::B(b)) => Some(Sealed(b.as_ref().to_vec())),
        None => None,
        Some(_) => return Err(StoreError::Corrupt("secret_config is not binary".into())),
    };
    let number = |name| match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
        _ => None,
    };
    Ok(ConnectionRecord {
        id: view.id,
        integration: view.integration,
        connection_id: view.connection_id,
        provider: view.provider,
        auth_mode: view.auth_mode,
        credentials,
        connection_config: rest.connection_config,
        secret_config,
        vouched_config: rest.vouched_config,
        metadata: view.metadata,
        end_user: view.end_user,
        tags: view.tags,
        expires_at: rest.expires_at,
        created_at: view.created_at,
        updated_at: rest.updated_at,
        last_fetched_at: rest.last_fetched_at,
        version: number(VERSION).unwrap_or(0).max(0) as u64,
        has_refresh_token: rest.has_refresh_token,
        last_read_at: number(LAST_READ).map(keys::from_ms),
        errors: view.errors,
        refresh_failure: rest.refresh_failure,
        webhook_url_override: rest.webhook_url_override,
    })
}

fn end_user_id(record: &ConnectionRecord) -> Option<&str> {
    record.end_user.as_ref()?.get("id")?.as_str()
}

impl DynamoStore {
    /// The update that writes the whole record (into `generation`, or keeping the item's own):
    /// its parts, version, recorded read and index keys (absent ones removed). The lease is not
    /// touched.
    fn write_of(&self, record: &ConnectionRecord, generation: Option<&str>) -> Update {
        let rest = Rest {
            connection_config: record.connection_config.clone(),
            vouched_config: record.vouched_config.clone(),
            expires_at: record.expires_at,
            updated_at: record.updated_at,
            last_fetched_at: record.last_fetched_at,
            has_refresh_token: record.has_refresh_token,
            refresh_failure: record.refresh_failure.clone(),
            webhook_url_override: record.webhook_url_override.clone(),
        };
        let placement = ConnectionPlacement {
            id: &record.id,
            integration: &record.integration,
            generation,
            created_at: record.created_at,
            end_user_id: end_user_id(record),
            next_refresh: self.policy.next_proactive(&RefreshFacts::from(record)).map(|p| p.at),
        };
        let mut u = Update::default();
        u.set(VIEW, s(to_json(&record.summary())));
        u.set(BODY, s(to_json(&rest)));
        u.set(CREDENTIALS, AttributeValue::B(record.credentials.0.clone().into()));
        match &record.secret_config {
            Some(sealed) => u.set(SECRET_CONFIG, AttributeValue::B(sealed.0.clone().into())),
            None => u.remove(SECRET_CONFIG),
        }
        if let Some(generation) = generation {
            u.set(GENERATION, s(generation));
        }
        u.set(VERSION, n(record.version));
        match record.last_read_at {
            Some(t) => u.set(LAST_READ, n(keys::ms(t))),
            None => u.remove(LAST_READ),
        }
        u.apply(keys::connection_index_attributes(&placement));
        u
    }

    /// The connection item and the integration's live generation, in one consistent read.
    pub(super) async fn fetch(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<(Option<Item>, Option<String>)> {
        let key = keys::connection(integration, connection_id);
        let copy = keys::generation_copy_of(integration, connection_id);
        let items = self.batch_get(vec![key, copy], None).await?;
        let mut found = (None, None);
        for item in items {
            match s_attr(&item, super::table::SK) {
                Some("CONN") => found.0 = Some(item),
                _ => found.1 = s_attr(&item, GENERATION).map(str::to_owned),
            }
        }
        Ok(found)
    }

    /// The connection if it belongs to its integration's live generation.
    async fn live(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        match self.fetch(integration, connection_id).await? {
            (Some(item), Some(live)) if s_attr(&item, GENERATION) == Some(live.as_str()) => decode(&item).map(Some),
            _ => Ok(None),
        }
    }

    /// The conditional update of a record (`update_connection`), removing the refresh lease
    /// too when `release` (`finish_refresh`). The item keeps its generation: the condition is on
    /// the version that was read.
    async fn update_record(&self, record: &ConnectionRecord, expected_version: u64, release: bool) -> StoreResult<()> {
        let mut record = record.clone();
        record.version = expected_version + 1;
        let key = keys::connection(&record.integration, &record.connection_id);
        let mut update = self.write_of(&record, None);
        if release {
            update.remove(LEASE_OWNER);
            update.remove(LEASE_UNTIL);
        }
        let condition = format!(
            "attribute_exists(PK) AND {}",
            Self::version_is(&mut update, expected_version)
        );
        self.update(key, update, &condition).await
    }

    /// The condition "the stored version is still `expected`", over `update`'s placeholders.
    fn version_is(update: &mut Update, expected: u64) -> String {
        let name = update.at.name(VERSION);
        let value = update.at.value(":expected", n(expected));
        format!("{name} = {value}")
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)> {
        // Read (with the live generation), then write conditioned on what was read; a
        // concurrent writer makes the condition fail and the loop reads again.
        let key = keys::connection(&record.integration, &record.connection_id);
        for _ in 0..UPSERT_ATTEMPTS {
            let (item, live) = self.fetch(&record.integration, &record.connection_id).await?;
            let generation = live.ok_or(StoreError::Conflict)?;
            let existing = item
                .as_ref()
                .map(|i| (decode(i), s_attr(i, GENERATION) == Some(generation.as_str())));
            let (record, outcome, condition_version) = match existing {
                Some((Ok(old), true)) => (record.clone().replacing(&old), Upsert::Replaced, Some(old.version)),
                // A leftover of an ended generation (or unreadable) is replaced whole.
                Some((old, _)) => {
                    let mut fresh = record.clone();
                    fresh.version = 1;
                    let seen = old.map(|o| o.version).ok().or_else(|| {
                        item.as_ref().and_then(|i| match i.get(VERSION) {
                            Some(AttributeValue::N(v)) => v.parse().ok(),
                            _ => None,
                        })
                    });
                    (fresh, Upsert::Created, seen)
                }
                None => {
                    let mut fresh = record.clone();
                    fresh.version = 1;
                    (fresh, Upsert::Created, None)
                }
            };
            let mut update = self.write_of(&record, Some(&generation));
            if outcome == Upsert::Created && item.is_some() {
                update.remove(LEASE_OWNER);
                update.remove(LEASE_UNTIL);
            }
            let condition = match condition_version {
                Some(v) => format!("attribute_exists(PK) AND {}", Self::version_is(&mut update, v)),
                None => "attribute_not_exists(PK)".to_owned(),
            };
            match self.update(key.clone(), update, &condition).await {
                Ok(()) => return Ok((outcome, record.version)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn create_connection(&self, record: &ConnectionRecord) -> StoreResult<u64> {
        let (_, live) = self.fetch(&record.integration, &record.connection_id).await?;
        let generation = live.ok_or(StoreError::Conflict)?;
        let mut record = record.clone();
        record.version = 1;
        let mut update = self.write_of(&record, Some(&generation));
        // A leftover of an ended generation is replaced whole, lease included.
        update.remove(LEASE_OWNER);
        update.remove(LEASE_UNTIL);
        // The condition, not the read: of concurrent creators the first write makes the item
        // live, and every later one fails here.
        let condition = format!(
            "attribute_not_exists(PK) OR {} <> {}",
            update.at.name(GENERATION),
            update.at.value(":live", s(&generation))
        );
        let key = keys::connection(&record.integration, &record.connection_id);
        self.update(key, update, &condition).await?;
        Ok(record.version)
    }

    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()> {
        self.update_record(record, expected_version, false).await
    }

    async fn finish_refresh(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()> {
        self.update_record(record, expected_version, true).await
    }

    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.live(integration, connection_id).await
    }

    async fn read_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        at: OffsetDateTime,
    ) -> StoreResult<Option<ConnectionRecord>> {
        let Some(record) = self.live(integration, connection_id).await? else {
            return Ok(None);
        };
        if !self.policy.read_moves_schedule(&RefreshFacts::from(&record), at) {
            return Ok(Some(record));
        }
        let mut read = record.clone();
        read.last_read_at = Some(at);
        let next = self.policy.next_proactive(&RefreshFacts::from(&read)).map(|p| p.at);
        let mut update = Update::default();
        update.set(LAST_READ, n(keys::ms(at)));
        update.apply(keys::refresh_index_attributes(&read.id, next));
        let condition = format!(
            "attribute_exists(PK) AND {}",
            Self::version_is(&mut update, record.version)
        );
        let key = keys::connection(integration, connection_id);
        // Lost to a concurrent write: that write stored its own read and schedule.
        Ok(Some(if held(self.update(key, update, &condition).await)? {
            read
        } else {
            record
        }))
    }

    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionSummary>> {
        self.listing(filter).await
    }

    async fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool> {
        let (Some(item), Some(live)) = self.fetch(integration, connection_id).await? else {
            return Ok(false);
        };
        if s_attr(&item, GENERATION) != Some(live.as_str()) {
            return Ok(false);
        }
        self.delete_if_generation(keys::connection(integration, connection_id), &live)
            .await
    }

    async fn acquire_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut update = Update::default();
        update.set(LEASE_OWNER, s(owner));
        update.set(LEASE_UNTIL, keys::lease_time(until));
        let held_until = update.at.name(LEASE_UNTIL);
        let now = update.at.value(":now", keys::lease_time(now));
        let condition =
            format!("attribute_exists(PK) AND (attribute_not_exists({held_until}) OR {held_until} <= {now})");
        let key = keys::connection(integration, connection_id);
        held(self.update(key, update, &condition).await)
    }

    async fn release_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()> {
        let mut update = Update::default();
        update.remove(LEASE_OWNER);
        update.remove(LEASE_UNTIL);
        let condition = format!(
            "{} = {}",
            update.at.name(LEASE_OWNER),
            update.at.value(":owner", s(owner))
        );
        let key = keys::connection(integration, connection_id);
        // A lost condition: not ours (expired and taken by another worker) or gone. Nothing to
        // release either way.
        held(self.update(key, update, &condition).await).map(|_| ())
    }

    fn refresh_shards(&self) -> u32 {
        crate::store::shards::REFRESH_SHARDS
    }

    async fn due_connections(
        &self,
        shard: u32,
        before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<DueConnection>> {
        self.due(shard, before, limit).await
    }
}
