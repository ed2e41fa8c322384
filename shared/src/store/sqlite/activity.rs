//! Activity entries: table `activity`, ordered by (`ts_ns`, entry id) like every backend,
//! indexed by connection; the other filters read the entry's JSON.

use async_trait::async_trait;
use rusqlite::params;

use super::{all, execute, nanos, to_json, SqliteStore};
use crate::store::{ActivityEntry, ActivityFilter, ActivityLevel, ActivityStore, StoreResult};

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
        let level = filter.level.map(|l| match l {
            ActivityLevel::Info => "info",
            ActivityLevel::Error => "error",
        });
        let (before_ns, before_id) = match &filter.before {
            Some(c) => (Some(nanos(c.timestamp)), Some(c.id.clone())),
            None => (None, None),
        };
        self.with(|c| {
            all(
                c,
                "SELECT body FROM activity
                 WHERE (?1 IS NULL OR integration = ?1) AND (?2 IS NULL OR connection_id = ?2)
                   AND (?3 IS NULL OR attempt_id = ?3)
                   AND (?5 IS NULL OR json_extract(body, '$.operation') = ?5)
                   AND (?6 IS NULL OR json_extract(body, '$.level') = ?6)
                   AND (?7 IS NULL OR ts_ns >= ?7)
                   AND (?8 IS NULL OR ts_ns < ?8 OR (ts_ns = ?8 AND json_extract(body, '$.id') < ?9))
                 ORDER BY ts_ns DESC, json_extract(body, '$.id') DESC LIMIT ?4",
                params![
                    filter.integration,
                    filter.connection_id,
                    filter.attempt_id,
                    filter.limit as i64,
                    filter.operation,
                    level,
                    filter.since.map(nanos),
                    before_ns,
                    before_id
                ],
            )
        })
    }
}
