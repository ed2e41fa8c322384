//! Integrations: table `integrations` (key, body). Deleting one deletes its connections in the
//! same transaction.

use async_trait::async_trait;
use rusqlite::params;

use super::{all, execute, insert_new, one, to_json, unavailable, SqliteStore};
use crate::domain::IntegrationKey;
use crate::store::{IntegrationRecord, IntegrationStore, StoreResult};

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()> {
        self.with(|c| {
            insert_new(
                c,
                "INSERT INTO integrations (key, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![record.key.as_str(), to_json(record)],
            )
        })
    }

    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool> {
        self.with(|c| {
            let n = execute(
                c,
                "UPDATE integrations SET body = ?2 WHERE key = ?1",
                params![record.key.as_str(), to_json(record)],
            )?;
            Ok(n == 1)
        })
    }

    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>> {
        self.with(|c| one(c, "SELECT body FROM integrations WHERE key = ?1", [key.as_str()]))
    }

    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>> {
        self.with(|c| all(c, "SELECT body FROM integrations ORDER BY key", []))
    }

    async fn delete_integration(&self, key: &IntegrationKey) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction().map_err(unavailable)?;
            let n = execute(&tx, "DELETE FROM integrations WHERE key = ?1", [key.as_str()])?;
            execute(&tx, "DELETE FROM connections WHERE integration = ?1", [key.as_str()])?;
            tx.commit().map_err(unavailable)?;
            Ok(n == 1)
        })
    }
}
