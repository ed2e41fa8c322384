//! Activity entries: table `activity`, in insertion order (`seq`), indexed by connection.

use async_trait::async_trait;
use rusqlite::params;

use super::{all, execute, nanos, to_json, SqliteStore};
use crate::store::{ActivityEntry, ActivityFilter, ActivityStore, StoreResult};

#[async_trait]
impl ActivityStore for SqliteStore {
    async fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "INSERT INTO activity (ts_ns, integration, connection_id, attempt_id, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    nanos(entry.timestamp),
                    entry.integration,
                    entry.connection_id,
                    entry.attempt_id,
                    to_json(entry)
                ],
            )
            .map(drop)
        })
    }

    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        self.with(|c| {
            all(
                c,
                "SELECT body FROM activity
                 WHERE (?1 IS NULL OR integration = ?1) AND (?2 IS NULL OR connection_id = ?2)
                   AND (?3 IS NULL OR attempt_id = ?3)
                 ORDER BY ts_ns DESC, seq DESC LIMIT ?4",
                params![
                    filter.integration,
                    filter.connection_id,
                    filter.attempt_id,
                    filter.limit as i64
                ],
            )
        })
    }
}
