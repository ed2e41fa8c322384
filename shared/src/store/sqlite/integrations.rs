//! Integrations: table `integrations` (key, body, generation). Deleting one removes its row
//! only; its connections (rows of the ended generation) are invisible at once and purged a
//! bounded step at a time (`purge_connections`).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::connections::live_generation;
use super::{execute, from_json, insert_new, new_generation, to_json, unavailable, write_transaction, SqliteStore};
use crate::domain::IntegrationKey;
use crate::store::{IntegrationRecord, IntegrationStore, Purged, StoreError, StoreResult};

fn record_of((body, generation): (String, Option<String>)) -> StoreResult<IntegrationRecord> {
    let mut record: IntegrationRecord = from_json(&body)?;
    record.generation = generation.unwrap_or_default();
    Ok(record)
}

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()> {
        let mut record = record.clone();
        record.generation = new_generation();
        self.with(|c| {
            insert_new(
                c,
                "INSERT INTO integrations (key, body, generation) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![record.key.as_str(), to_json(&record), record.generation],
            )
        })
    }

    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool> {
        self.with(|c| {
            let tx = write_transaction(c)?;
            let Some(generation) = live_generation(&tx, record.key.as_str())? else {
                return Ok(false);
            };
            let mut record = record.clone();
            record.generation = generation;
            execute(
                &tx,
                "UPDATE integrations SET body = ?2 WHERE key = ?1",
                params![record.key.as_str(), to_json(&record)],
            )?;
            tx.commit().map_err(unavailable)?;
            Ok(true)
        })
    }

    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>> {
        let row = self.with(|c| {
            c.prepare_cached("SELECT body, generation FROM integrations WHERE key = ?1")
                .and_then(|mut s| s.query_row([key.as_str()], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                .map_err(unavailable)
        })?;
        row.map(record_of).transpose()
    }

    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>> {
        let rows: Vec<(String, Option<String>)> = self.with(|c| {
            let mut stmt = c
                .prepare("SELECT body, generation FROM integrations ORDER BY key")
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })?;
        rows.into_iter().map(record_of).collect()
    }

    async fn delete_integration(&self, key: &IntegrationKey, generation: &str) -> StoreResult<bool> {
        let n = self.with(|c| {
            execute(
                c,
                "DELETE FROM integrations WHERE key = ?1 AND generation = ?2",
                [key.as_str(), generation],
            )
        })?;
        Ok(n == 1)
    }

    fn purge_shards(&self) -> u32 {
        1
    }

    async fn purge_connections(
        &self,
        integration: &IntegrationKey,
        generation: &str,
        shard: u32,
        limit: usize,
    ) -> StoreResult<Purged> {
        if shard != 0 {
            return Ok(Purged::default());
        }
        self.with(|c| {
            let tx = write_transaction(c)?;
            if live_generation(&tx, integration.as_str())?.as_deref() == Some(generation) {
                return Err(StoreError::Conflict);
            }
            let n = execute(
                &tx,
                "DELETE FROM connections WHERE rowid IN (
                   SELECT rowid FROM connections WHERE integration = ?1 AND generation = ?2 LIMIT ?3)",
                params![integration.as_str(), generation, limit as i64],
            )?;
            tx.commit().map_err(unavailable)?;
            Ok(Purged {
                examined: n,
                deleted: n,
            })
        })
    }
}
