//! Databases written by earlier builds open, upgrade in place and keep every row; a database
//! from a newer build is refused untouched.

use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::json;
use time::Duration;

use super::{FIRST_TABLES, MIGRATIONS, SCHEMA_VERSION};
use crate::domain::{ConnectionId, IntegrationKey, OAuthState, PkceVerifier};
use crate::store::conformance::{connection, integration};
use crate::store::sqlite::SqliteStore;
use crate::store::*;

/// What the later unversioned builds added to it (still `user_version` 0).
const REFRESH_COLUMNS: &str = "
ALTER TABLE connections ADD COLUMN expires_ns INTEGER;
ALTER TABLE connections ADD COLUMN lease_owner TEXT;
ALTER TABLE connections ADD COLUMN lease_until_ns INTEGER;
CREATE INDEX IF NOT EXISTS connections_due ON connections (expires_ns) WHERE expires_ns IS NOT NULL;
";

/// One record of every kind, as an old build stored them.
struct Rows {
    integration: IntegrationRecord,
    connection: ConnectionRecord,
    session: OAuthSession,
    connect: ConnectSession,
    result: AuthResult,
    activity: ActivityEntry,
    settings: EnvironmentSettings,
}

fn rows() -> Rows {
    let mut connection = connection("old-int", "old-conn");
    connection.version = 3;
    // Secret config fields came with schema version 6.
    connection.secret_config = None;
    let now = connection.created_at;
    Rows {
        integration: integration("old-int"),
        session: OAuthSession {
            state: OAuthState::new("old-state"),
            integration: IntegrationKey::parse("old-int").unwrap(),
            connection_id: ConnectionId::parse("old-conn").unwrap(),
            code_verifier: Some(PkceVerifier::new("old-verifier")),
            kept: None,
            redirect_uri: "http://127.0.0.1/oauth/callback".into(),
            connection_config: Default::default(),
            secret_config: None,
            vouched_config: Default::default(),
            origin: None,
            attempt_id: "old-attempt".into(),
            created_at: now,
            expires_at: now + Duration::minutes(10),
            result_nonce_hash: None,
            end_user: None,
            may_replace: false,
            webhook_url_override: None,
            socket_hash: None,
        },
        connect: ConnectSession {
            token_hash: "aa".repeat(32),
            end_user: json!({"id": "u1"}),
            organization: None,
            allowed_integrations: None,
            integrations_config_defaults: Default::default(),
            reconnect: None,
            webhook_url_override: None,
            created_at: now,
            expires_at: now + Duration::minutes(30),
        },
        result: AuthResult {
            nonce_hash: "bb".repeat(32),
            body: json!({"status": "success"}),
            expires_at: now + Duration::minutes(5),
        },
        activity: ActivityEntry {
            id: "old-act".into(),
            attempt_id: "old-attempt".into(),
            timestamp: now,
            operation: "auth".into(),
            event: "stored".into(),
            level: ActivityLevel::Info,
            integration: Some("old-int".into()),
            connection_id: Some("old-conn".into()),
            message: "stored".into(),
            error_code: None,
        },
        settings: EnvironmentSettings {
            hmac_enabled: true,
            allowed_origins: vec!["https://app.example.com".into()],
            ..Default::default()
        },
        connection,
    }
}

fn body<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

/// A connection's body as the builds before schema version 3 wrote it: the sealed credentials
/// inside, no `has_refresh_token`.
fn old_connection_body(c: &ConnectionRecord) -> String {
    let mut value = serde_json::to_value(c).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("has_refresh_token");
    object.insert("credentials".into(), serde_json::to_value(&c.credentials).unwrap());
    value.to_string()
}

/// A database file as an old build left it: the first schema (plus the refresh columns when
/// `with_refresh_columns`), `user_version` = `version`, one row in every table.
fn old_database(path: &Path, version: i64, with_refresh_columns: bool, r: &Rows) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(FIRST_TABLES).unwrap();
    if with_refresh_columns {
        c.execute_batch(REFRESH_COLUMNS).unwrap();
    }
    c.execute(
        "INSERT INTO integrations (key, body) VALUES (?1, ?2)",
        params![r.integration.key.as_str(), body(&r.integration)],
    )
    .unwrap();
    c.execute(
        "INSERT INTO connections (integration, connection_id, created_ns, end_user_id, version, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            r.connection.integration.as_str(),
            r.connection.connection_id.as_str(),
            super::super::nanos(r.connection.created_at),
            "user-of-old-conn",
            r.connection.version as i64,
            old_connection_body(&r.connection)
        ],
    )
    .unwrap();
    if with_refresh_columns {
        c.execute(
            "UPDATE connections SET expires_ns = ?1, lease_owner = 'old-worker', lease_until_ns = ?2",
            params![
                super::super::nanos(r.connection.expires_at.unwrap()),
                super::super::nanos(r.connection.created_at + Duration::days(1))
            ],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO oauth_sessions (state, body) VALUES (?1, ?2)",
        params![r.session.state.expose(), body(&r.session)],
    )
    .unwrap();
    c.execute(
        "INSERT INTO connect_sessions (token_hash, body) VALUES (?1, ?2)",
        params![r.connect.token_hash, body(&r.connect)],
    )
    .unwrap();
    c.execute(
        "INSERT INTO auth_results (nonce_hash, body) VALUES (?1, ?2)",
        params![r.result.nonce_hash, body(&r.result)],
    )
    .unwrap();
    c.execute(
        "INSERT INTO activity (ts_ns, integration, connection_id, attempt_id, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            super::super::nanos(r.activity.timestamp),
            r.activity.integration,
            r.activity.connection_id,
            r.activity.attempt_id,
            body(&r.activity)
        ],
    )
    .unwrap();
    c.execute("INSERT INTO settings (id, body) VALUES (1, ?1)", [body(&r.settings)])
        .unwrap();
    c.pragma_update(None, "user_version", version).unwrap();
}

