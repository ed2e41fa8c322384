//! The schema as its history: an ordered list of migrations, migration `i` taking a database
//! from version `i` to `i + 1`. The version is SQLite's `PRAGMA user_version`; at open each
//! missing migration runs once, in its own transaction together with the version bump, so a
//! crash leaves the database at the last whole version. A database newer than this build is
//! refused: an older Latchkey never writes to a schema it doesn't know.
//!
//! To change the schema, append a migration — never edit one that has shipped.

use rusqlite::{params, Connection};

use super::{all, execute, unavailable};
use crate::store::{ConnectionRecord, StoreError, StoreResult};

struct Migration {
    /// What it does, for errors.
    name: &'static str,
    apply: fn(&Connection) -> StoreResult<()>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "the first tables",
        apply: first_tables,
    },
    Migration {
        name: "refresh columns (due time, lease)",
        apply: refresh_columns,
    },
    Migration {
        name: "generations, credentials apart, the refresh schedule, activity ids, the job queue",
        apply: scale_columns,
    },
    Migration {
        name: "console sessions",
        apply: console_sessions,
    },
    Migration {
        name: "sockets waiting for flow outcomes",
        apply: sockets,
    },
    Migration {
        name: "single-use nonces, the expiry of short-lived rows (purged), secret connection config apart",
        apply: nonces_and_expiry,
    },
];

/// The schema version this build creates and reads.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

// Databases made before versioning are at version 0 whatever they hold (the first tables, with
// or without the refresh columns), so the first two migrations look before they add.

/// The tables of the first release. (Shipped, so frozen: the upgrade tests build the first
/// release's files from it.)
const FIRST_TABLES: &str = "
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

fn first_tables(c: &Connection) -> StoreResult<()> {
    c.execute_batch(FIRST_TABLES).map_err(unavailable)
}

/// The due time (`expires_ns`, filled from each body) and the refresh lease of a connection,
/// and the index the refresh scheduler reads.
fn refresh_columns(c: &Connection) -> StoreResult<()> {
    let present: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('connections') WHERE name = 'expires_ns'",
            [],
            |r| r.get(0),
        )
        .map_err(unavailable)?;
    if present == 0 {
        c.execute_batch(
            "ALTER TABLE connections ADD COLUMN expires_ns INTEGER;
             ALTER TABLE connections ADD COLUMN lease_owner TEXT;
             ALTER TABLE connections ADD COLUMN lease_until_ns INTEGER;",
        )
        .map_err(unavailable)?;
        let records: Vec<ConnectionRecord> = all(c, "SELECT body FROM connections", [])?;
        for record in records {
            execute(
                c,
                "UPDATE connections SET expires_ns = ?3 WHERE integration = ?1 AND connection_id = ?2",
                params![
                    record.integration.as_str(),
                    record.connection_id.as_str(),
                    record.expires_at.map(super::nanos)
                ],
            )?;
        }
    }
    c.execute_batch(
        "CREATE INDEX IF NOT EXISTS connections_due ON connections (expires_ns) WHERE expires_ns IS NOT NULL;",
    )
    .map_err(unavailable)
}

/// Integration generations (a new one per existing integration; each connection joins its
/// integration's), the sealed credentials moved out of the body into their own column, the
/// recorded last read, the refresh schedule (`refresh_ns`, computed with the default
/// `RefreshPolicy`; a configured one applies from each connection's next write) replacing
/// `expires_ns`, activity ids for cursors, and the local job queue.
fn scale_columns(c: &Connection) -> StoreResult<()> {
    c.execute_batch(
        "ALTER TABLE integrations ADD COLUMN generation TEXT;
         ALTER TABLE connections ADD COLUMN generation TEXT;
         ALTER TABLE connections ADD COLUMN credentials BLOB;
         ALTER TABLE connections ADD COLUMN last_read_ns INTEGER;
         ALTER TABLE connections ADD COLUMN refresh_ns INTEGER;
         DROP INDEX IF EXISTS connections_due;
         ALTER TABLE connections DROP COLUMN expires_ns;
         ALTER TABLE activity ADD COLUMN id TEXT;
         CREATE TABLE jobs (
           id TEXT PRIMARY KEY, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
           visible_ns INTEGER NOT NULL, claim TEXT, last_error TEXT, dead INTEGER NOT NULL DEFAULT 0,
           seq INTEGER NOT NULL);",
    )
    .map_err(unavailable)?;
    let keys: Vec<String> = strings(c, "SELECT key FROM integrations")?;
    for key in keys {
        execute(
            c,
            "UPDATE integrations SET generation = ?2 WHERE key = ?1",
            params![key, super::new_generation()],
        )?;
    }
    execute(
        c,
        "UPDATE connections SET generation = (SELECT generation FROM integrations WHERE key = connections.integration)",
        [],
    )?;
    let policy = crate::refresh_policy::RefreshPolicy::default();
    let rows: Vec<(String, String, String)> = {
        let mut stmt = c
            .prepare("SELECT integration, connection_id, body FROM connections")
            .map_err(unavailable)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(unavailable)?;
        rows.collect::<Result<_, _>>().map_err(unavailable)?
    };
    for (integration, connection_id, body) in rows {
        let mut value: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = value
            .as_object_mut()
            .and_then(|o| o.remove("credentials"))
            .map(serde_json::from_value::<crate::store::Sealed>)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .unwrap_or_default();
        let record: ConnectionRecord =
            serde_json::from_value(value.clone()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        execute(
            c,
            "UPDATE connections SET body = ?3, credentials = ?4, refresh_ns = ?5
             WHERE integration = ?1 AND connection_id = ?2",
            params![
                integration,
                connection_id,
                value.to_string(),
                sealed.0,
                super::connections::refresh_ns(&policy, &record)
            ],
        )?;
    }
    let activity: Vec<(i64, String)> = {
        let mut stmt = c.prepare("SELECT seq, body FROM activity").map_err(unavailable)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(unavailable)?;
        rows.collect::<Result<_, _>>().map_err(unavailable)?
    };
    for (seq, body) in activity {
        let entry: crate::store::ActivityEntry =
            serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        execute(c, "UPDATE activity SET id = ?2 WHERE seq = ?1", params![seq, entry.id])?;
    }
    c.execute_batch(
        "CREATE INDEX connections_refresh ON connections (refresh_ns) WHERE refresh_ns IS NOT NULL;
         CREATE INDEX connections_generation ON connections (integration, generation);
         CREATE INDEX activity_by_time ON activity (ts_ns, id);
         CREATE INDEX jobs_ready ON jobs (visible_ns, seq) WHERE dead = 0;",
    )
    .map_err(unavailable)
}

/// The operator console's sessions (token hash, expiry for the purge).
fn console_sessions(c: &Connection) -> StoreResult<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS console_sessions (
           token_hash TEXT PRIMARY KEY, expires_ns INTEGER NOT NULL, body TEXT NOT NULL);",
    )
    .map_err(unavailable)
}

