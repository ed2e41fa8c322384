//! What reads many connections: the listings (a per-integration, an environment-wide and a
//! per-end-user index, each projecting `view` and `gen` only), the refresh index (keys only,
//! one shard per call) and the purge of an ended generation (its per-integration partitions).
//! Listings drop connections whose generation is not their integration's live one.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::keys::{self, GENERATION, VIEW};
use super::table::{CONNECTIONS_BY_END_USER, CONNECTIONS_BY_ENVIRONMENT, CONNECTIONS_BY_INTEGRATION, PK, REFRESH_DUE};
use super::{json_attr, map_err, s, s_attr, DynamoStore, Item, Query};
use crate::domain::IntegrationKey;
use crate::store::shards::LISTING_SHARDS;
use crate::store::{
    ConnectionFilter, ConnectionSummary, DueConnection, IntegrationStore, Purged, StoreError, StoreResult,
};

/// Conditional deletes a purge step runs at once: enough to finish a million connections in
/// minutes, few enough that each listing partition stays far below 1,000 writes a second.
const PURGE_CONCURRENCY: usize = 4;

impl DynamoStore {
    /// Every integration's live generation.
    async fn live_generations(&self) -> StoreResult<HashMap<String, String>> {
        Ok(self
            .list_integrations()
            .await?
            .into_iter()
            .map(|i| (i.key.to_string(), i.generation))
            .collect())
    }

    pub(super) async fn listing(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionSummary>> {
        let wanted = filter.offset.saturating_add(filter.limit);
        if wanted == 0 {
            return Ok(Vec::new());
        }
        let live = self.live_generations().await?;
        let search = filter.search.as_ref().map(|s| s.to_lowercase());
        let keep = |item: &Item| -> StoreResult<Option<ConnectionSummary>> {
            let view: ConnectionSummary = json_attr(item, VIEW)?;
            let matches = live.get(view.integration.as_str()).map(String::as_str) == s_attr(item, GENERATION)
                && (filter.integrations.is_empty() || filter.integrations.contains(&view.integration))
                && filter.connection_id.as_ref().is_none_or(|c| c == &view.connection_id)
                && filter
                    .end_user_id
                    .as_deref()
                    .is_none_or(|u| view.end_user.as_ref().and_then(|e| e.get("id")?.as_str()) == Some(u))
                && search
                    .as_deref()
                    .is_none_or(|s| view.connection_id.as_str().to_lowercase().contains(s))
                && (!filter.with_errors || !view.errors.is_empty());
            Ok(matches.then_some(view))
        };
        // The narrowest index the filter allows.
        let queries: Vec<Query> = if let Some(user) = &filter.end_user_id {
            vec![Query::partition(
                Some(&CONNECTIONS_BY_END_USER),
                keys::end_user_listing(user),
            )]
        } else if !filter.integrations.is_empty() {
            let mut queries = Vec::new();
            for integration in &filter.integrations {
                let Some(generation) = live.get(integration.as_str()) else {
                    continue;
                };
                for shard in 0..LISTING_SHARDS {
                    queries.push(Query::partition(
                        Some(&CONNECTIONS_BY_INTEGRATION),
                        keys::integration_listing(integration, generation, shard),
                    ));
                }
            }
            queries
        } else if let Some(id) = &filter.connection_id {
            // One item per integration at most: read them, not a listing.
            let candidates: Vec<Item> = live
                .keys()
                .filter_map(|k| IntegrationKey::try_from(k.clone()).ok())
                .map(|k| keys::connection(&k, id))
                .collect();
            let items = self.batch_get(candidates, Some(&[PK, VIEW, GENERATION])).await?;
            let mut found = Vec::new();
            for item in &items {
                found.extend(keep(item)?);
            }
            found.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            return Ok(found.into_iter().skip(filter.offset).take(filter.limit).collect());
        } else {
            (0..LISTING_SHARDS)
                .map(|shard| Query::partition(Some(&CONNECTIONS_BY_ENVIRONMENT), keys::environment_listing(shard)))
                .collect()
        };
        let queries: Vec<Query> = queries.into_iter().map(Query::newest_first).collect();
        let found = self.merge(&queries, wanted, keep).await?;
        Ok(found.into_iter().skip(filter.offset).take(filter.limit).collect())
    }

    pub(super) async fn due(
        &self,
        shard: u32,
        before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<DueConnection>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let q = Query::partition(Some(&REFRESH_DUE), keys::refresh_partition(shard))
            .sort_before(keys::refresh_bound(before));
        let mut due = Vec::new();
        for item in self.query_items(&q, limit).await? {
            let connection = s_attr(&item, PK).and_then(keys::parse_connection);
            let at = s_attr(&item, REFRESH_DUE.sk).and_then(keys::refresh_due_at);
            let (Some((integration, connection_id)), Some(due_at)) = (connection, at) else {
                return Err(StoreError::Corrupt("a refresh index entry without its keys".into()));
            };
            due.push(DueConnection {
                integration,
                connection_id,
                due_at,
            });
        }
        Ok(due)
    }

    /// Deletes the item under `key` if it is still in `generation` (a connection created again
    /// under a new generation is left alone); `Ok(false)` when it is not.
    pub(super) async fn delete_if_generation(&self, key: Item, generation: &str) -> StoreResult<bool> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression("#gen = :gen")
            .expression_attribute_names("#gen", GENERATION)
            .expression_attribute_values(":gen", s(generation))
            .send()
            .await
            .map_err(map_err);
        match res {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn purge(
        &self,
        integration: &IntegrationKey,
        generation: &str,
        shard: u32,
        limit: usize,
    ) -> StoreResult<Purged> {
        let copy = self.get_item(keys::generation_copy(integration, 0)).await?;
        if copy.as_ref().and_then(|c| s_attr(c, GENERATION)) == Some(generation) {
            return Err(StoreError::Conflict);
        }
        let q = Query::partition(
            Some(&CONNECTIONS_BY_INTEGRATION),
            keys::integration_listing(integration, generation, shard),
        );
        let found = self.query_items(&q, limit).await?;
        let keys: Vec<Item> = found.iter().filter_map(super::keys::key_of).collect();
        let mut deleted = 0;
        for chunk in keys.chunks(PURGE_CONCURRENCY) {
            let done =
                futures::future::join_all(chunk.iter().map(|k| self.delete_if_generation(k.clone(), generation))).await;
            for d in done {
                deleted += usize::from(d?);
            }
        }
        Ok(Purged {
            examined: found.len(),
            deleted,
        })
    }
}
