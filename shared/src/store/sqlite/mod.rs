//! The embedded store: one SQLite file in the data directory. Each record is a JSON body plus
//! the few columns queries filter or order on. Calls run inline under a mutex: each is a
//! single-row statement taking microseconds, cheaper than a hop to a blocking thread.
//!
//! - `migrations.rs`: the schema, as an ordered list of migrations applied at open.
//! - this file: opening, and the statements every domain uses — `one`, `all`, `insert_new`,
//!   `execute` — each written once.
//! - one file per domain trait: `integrations.rs`, `connections.rs`, `flow_sessions.rs`,
//!   `activity.rs`, `settings.rs`, and `queue.rs` (the local job queue).
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

impl SqliteStore {
    /// Opens (or creates) the database and brings its schema up to date; refuses a database
    /// whose schema is newer than this build knows.
    pub fn open(path: &Path) -> StoreResult<Self> {
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

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn sqlite_store_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = super::SqliteStore::open(&dir.path().join("t.sqlite3")).unwrap();
        crate::store::conformance::run_all(&store).await;
        crate::store::conformance::queue::run(&store).await;
    }
}