/// The sockets of Nango's frontend client, by the hash of their client id, with their expiry
/// for the purge (as console sessions).
fn sockets(c: &Connection) -> StoreResult<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS sockets (
           client_hash TEXT PRIMARY KEY, expires_ns INTEGER NOT NULL, body TEXT NOT NULL);",
    )
    .map_err(unavailable)
}

fn strings(c: &Connection, sql: &str) -> StoreResult<Vec<String>> {
    let mut stmt = c.prepare(sql).map_err(unavailable)?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

/// The `nonces` table (signed requests are single-use); an `expires_ns` column on the
/// short-lived tables (filled from each body), indexed so expired rows are purged by index (the
/// activity log's purge uses `activity_by_time` of migration 3); and the sealed secret
/// connection-config fields in a column of their own beside `credentials`, so no body holds them
/// (no connection had any before).
fn nonces_and_expiry(c: &Connection) -> StoreResult<()> {
    #[derive(serde::Deserialize)]
    struct Expiring {
        #[serde(with = "time::serde::rfc3339")]
        expires_at: time::OffsetDateTime,
    }
    c.execute_batch(
        "CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires_ns INTEGER NOT NULL);
         CREATE INDEX nonces_by_expiry ON nonces (expires_ns);
         ALTER TABLE connections ADD COLUMN secret_config BLOB;",
    )
    .map_err(unavailable)?;
    for (table, key) in [
        ("oauth_sessions", "state"),
        ("connect_sessions", "token_hash"),
        ("auth_results", "nonce_hash"),
    ] {
        c.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN expires_ns INTEGER;"))
            .map_err(unavailable)?;
        let rows: Vec<(String, String)> = {
            let mut stmt = c
                .prepare(&format!("SELECT {key}, body FROM {table}"))
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)?
        };
        for (id, body) in rows {
            let row: Expiring = super::from_json(&body)?;
            execute(
                c,
                &format!("UPDATE {table} SET expires_ns = ?2 WHERE {key} = ?1"),
                params![id, super::nanos(row.expires_at)],
            )?;
        }
        c.execute_batch(&format!("CREATE INDEX {table}_by_expiry ON {table} (expires_ns);"))
            .map_err(unavailable)?;
    }
    Ok(())
}

fn user_version(c: &Connection) -> StoreResult<usize> {
    let v: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(unavailable)?;
    usize::try_from(v)
        .map_err(|_| StoreError::Unavailable(format!("the database has schema version {v}, which no Latchkey writes")))
}

/// Brings the database to `SCHEMA_VERSION`. Each step takes the write lock first and reads
/// the version under it, so two processes opening one file apply each migration once.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    loop {
        let tx = super::write_transaction(conn)?;
        let version = user_version(&tx)?;
        let Some(migration) = MIGRATIONS.get(version) else {
            if version > SCHEMA_VERSION {
                return Err(StoreError::Unavailable(format!(
                    "the database has schema version {version}, newer than this build of Latchkey \
                     knows ({SCHEMA_VERSION}): run a newer Latchkey on it"
                )));
            }
            return Ok(());
        };
        (migration.apply)(&tx).map_err(|e| {
            StoreError::Unavailable(format!(
                "migrating the database to schema version {} ({}): {e}",
                version + 1,
                migration.name
            ))
        })?;
        tx.pragma_update(None, "user_version", (version + 1) as i64)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
}

#[cfg(test)]
mod tests;
