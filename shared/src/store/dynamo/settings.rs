//! The environment's settings: one item, `SETTINGS` / `-`, written whole.

use async_trait::async_trait;

use super::{keys, record_item, DynamoStore};
use crate::store::{EnvironmentSettings, SettingsStore, StoreResult};

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn get_settings(&self) -> StoreResult<EnvironmentSettings> {
        Ok(self.get(keys::settings()).await?.unwrap_or_default())
    }

    async fn put_settings(&self, settings: &EnvironmentSettings) -> StoreResult<()> {
        self.put(record_item(keys::settings(), settings, Vec::new())).await
    }
}