fn version_of(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

/// Every row of `old_database` reads back through the store, and the connection is on the
/// refresh index.
async fn assert_rows_kept(store: &SqliteStore, r: &Rows) {
    let c = &r.connection;
    let integration = store.get_integration(&r.integration.key).await.unwrap().unwrap();
    assert!(!integration.generation.is_empty(), "the integration got a generation");
    assert_eq!(
        integration,
        IntegrationRecord {
            generation: integration.generation.clone(),
            ..r.integration.clone()
        }
    );
    assert_eq!(
        store
            .get_connection(&c.integration, &c.connection_id)
            .await
            .unwrap()
            .as_ref(),
        Some(c)
    );
    let by_user = ConnectionFilter {
        end_user_id: Some("user-of-old-conn".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.list_connections(&by_user).await.unwrap().len(), 1);
    let keepalive = c.last_fetched_at + crate::refresh_policy::RefreshPolicy::default().keepalive;
    let due = store
        .due_connections(0, keepalive + Duration::seconds(1), 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|d| &d.connection_id).collect::<Vec<_>>(),
        [&c.connection_id],
        "the refresh schedule is computed from the body"
    );
    assert!(store.due_connections(0, keepalive, 10).await.unwrap().is_empty());
    assert_eq!(
        store.get_connect_session(&r.connect.token_hash).await.unwrap().as_ref(),
        Some(&r.connect)
    );
    assert_eq!(
        store.take_oauth_session("old-state").await.unwrap().as_ref(),
        Some(&r.session)
    );
    assert_eq!(
        store.take_auth_result(&r.result.nonce_hash).await.unwrap().as_ref(),
        Some(&r.result)
    );
    let activity = ActivityFilter {
        connection_id: Some("old-conn".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        store.list_activity(&activity).await.unwrap(),
        std::slice::from_ref(&r.activity)
    );
    assert_eq!(store.get_settings().await.unwrap(), r.settings);
}

/// Opens an `old_database` at `version` with this build: it is upgraded to `SCHEMA_VERSION`
/// and every row reads back. Returns the store and the rows (and the directory that holds them).
async fn upgraded(version: i64, with_refresh_columns: bool) -> (tempfile::TempDir, SqliteStore, Rows) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    let r = rows();
    old_database(&path, version, with_refresh_columns, &r);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(version_of(&path), SCHEMA_VERSION as i64);
    assert_rows_kept(&store, &r).await;
    (dir, store, r)
}

/// Whether worker `w1` can take the lease of the old connection now.
async fn lease_is_free(store: &SqliteStore, c: &ConnectionRecord) -> bool {
    let now = c.created_at;
    store
        .acquire_refresh_lease(&c.integration, &c.connection_id, "w1", now, now + Duration::seconds(30))
        .await
        .unwrap()
}

#[tokio::test]
async fn upgraded_credentials_live_apart_from_the_body() {
    let (dir, _store, r) = upgraded(2, true).await;
    let c = Connection::open(dir.path().join("old.sqlite3")).unwrap();
    let (body, sealed): (String, Vec<u8>) = c
        .query_row("SELECT body, credentials FROM connections", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert!(!body.contains("credentials"), "{body}");
    assert_eq!(sealed, r.connection.credentials.0);
}

#[tokio::test]
async fn a_first_release_database_at_version_0_is_upgraded_without_losing_rows() {
    let (_dir, store, r) = upgraded(0, false).await;
    // The upgraded table takes new writes, and leases work.
    let mut c = r.connection.clone();
    c.credentials = Sealed(vec![4; 40]);
    store.update_connection(&c, 3).await.unwrap();
    assert!(lease_is_free(&store, &c).await);
}

#[tokio::test]
async fn an_unversioned_database_with_refresh_columns_keeps_its_rows_and_leases() {
    let (_dir, store, r) = upgraded(0, true).await;
    assert!(
        !lease_is_free(&store, &r.connection).await,
        "the old worker's lease is kept"
    );
}

#[tokio::test]
async fn a_version_1_database_gets_the_later_migrations_only() {
    let (_dir, store, r) = upgraded(1, false).await;
    assert!(lease_is_free(&store, &r.connection).await);
}

/// A file of the build with console sessions and sockets (schema version 5, before nonces and
/// row expiry) gets the last migration only: its sessions keep working and get their expiry
/// column, and its console sessions are purged with the rest once they expire.
#[tokio::test]
async fn a_version_5_database_gets_the_nonces_and_row_expiry_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.sqlite3");
    let r = rows();
    {
        let c = Connection::open(&path).unwrap();
        for (version, migration) in MIGRATIONS[..5].iter().enumerate() {
            (migration.apply)(&c).unwrap();
            c.pragma_update(None, "user_version", version as i64 + 1).unwrap();
        }
        c.execute(
            "INSERT INTO oauth_sessions (state, body) VALUES (?1, ?2)",
            params![r.session.state.expose(), body(&r.session)],
        )
        .unwrap();
        let console = ConsoleSession {
            token_hash: "old-console".into(),
            key_fingerprint: "f".into(),
            created_at: r.session.created_at,
            expires_at: r.session.expires_at,
        };
        c.execute(
            "INSERT INTO console_sessions (token_hash, expires_ns, body) VALUES (?1, ?2, ?3)",
            params![
                console.token_hash,
                super::super::nanos(console.expires_at),
                body(&console)
            ],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(version_of(&path), SCHEMA_VERSION as i64);
    assert!(store.get_console_session("old-console").await.unwrap().is_some());
    let c = Connection::open(&path).unwrap();
    let expires: i64 = c
        .query_row("SELECT expires_ns FROM oauth_sessions", [], |row| row.get(0))
        .unwrap();
    assert_eq!(expires, super::super::nanos(r.session.expires_at));
    let after = r.session.expires_at + EXPIRED_ROWS_KEPT + Duration::seconds(1);
    store
        .purge_expired(after, EXPIRED_ROWS_KEPT, after - Duration::days(30))
        .unwrap();
    assert!(store.get_console_session("old-console").await.unwrap().is_none());
    assert!(store
        .take_oauth_session(r.session.state.expose())
        .await
        .unwrap()
        .is_none());
}

/// Tables, columns and indexes as `sqlite_master` and `pragma_table_info` list them.
fn schema_of(path: &Path) -> Vec<String> {
    let c = Connection::open(path).unwrap();
    let mut stmt = c
        .prepare(
            "SELECT m.type || ' ' || m.name || ' ' || COALESCE(p.name || ':' || p.type || ':' || p.pk, '')
             FROM sqlite_master m LEFT JOIN pragma_table_info(m.name) p ON m.type = 'table'
             WHERE m.name NOT LIKE 'sqlite_%' ORDER BY 1",
        )
        .unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn an_upgraded_database_has_the_schema_of_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.sqlite3"), dir.path().join("new.sqlite3"));
    old_database(&old, 0, false, &rows());
    drop(SqliteStore::open(&old).unwrap());
    drop(SqliteStore::open(&new).unwrap());
    let schema = schema_of(&new);
    assert!(schema.iter().any(|l| l.contains("lease_until_ns")), "{schema:?}");
    assert_eq!(schema_of(&old), schema);
}

#[tokio::test]
async fn reopening_applies_nothing_and_keeps_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite3");
    let rec = integration("kept");
    let first = SqliteStore::open(&path).unwrap();
    first.create_integration(&rec).await.unwrap();
    let written = first.get_integration(&rec.key).await.unwrap();
    drop(first);
    assert_eq!(version_of(&path), SCHEMA_VERSION as i64);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(version_of(&path), SCHEMA_VERSION as i64);
    assert_eq!(again.get_integration(&rec.key).await.unwrap(), written);
}

#[test]
fn processes_opening_one_new_file_together_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || SqliteStore::open(&path).map(drop))
        })
        .collect();
    for open in opens {
        open.join().unwrap().unwrap();
    }
    assert_eq!(version_of(&path), SCHEMA_VERSION as i64);
}

#[test]
fn a_database_newer_than_this_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.sqlite3");
    let newer = SCHEMA_VERSION as i64 + 1;
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE from_the_future (x TEXT);").unwrap();
        c.pragma_update(None, "user_version", newer).unwrap();
    }
    let Err(StoreError::Unavailable(message)) = SqliteStore::open(&path) else {
        panic!("a newer database must be refused");
    };
    assert!(
        message.contains(&format!(
            "schema version {newer}, newer than this build of Latchkey knows ({SCHEMA_VERSION})"
        )),
        "{message}"
    );
    assert_eq!(version_of(&path), newer);
    assert_eq!(schema_of(&path), ["table from_the_future x:TEXT:0"]);
    let journal: String = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "delete", "not even switched to WAL");
}
