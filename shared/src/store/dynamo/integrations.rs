//! Integrations: item `INT#<key>` / `INT`, listed through GSI1. An integration's connections
//! live in its partition, so deleting it is one query of that partition.

use async_trait::async_trait;

use super::keys::{self, CONNECTION_SK_PREFIX};
use super::{held, record_item, DynamoStore, Query, Update, GSI1};
use crate::domain::IntegrationKey;
use crate::store::{IntegrationRecord, IntegrationStore, StoreResult};

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()> {
        let item = record_item(
            keys::integration(&record.key),
            record,
            keys::integration_attributes(&record.key),
        );
        self.put_new(item).await
    }

    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool> {
        let update = Update::record(record, Vec::new());
        held(
            self.update(keys::integration(&record.key), update, "attribute_exists(PK)")
                .await,
        )
    }

    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>> {
        self.get(keys::integration(key)).await
    }

    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>> {
        let q = Query::partition(Some(&GSI1), keys::INTEGRATIONS.into());
        self.query(&q, usize::MAX).await
    }

    async fn delete_integration(&self, key: &IntegrationKey) -> StoreResult<bool> {
        let existed = self.take_item(keys::integration(key)).await?.is_some();
        let q = Query::partition(None, keys::integration_partition(key)).sort_begins_with(CONNECTION_SK_PREFIX);
        for item in self.query_items(&q, usize::MAX).await? {
            if let Some(key) = keys::key_of(&item) {
                self.delete(key).await?;
            }
        }
        Ok(existed)
    }
}
