//! Activity entries: table `activity`, ordered by (`ts_ns`, `id`) like every backend, indexed
//! by connection and by time; the operation and level filters read the entry's JSON.

use async_trait::async_trait;
use rusqlite::params;

use super::{all, execute, nanos, to_json, SqliteStore};
use crate::store::{ActivityCursor, ActivityEntry, ActivityFilter, ActivityLevel, ActivityStore, StoreResult};

#[async_trait]
impl ActivityStore for SqliteStore {
    async fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "INSERT INTO activity (ts_ns, integration, connection_id, attempt_id, body, id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    nanos(entry.timestamp),
                    entry.integration,
                    entry.connection_id,
                    entry.attempt_id,
                    to_json(entry),
                    entry.id
                ],
            )
            .map(drop)
        })
    }

    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        let before = filter
            .before
            .clone()
            .unwrap_or_else(|| ActivityCursor::newest(time::OffsetDateTime::now_utc()));
        let level = filter.level.map(|l| match l {
            ActivityLevel::Info => "info",
            ActivityLevel::Error => "error",
        });
        self.with(|c| {
            all(
                c,
                "SELECT body FROM activity
                 WHERE (?1 IS NULL OR integration = ?1) AND (?2 IS NULL OR connection_id = ?2)
                   AND (?3 IS NULL OR attempt_id = ?3)
                   AND (ts_ns < ?5 OR (ts_ns = ?5 AND id < ?6))
                   AND (?7 IS NULL OR json_extract(body, '$.operation') = ?7)
                   AND (?8 IS NULL OR json_extract(body, '$.level') = ?8)
                   AND (?9 IS NULL OR ts_ns >= ?9)
                 ORDER BY ts_ns DESC, id DESC LIMIT ?4",
                params![
                    filter.integration,
                    filter.connection_id,
                    filter.attempt_id,
                    filter.limit as i64,
                    nanos(before.timestamp),
                    before.id,
                    filter.operation,
                    level,
                    filter.since.map(nanos)
                ],
            )
        })
    }
}
