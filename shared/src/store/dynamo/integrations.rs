//! Integrations: item `INT#<key>` / `INT` (body, `gen`), listed through the `Integrations` index
//! (keys only; the items are then read in batches), and `GENERATION_COPIES` copies of the
//! generation (`INTGEN#<key>#<n>` / `GEN`) that connection reads check. Creating and deleting
//! write the item and its copies in one transaction; the connections of a deleted generation
//! are purged by `purge_connections`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::keys::{self, GENERATION};
use super::table::INTEGRATIONS;
use super::{body, held, s, s_attr, DynamoStore, Item, Query, Update};
use crate::domain::IntegrationKey;
use crate::store::shards::{GENERATION_COPIES, LISTING_SHARDS};
use crate::store::{IntegrationRecord, IntegrationStore, Purged, StoreError, StoreResult};

fn decode(item: &Item) -> StoreResult<IntegrationRecord> {
    let mut record: IntegrationRecord = body(item)?;
    record.generation = s_attr(item, GENERATION).unwrap_or_default().to_owned();
    Ok(record)
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> StoreResult<T> {
    r.map_err(|e| StoreError::Unavailable(format!("building a request: {e}")))
}

impl DynamoStore {
    fn put_item_of(&self, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
        let put = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_owned))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A delete, conditioned on the item's generation when one is given.
    fn delete_item_of(&self, key: Item, generation: Option<&str>) -> StoreResult<TransactWriteItem> {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key));
        if let Some(generation) = generation {
            delete = delete
                .condition_expression("#gen = :gen")
                .expression_attribute_names("#gen", GENERATION)
                .expression_attribute_values(":gen", s(generation));
        }
        Ok(TransactWriteItem::builder().delete(built(delete.build())?).build())
    }
}

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()> {
        let mut record = record.clone();
        record.generation = uuid::Uuid::new_v4().simple().to_string();
        let item = super::record_item(
            keys::integration(&record.key),
            &record,
            keys::integration_attributes(&record.key, &record.generation),
        );
        let mut writes = vec![self.put_item_of(item, Some("attribute_not_exists(PK)"))?];
        for copy in 0..GENERATION_COPIES {
            let mut item = keys::generation_copy(&record.key, copy);
            item.insert(GENERATION.to_owned(), s(&record.generation));
            writes.push(self.put_item_of(item, None)?);
        }
        self.transact(writes).await
    }

    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool> {
        // The body's generation is never read back (the `gen` attribute is), so the caller's
        // value changes nothing.
        let update = Update::record(record, Vec::new());
        held(
            self.update(keys::integration(&record.key), update, "attribute_exists(PK)")
                .await,
        )
    }

    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>> {
        self.get_item(keys::integration(key))
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>> {
        let q = Query::partition(Some(&INTEGRATIONS), keys::INTEGRATIONS_PARTITION.into());
        let found = self.query_items(&q, usize::MAX).await?;
        let items = self
            .batch_get(found.iter().filter_map(keys::key_of).collect(), None)
            .await?;
        let mut records = items.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
        records.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(records)
    }

    async fn delete_integration(&self, key: &IntegrationKey, generation: &str) -> StoreResult<bool> {
        let mut writes = vec![self.delete_item_of(keys::integration(key), Some(generation))?];
        for copy in 0..GENERATION_COPIES {
            writes.push(self.delete_item_of(keys::generation_copy(key, copy), None)?);
        }
        held(self.transact(writes).await)
    }

    fn purge_shards(&self) -> u32 {
        LISTING_SHARDS
    }

    async fn purge_connections(
        &self,
        integration: &IntegrationKey,
        generation: &str,
        shard: u32,
        limit: usize,
    ) -> StoreResult<Purged> {
        self.purge(integration, generation, shard, limit).await
    }
}
