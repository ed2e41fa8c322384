//! The embedded store: one SQLite file in the data directory. Each record is a JSON body plus
//! the few columns queries filter or order on. Calls run inline under a mutex: each is a
//! single-row statement taking microseconds, cheaper than a hop to a blocking thread.
//!
//! - `migrations.rs`: the schema, as an ordered list of migrations applied at open.
//! - this file: opening, and the statements every domain uses — `one`, `all`, `insert_new`,
//!   `execute` — each written once.
//! - one file per domain trait: `integrations.rs`, `connections.rs`, `flow_sessions.rs`,
//!   `activity.rs`, `settings.rs`, `nonces.rs`, and `queue.rs` (the local job queue).
//!
//! Everything is one partition: the refresh index and every purge have a single shard.
//!
//! Several processes may open one file (WAL journal, a busy timeout, and read-then-write
//! transactions that take the write lock first), so two `latchkey serve` on one data
//! directory share the store as Lambda instances share the table: conditional writes decide.

mod activity;
mod connections;
mod flow_sessions;
mod integrations;
mod migrations;
mod nonces;
mod queue;
mod settings;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Params};
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use super::{StoreError, StoreResult};
use crate::refresh_policy::RefreshPolicy;
pub use migrations::SCHEMA_VERSION;

/// How long a statement waits for another process's write to the same file.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// What the refresh schedule (`refresh_ns`) of each written connection is computed with.
    policy: RefreshPolicy,
}

/// A fresh integration generation.
fn new_generation() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn from_json<T: DeserializeOwned>(body: &str) -> StoreResult<T> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn nanos(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

/// The record in the `body` of the one row `sql` returns (a `SELECT`, or a
/// `DELETE … RETURNING body`), if any.
fn one<T: DeserializeOwned>(c: &Connection, sql: &str, params: impl Params) -> StoreResult<Option<T>> {
    let body: Option<String> = c
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row(params, |r| r.get(0)).optional())
        .map_err(unavailable)?;
    body.map(|b| from_json(&b)).transpose()
}

/// The records in the `body` column of every row `sql` selects, in order. (Not cached: some
/// listings build their SQL per filter, and would push the hot single-row reads out.)
fn all<T: DeserializeOwned>(c: &Connection, sql: &str, params: impl Params) -> StoreResult<Vec<T>> {
    let mut stmt = c.prepare(sql).map_err(unavailable)?;
    let rows = stmt.query_map(params, |r| r.get::<_, String>(0)).map_err(unavailable)?;
    rows.map(|b| from_json(&b.map_err(unavailable)?)).collect()
}

/// Runs a statement; returns how many rows it changed.
fn execute(c: &Connection, sql: &str, params: impl Params) -> StoreResult<usize> {
    c.prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map_err(unavailable)
}

/// A transaction that reads and then writes: it takes the write lock at its start
/// (`BEGIN IMMEDIATE`), so another process writing the same file makes it wait (the busy
/// timeout) rather than fail when it upgrades from reading to writing.
fn write_transaction(c: &mut Connection) -> StoreResult<rusqlite::Transaction<'_>> {
    c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(unavailable)
}

/// Runs an `INSERT … ON CONFLICT DO NOTHING`: `Conflict` when the key was taken.
fn insert_new(c: &Connection, sql: &str, params: impl Params) -> StoreResult<()> {
    match execute(c, sql, params)? {
        0 => Err(StoreError::Conflict),
        _ => Ok(()),
    }
}

