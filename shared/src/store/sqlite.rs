//! The embedded store: one SQLite file in the data directory. Each record is a JSON body plus
//! the few columns queries filter or order on. Calls run inline under a mutex: each is a
//! single-row statement taking microseconds, cheaper than a hop to a blocking thread.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

use super::*;
use serde::Serialize;

pub struct SqliteStore {
    conn: Mutex<rusqlite::Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS integrations (key TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS connections (
  integration TEXT NOT NULL, connection_id TEXT NOT NULL, created_ns INTEGER NOT NULL,
  end_user_id TEXT, version INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (integration, connection_id));
CREATE TABLE IF NOT EXISTS oauth_sessions (state TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activity (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, ts_ns INTEGER NOT NULL, integration TEXT,
  connection_id TEXT, attempt_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activity_by_connection ON activity (connection_id, ts_ns);
CREATE TABLE IF NOT EXISTS connect_sessions (token_hash TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS auth_results (nonce_hash TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
";

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn from_json<T: serde::de::DeserializeOwned>(body: &str) -> StoreResult<T> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn nanos(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

fn end_user_id(record: &ConnectionRecord) -> Option<String> {
    record.end_user.as_ref()?.get("id")?.as_str().map(str::to_owned)
}

fn expires_ns(record: &ConnectionRecord) -> Option<i64> {
    record.expires_at.map(nanos)
}

/// The refresh columns (due time, lease) came after the first schema: add them to older files
/// and fill `expires_ns` from the bodies.
fn migrate_refresh_columns(conn: &rusqlite::Connection) -> StoreResult<()> {
    let present: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('connections') WHERE name = 'expires_ns'",
            [],
            |r| r.get(0),
        )
        .map_err(unavailable)?;
    if present == 0 {
        conn.execute_batch(
            "ALTER TABLE connections ADD COLUMN expires_ns INTEGER;
             ALTER TABLE connections ADD COLUMN lease_owner TEXT;
             ALTER TABLE connections ADD COLUMN lease_until_ns INTEGER;",
        )
        .map_err(unavailable)?;
        let rows: Vec<(String, String, String)> = {
            let mut stmt = conn
                .prepare("SELECT integration, connection_id, body FROM connections")
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)?
        };
        for (integration, id, body) in rows {
            let record: ConnectionRecord = from_json(&body)?;
            conn.execute(
                "UPDATE connections SET expires_ns = ?3 WHERE integration = ?1 AND connection_id = ?2",
                params![integration, id, expires_ns(&record)],
            )
            .map_err(unavailable)?;
        }
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS connections_due ON connections (expires_ns) WHERE expires_ns IS NOT NULL;",
    )
    .map_err(unavailable)?;
    Ok(())
}

impl SqliteStore {
    pub fn open(path: &Path) -> StoreResult<Self> {
        let conn = rusqlite::Connection::open(path).map_err(unavailable)?;
        Self::init(conn)
    }

    pub fn in_memory() -> StoreResult<Self> {
        Self::init(rusqlite::Connection::open_in_memory().map_err(unavailable)?)
    }

    fn init(conn: rusqlite::Connection) -> StoreResult<Self> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        migrate_refresh_columns(&conn)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut rusqlite::Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()> {
        self.with(|c| {
            let n = c
                .execute(
                    "INSERT INTO integrations (key, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![record.key.as_str(), to_json(record)],
                )
                .map_err(unavailable)?;
            if n == 0 {
                Err(StoreError::Conflict)
            } else {
                Ok(())
            }
        })
    }

    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool> {
        self.with(|c| {
            let n = c
                .execute(
                    "UPDATE integrations SET body = ?2 WHERE key = ?1",
                    params![record.key.as_str(), to_json(record)],
                )
                .map_err(unavailable)?;
            Ok(n == 1)
        })
    }

    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>> {
        self.with(|c| {
            let body: Option<String> = c
                .query_row("SELECT body FROM integrations WHERE key = ?1", [key.as_str()], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(unavailable)?;
            body.map(|b| from_json(&b)).transpose()
        })
    }

    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>> {
        self.with(|c| {
            let mut stmt = c
                .prepare("SELECT body FROM integrations ORDER BY key")
                .map_err(unavailable)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(unavailable)?;
            rows.map(|b| from_json(&b.map_err(unavailable)?)).collect()
        })
    }

    async fn delete_integration(&self, key: &IntegrationKey) -> StoreResult<bool> {
        self.with(|c| {
            let tx = c.transaction().map_err(unavailable)?;
            let n = tx
                .execute("DELETE FROM integrations WHERE key = ?1", [key.as_str()])
                .map_err(unavailable)?;
            tx.execute("DELETE FROM connections WHERE integration = ?1", [key.as_str()])
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(n == 1)
        })
    }
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)> {
        self.with(|c| {
            let tx = c.transaction().map_err(unavailable)?;
            let existing: Option<String> = tx
                .query_row(
                    "SELECT body FROM connections WHERE integration = ?1 AND connection_id = ?2",
                    [record.integration.as_str(), record.connection_id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            let (record, outcome) = match existing {
                Some(body) => {
                    let old: ConnectionRecord = from_json(&body)?;
                    (record.clone().replacing(&old), Upsert::Replaced)
                }
                None => {
                    let mut record = record.clone();
                    record.version = 1;
                    (record, Upsert::Created)
                }
            };
            tx.execute(
                "INSERT INTO connections (integration, connection_id, created_ns, end_user_id, version, body, expires_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (integration, connection_id) DO UPDATE SET created_ns = excluded.created_ns,
                   end_user_id = excluded.end_user_id, version = excluded.version, body = excluded.body,
                   expires_ns = excluded.expires_ns",
                params![
                    record.integration.as_str(),
                    record.connection_id.as_str(),
                    nanos(record.created_at),
                    end_user_id(&record),
                    record.version as i64,
                    to_json(&record),
                    expires_ns(&record)
                ],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok((outcome, record.version))
        })
    }

    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()> {
        self.with(|c| {
            let mut record = record.clone();
            record.version = expected_version + 1;
            let n = c
                .execute(
                    "UPDATE connections SET body = ?3, version = ?4, end_user_id = ?5, expires_ns = ?7
                     WHERE integration = ?1 AND connection_id = ?2 AND version = ?6",
                    params![
                        record.integration.as_str(),
                        record.connection_id.as_str(),
                        to_json(&record),
                        record.version as i64,
                        end_user_id(&record),
                        expected_version as i64,
                        expires_ns(&record)
                    ],
                )
                .map_err(unavailable)?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict)
            }
        })
    }

    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.with(|c| {
            let body: Option<String> = c
                .prepare_cached("SELECT body FROM connections WHERE integration = ?1 AND connection_id = ?2")
                .and_then(|mut s| {
                    s.query_row([integration.as_str(), connection_id.as_str()], |r| r.get(0))
                        .optional()
                })
                .map_err(unavailable)?;
            body.map(|b| from_json(&b)).transpose()
        })
    }

    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionRecord>> {
        self.with(|c| {
            let mut sql = String::from("SELECT body FROM connections WHERE 1 = 1");
            let mut args: Vec<String> = Vec::new();
            if !filter.integrations.is_empty() {
                let marks: Vec<String> = filter
                    .integrations
                    .iter()
                    .enumerate()
                    .map(|(i, _)| format!("?{}", args.len() + i + 1))
                    .collect();
                sql.push_str(&format!(" AND integration IN ({})", marks.join(",")));
                args.extend(filter.integrations.iter().map(|k| k.as_str().to_owned()));
            }
            if let Some(id) = &filter.connection_id {
                args.push(id.as_str().to_owned());
                sql.push_str(&format!(" AND connection_id = ?{}", args.len()));
            }
            if let Some(user) = &filter.end_user_id {
                args.push(user.clone());
                sql.push_str(&format!(" AND end_user_id = ?{}", args.len()));
            }
            if let Some(search) = &filter.search {
                let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                args.push(format!("%{escaped}%"));
                sql.push_str(&format!(" AND connection_id LIKE ?{} ESCAPE '\\'", args.len()));
            }
            sql.push_str(&format!(
                " ORDER BY created_ns DESC, connection_id LIMIT {} OFFSET {}",
                filter.limit, filter.offset
            ));
            let mut stmt = c.prepare(&sql).map_err(unavailable)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|b| from_json(&b.map_err(unavailable)?)).collect()
        })
    }

    async fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool> {
        self.with(|c| {
            let n = c
                .execute(
                    "DELETE FROM connections WHERE integration = ?1 AND connection_id = ?2",
                    [integration.as_str(), connection_id.as_str()],
                )
                .map_err(unavailable)?;
            Ok(n == 1)
        })
    }

    async fn acquire_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.with(|c| {
            let n = c
                .execute(
                    "UPDATE connections SET lease_owner = ?3, lease_until_ns = ?4
                     WHERE integration = ?1 AND connection_id = ?2
                       AND (lease_until_ns IS NULL OR lease_until_ns <= ?5)",
                    params![
                        integration.as_str(),
                        connection_id.as_str(),
                        owner,
                        nanos(until),
                        nanos(now)
                    ],
                )
                .map_err(unavailable)?;
            Ok(n == 1)
        })
    }

    async fn release_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE connections SET lease_owner = NULL, lease_until_ns = NULL
                 WHERE integration = ?1 AND connection_id = ?2 AND lease_owner = ?3",
                params![integration.as_str(), connection_id.as_str(), owner],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn due_connections(&self, before: OffsetDateTime, limit: usize) -> StoreResult<Vec<ConnectionRecord>> {
        self.with(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT body FROM connections WHERE expires_ns IS NOT NULL AND expires_ns < ?1
                     ORDER BY expires_ns LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![nanos(before), limit as i64], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|b| from_json(&b.map_err(unavailable)?)).collect()
        })
    }
}

#[async_trait]
impl FlowSessionStore for SqliteStore {
    async fn put_oauth_session(&self, session: &OAuthSession) -> StoreResult<()> {
        self.with(|c| {
            let n = c
                .execute(
                    "INSERT INTO oauth_sessions (state, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![session.state.expose(), to_json(session)],
                )
                .map_err(unavailable)?;
            if n == 0 {
                Err(StoreError::Conflict)
            } else {
                Ok(())
            }
        })
    }

