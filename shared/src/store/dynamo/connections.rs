//! Connections: item `INT#<integration>` / `CONN#<id>` in its integration's partition, listed
//! through GSI1 (`CONNS`), due for refresh through the sharded GSI_REFRESH. Every record write
//! is an `UpdateItem` conditioned on the stored `version` (never a whole-item put), so the
//! refresh lease beside the record survives it.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::keys::{
    self, CONNECTION_ID, END_USER_ID, HAS_ERRORS, INTEGRATION, LEASE_OWNER, LEASE_UNTIL, SEARCH, VERSION,
};
use super::{body, held, n, s, DynamoStore, Query, Update, GSI1, GSI_REFRESH};
use crate::domain::{ConnectionId, IntegrationKey};
use crate::store::{ConnectionFilter, ConnectionRecord, ConnectionStore, StoreError, StoreResult, Upsert};

/// How often `upsert_connection` reads again after losing a race to a concurrent writer.
const UPSERT_ATTEMPTS: usize = 5;

/// The update writing `record` (body, version, index and filter attributes).
fn write_of(record: &ConnectionRecord) -> Update {
    Update::record(record, keys::connection_attributes(record))
}

/// The condition "the stored version is still `expected`", over `update`'s placeholders.
fn version_is(update: &mut Update, expected: u64) -> String {
    let name = update.at.name(VERSION);
    let value = update.at.value(":expected", n(expected));
    format!("{name} = {value}")
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)> {
        // Read, then write conditioned on what was read; a concurrent writer makes the condition
        // fail and the loop reads again.
        let key = keys::connection(&record.integration, &record.connection_id);
        for _ in 0..UPSERT_ATTEMPTS {
            let existing: Option<ConnectionRecord> = self.get(key.clone()).await?;
            let (record, outcome) = match &existing {
                Some(old) => (record.clone().replacing(old), Upsert::Replaced),
                None => {
                    let mut record = record.clone();
                    record.version = 1;
                    (record, Upsert::Created)
                }
            };
            let mut update = write_of(&record);
            let condition = match &existing {
                Some(old) => version_is(&mut update, old.version),
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

    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()> {
        let mut record = record.clone();
        record.version = expected_version + 1;
        let mut update = write_of(&record);
        let condition = format!("attribute_exists(PK) AND {}", version_is(&mut update, expected_version));
        let key = keys::connection(&record.integration, &record.connection_id);
        self.update(key, update, &condition).await
    }

    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.get(keys::connection(integration, connection_id)).await
    }

    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionRecord>> {
        let wanted = filter.offset.saturating_add(filter.limit);
        if wanted == 0 {
            return Ok(Vec::new());
        }
        let mut q = Query::partition(Some(&GSI1), keys::CONNECTIONS.into()).newest_first();
        if !filter.integrations.is_empty() {
            let name = q.at.name(INTEGRATION);
            let marks: Vec<String> = (filter.integrations.iter().enumerate())
                .map(|(i, k)| q.at.value(&format!(":i{i}"), s(k.as_str())))
                .collect();
            q.filter(format!("{name} IN ({})", marks.join(", ")));
        }
        if let Some(id) = &filter.connection_id {
            q.filter_equals(CONNECTION_ID, s(id.as_str()));
        }
        if let Some(user) = &filter.end_user_id {
            q.filter_equals(END_USER_ID, s(user));
        }
        if let Some(search) = &filter.search {
            let (name, value) = (q.at.name(SEARCH), q.at.value(":search", s(search.to_lowercase())));
            q.filter(format!("contains({name}, {value})"));
        }
        if filter.with_errors {
            let name = q.at.name(HAS_ERRORS);
            q.filter(format!("attribute_exists({name})"));
        }
        let items = self.query_items(&q, wanted).await?;
        items.iter().skip(filter.offset).take(filter.limit).map(body).collect()
    }

    async fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool> {
        let key = keys::connection(integration, connection_id);
        Ok(self.take_item(key).await?.is_some())
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

    async fn due_connections(&self, before: OffsetDateTime, limit: usize) -> StoreResult<Vec<ConnectionRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let queries: Vec<Query> = (0..keys::REFRESH_SHARDS)
            .map(|shard| {
                Query::partition(Some(&GSI_REFRESH), keys::refresh_partition(shard))
                    .sort_before(keys::refresh_bound(before))
            })
            .collect();
        let pages = futures::future::join_all(queries.iter().map(|q| self.query_items(q, limit))).await;
        // Each shard is sorted; merge them by sort key (expiry, then id).
        let mut due: Vec<(String, ConnectionRecord)> = Vec::new();
        for items in pages {
            for item in items? {
                let Some(AttributeValue::S(sort)) = item.get(GSI_REFRESH.sk) else {
                    continue;
                };
                due.push((sort.clone(), body(&item)?));
            }
        }
        due.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(due.into_iter().take(limit).map(|(_, r)| r).collect())
    }
}