/// Creates an empty file at `path`, readable and writable by its owner only, unless one exists.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl SqliteStore {
    /// Opens (or creates) the database and brings its schema up to date; refuses a database
    /// whose schema is newer than this build knows. A new file is created owner-only (0600)
    /// before SQLite opens it: SQLite gives the `-wal` and `-shm` files it creates later the
    /// database file's permissions, so they are owner-only too.
    pub fn open(path: &Path) -> StoreResult<Self> {
        create_private(path).map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        let conn = Connection::open(path).map_err(unavailable)?;
        Self::init(conn)
    }

    pub fn in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory().map_err(unavailable)?)
    }

    fn init(mut conn: Connection) -> StoreResult<Self> {
        // Several processes may share the file (two `latchkey serve` on one data directory): a
        // statement that finds it locked waits for the other's write instead of failing.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
        // Migrations first: a file this build refuses is left exactly as it was.
        migrations::migrate(&mut conn)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(unavailable)?;
        Ok(Self {
            conn: Mutex::new(conn),
            policy: RefreshPolicy::default(),
        })
    }

    /// Schedules connection renewals with `policy` (the default policy otherwise).
    pub fn with_refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Deletes what has expired (DynamoDB's TTL does this on AWS): OAuth sessions, connect
    /// sessions, auth results and nonces whose expiry is more than `grace` before `now` (a
    /// caller that finds an expired row still says "expired" for that long), and activity
    /// entries older than `activity_before`. Returns how many rows went.
    pub fn purge_expired(
        &self,
        now: OffsetDateTime,
        grace: time::Duration,
        activity_before: OffsetDateTime,
    ) -> StoreResult<usize> {
        let cutoff = nanos(now - grace);
        self.with(|c| {
            let tx = c.transaction().map_err(unavailable)?;
            let mut removed = 0;
            for table in [
                "oauth_sessions",
                "connect_sessions",
                "auth_results",
                "console_sessions",
                "sockets",
                "nonces",
            ] {
                removed += execute(&tx, &format!("DELETE FROM {table} WHERE expires_ns <= ?1"), [cutoff])?;
            }
            removed += execute(&tx, "DELETE FROM activity WHERE ts_ns < ?1", [nanos(activity_before)])?;
            tx.commit().map_err(unavailable)?;
            Ok(removed)
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::conformance::{activity_entry, connection, integration};
    use crate::store::*;
    use time::{Duration, OffsetDateTime};

    /// Expired short-lived rows and old activity go; live ones, and connections, stay.
    #[tokio::test]
    async fn expired_rows_are_purged_and_live_ones_kept() {
        let store = super::SqliteStore::in_memory().unwrap();
        let now = OffsetDateTime::now_utc();
        let grace = Duration::hours(1);
        let (old, live) = (now - Duration::hours(2), now + Duration::minutes(5));
        for (name, at) in [("old", old), ("live", live)] {
            store
                .put_oauth_session(&OAuthSession {
                    state: crate::domain::OAuthState::new(name),
                    integration: IntegrationKey::parse("i").unwrap(),
                    connection_id: ConnectionId::parse("c").unwrap(),
                    code_verifier: None,
                    kept: None,
                    redirect_uri: "http://x/cb".into(),
                    connection_config: Default::default(),
                    secret_config: None,
                    vouched_config: Default::default(),
                    origin: None,
                    attempt_id: "a".into(),
                    created_at: at - Duration::minutes(10),
                    expires_at: at,
                    result_nonce_hash: None,
                    end_user: None,
                    may_replace: false,
                    webhook_url_override: None,
                    socket_hash: None,
                })
                .await
                .unwrap();
            store
                .put_connect_session(&ConnectSession {
                    token_hash: name.into(),
                    end_user: serde_json::json!({"id": "u"}),
                    organization: None,
                    allowed_integrations: None,
                    integrations_config_defaults: Default::default(),
                    reconnect: None,
                    webhook_url_override: None,
                    created_at: at,
                    expires_at: at,
                })
                .await
                .unwrap();
            store
                .put_auth_result(&AuthResult {
                    nonce_hash: name.into(),
                    body: serde_json::json!({}),
                    expires_at: at,
                })
                .await
                .unwrap();
            assert!(store.claim_nonce(name, at - Duration::seconds(301), at).await.unwrap());
        }
        // Expired, but within the grace: kept (its caller still says "expired").
        let recent = now - Duration::minutes(30);
        store
            .put_auth_result(&AuthResult {
                nonce_hash: "recent".into(),
                body: serde_json::json!({}),
                expires_at: recent,
            })
            .await
            .unwrap();
        for (id, at) in [
            ("old-entry", now - Duration::days(31)),
            ("new-entry", now - Duration::days(1)),
        ] {
            store.append_activity(&activity_entry(id, at)).await.unwrap();
        }
        store.create_integration(&integration("i")).await.unwrap();
        store.upsert_connection(&connection("i", "c")).await.unwrap();

        let removed = store.purge_expired(now, grace, now - Duration::days(30)).unwrap();

        assert_eq!(removed, 5, "one of each short-lived kind, and the old entry");
        assert!(store.take_oauth_session("old").await.unwrap().is_none());
        assert!(store.take_oauth_session("live").await.unwrap().is_some());
        assert!(store.get_connect_session("old").await.unwrap().is_none());
        assert!(store.get_connect_session("live").await.unwrap().is_some());
        assert!(store.take_auth_result("old").await.unwrap().is_none());
        assert!(store.take_auth_result("live").await.unwrap().is_some());
        assert!(store.take_auth_result("recent").await.unwrap().is_some());
        assert!(
            !store.claim_nonce("live", now, live).await.unwrap(),
            "a live nonce stays claimed"
        );
        let filter = ActivityFilter {
            limit: 10,
            ..Default::default()
        };
        let ids: Vec<String> = store
            .list_activity(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["new-entry"]);
        assert!(store
            .get_connection(&IntegrationKey::parse("i").unwrap(), &ConnectionId::parse("c").unwrap())
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn sqlite_store_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open(&dir.path().join("t.sqlite3")).unwrap();
        crate::store::conformance::run_all(&store).await;
        crate::store::conformance::queue::run(&store).await;
    }
}