    async fn take_oauth_session(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        self.with(|c| {
            let body: Option<String> = c
                .query_row(
                    "DELETE FROM oauth_sessions WHERE state = ?1 RETURNING body",
                    [state],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            body.map(|b| from_json(&b)).transpose()
        })
    }

    async fn put_connect_session(&self, session: &ConnectSession) -> StoreResult<()> {
        self.with(|c| {
            let n = c
                .execute(
                    "INSERT INTO connect_sessions (token_hash, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![session.token_hash, to_json(session)],
                )
                .map_err(unavailable)?;
            if n == 0 {
                Err(StoreError::Conflict)
            } else {
                Ok(())
            }
        })
    }

    async fn get_connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>> {
        self.with(|c| {
            let body: Option<String> = c
                .query_row(
                    "SELECT body FROM connect_sessions WHERE token_hash = ?1",
                    [token_hash],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            body.map(|b| from_json(&b)).transpose()
        })
    }

    async fn put_auth_result(&self, result: &AuthResult) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO auth_results (nonce_hash, body) VALUES (?1, ?2)",
                params![result.nonce_hash, to_json(result)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn take_auth_result(&self, nonce_hash: &str) -> StoreResult<Option<AuthResult>> {
        self.with(|c| {
            let body: Option<String> = c
                .query_row(
                    "DELETE FROM auth_results WHERE nonce_hash = ?1 RETURNING body",
                    [nonce_hash],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            body.map(|b| from_json(&b)).transpose()
        })
    }
}

#[async_trait]
impl ActivityStore for SqliteStore {
    async fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO activity (ts_ns, integration, connection_id, attempt_id, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![nanos(entry.timestamp), entry.integration, entry.connection_id, entry.attempt_id, to_json(entry)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        self.with(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT body FROM activity
                     WHERE (?1 IS NULL OR integration = ?1) AND (?2 IS NULL OR connection_id = ?2)
                       AND (?3 IS NULL OR attempt_id = ?3)
                     ORDER BY ts_ns DESC, seq DESC LIMIT ?4",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(
                    params![
                        filter.integration,
                        filter.connection_id,
                        filter.attempt_id,
                        filter.limit as i64
                    ],
                    |r| r.get::<_, String>(0),
                )
                .map_err(unavailable)?;
            rows.map(|b| from_json(&b.map_err(unavailable)?)).collect()
        })
    }
}

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn get_settings(&self) -> StoreResult<EnvironmentSettings> {
        self.with(|c| {
            let body: Option<String> = c
                .query_row("SELECT body FROM settings WHERE id = 1", [], |r| r.get(0))
                .optional()
                .map_err(unavailable)?;
            Ok(body.map(|b| from_json(&b)).transpose()?.unwrap_or_default())
        })
    }

    async fn put_settings(&self, settings: &EnvironmentSettings) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO settings (id, body) VALUES (1, ?1)",
                [to_json(settings)],
            )
            .map_err(unavailable)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn sqlite_store_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open(&dir.path().join("t.sqlite3")).unwrap();
        super::super::conformance::run_all(&store).await;
    }
}
