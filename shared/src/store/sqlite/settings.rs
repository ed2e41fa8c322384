//! The environment's settings: the one row of table `settings`, written whole.

use async_trait::async_trait;

use super::{execute, one, to_json, SqliteStore};
use crate::store::{EnvironmentSettings, SettingsStore, StoreResult};

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn get_settings(&self) -> StoreResult<EnvironmentSettings> {
        let stored = self.with(|c| one(c, "SELECT body FROM settings WHERE id = 1", []))?;
        Ok(stored.unwrap_or_default())
    }

    async fn put_settings(&self, settings: &EnvironmentSettings) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "INSERT OR REPLACE INTO settings (id, body) VALUES (1, ?1)",
                [to_json(settings)],
            )
            .map(drop)
        })
    }
}
