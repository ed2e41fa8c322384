//! Connections: table `connections`, keyed by (integration, connection_id), with the columns
//! queries use beside the body (`created_ns`, `end_user_id`, `version`, `generation`,
//! `refresh_ns`), the sealed `credentials` and `secret_config`, and what record writes never
//! touch: the refresh lease (`lease_owner`, `lease_until_ns`) and the recorded read
//! (`last_read_ns`, written by `read_connection`; record writes store the value they carry). Only rows of their
//! integration's current generation are read, listed or due: every query joins `integrations`.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use time::OffsetDateTime;

use super::{all, execute, from_json, nanos, to_json, unavailable, write_transaction, SqliteStore};
use crate::domain::{ConnectionId, IntegrationKey};
use crate::refresh_policy::{RefreshFacts, RefreshPolicy};
use crate::store::{
    ConnectionFilter, ConnectionRecord, ConnectionStore, ConnectionSummary, DueConnection, Sealed, StoreError,
    StoreResult, Upsert,
};

fn end_user_id(record: &ConnectionRecord) -> Option<String> {
    record.end_user.as_ref()?.get("id")?.as_str().map(str::to_owned)
}

/// The refresh schedule column: the next proactive renewal, if any.
pub(super) fn refresh_ns(policy: &RefreshPolicy, record: &ConnectionRecord) -> Option<i64> {
    policy.next_proactive(&RefreshFacts::from(record)).map(|p| nanos(p.at))
}

fn from_nanos(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ns.into()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The live generation of an integration; `None` when it does not exist.
pub(super) fn live_generation(c: &Connection, integration: &str) -> StoreResult<Option<String>> {
    c.prepare_cached("SELECT generation FROM integrations WHERE key = ?1")
        .and_then(|mut s| s.query_row([integration], |r| r.get(0)).optional())
        .map_err(unavailable)
}

/// The columns that make a connection row: (body, credentials, secret_config, last_read_ns),
/// selected from `connections c` joined to its live integration `i`.
const ROW: &str = "SELECT c.body, c.credentials, c.secret_config, c.last_read_ns FROM connections c
     JOIN integrations i ON i.key = c.integration AND i.generation = c.generation";

type Row = (String, Option<Vec<u8>>, Option<Vec<u8>>, Option<i64>);

fn record_of(row: Row) -> StoreResult<ConnectionRecord> {
    let (body, credentials, secret_config, last_read) = row;
    let mut record: ConnectionRecord = from_json(&body)?;
    record.credentials = Sealed(credentials.unwrap_or_default());
    record.secret_config = secret_config.map(Sealed);
    record.last_read_at = last_read.map(from_nanos);
    Ok(record)
}

fn live_row(c: &Connection, integration: &str, connection_id: &str) -> StoreResult<Option<ConnectionRecord>> {
    let row = c
        .prepare_cached(&format!("{ROW} WHERE c.integration = ?1 AND c.connection_id = ?2"))
        .and_then(|mut s| {
            s.query_row([integration, connection_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .map_err(unavailable)?;
    row.map(record_of).transpose()
}

impl SqliteStore {
    /// The conditional update of a connection's record (`update_connection`), giving the refresh
    /// lease back too when `release` (`finish_refresh`).
    fn update_row(&self, record: &ConnectionRecord, expected_version: u64, release: bool) -> StoreResult<()> {
        let mut record = record.clone();
        record.version = expected_version + 1;
        let lease = if release {
            ", lease_owner = NULL, lease_until_ns = NULL"
        } else {
            ""
        };
        let n = self.with(|c| {
            execute(
                c,
                &format!(
                    "UPDATE connections SET body = ?3, version = ?4, end_user_id = ?5, credentials = ?7,
                       last_read_ns = ?8, refresh_ns = ?9, secret_config = ?10{lease}
                     WHERE integration = ?1 AND connection_id = ?2 AND version = ?6
                       AND generation = (SELECT generation FROM integrations WHERE key = ?1)"
                ),
                params![
                    record.integration.as_str(),
                    record.connection_id.as_str(),
                    to_json(&record),
                    record.version as i64,
                    end_user_id(&record),
                    expected_version as i64,
                    record.credentials.0,
                    record.last_read_at.map(nanos),
                    refresh_ns(&self.policy, &record),
                    record.secret_config.as_ref().map(|s| &s.0)
                ],
            )
        })?;
        match n {
            1 => Ok(()),
            _ => Err(StoreError::Conflict),
        }
    }

    /// Writes every column of `record` (an insert, or a whole replacement of the row).
    fn write_row(&self, c: &Connection, record: &ConnectionRecord, generation: &str) -> StoreResult<()> {
        execute(
            c,
            "INSERT INTO connections (integration, connection_id, created_ns, end_user_id, version, body,
               generation, credentials, last_read_ns, refresh_ns, secret_config)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (integration, connection_id) DO UPDATE SET created_ns = excluded.created_ns,
               end_user_id = excluded.end_user_id, version = excluded.version, body = excluded.body,
               generation = excluded.generation, credentials = excluded.credentials,
               last_read_ns = excluded.last_read_ns, refresh_ns = excluded.refresh_ns,
               secret_config = excluded.secret_config",
            params![
                record.integration.as_str(),
                record.connection_id.as_str(),
                nanos(record.created_at),
                end_user_id(record),
                record.version as i64,
                to_json(record),
                generation,
                record.credentials.0,
                record.last_read_at.map(nanos),
                refresh_ns(&self.policy, record),
                record.secret_config.as_ref().map(|s| &s.0)
            ],
        )
        .map(drop)
    }
}

/// `record` as a new connection (version 1), with any leftover row of an ended generation
/// removed first: it is replaced whole, lease included.
fn new_row(c: &Connection, record: &ConnectionRecord) -> StoreResult<ConnectionRecord> {
    execute(
        c,
        "DELETE FROM connections WHERE integration = ?1 AND connection_id = ?2",
        [record.integration.as_str(), record.connection_id.as_str()],
    )?;
    let mut record = record.clone();
    record.version = 1;
    Ok(record)
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)> {
        self.with(|c| {
            let tx = write_transaction(c)?;
            let generation = live_generation(&tx, record.integration.as_str())?.ok_or(StoreError::Conflict)?;
            let existing = live_row(&tx, record.integration.as_str(), record.connection_id.as_str())?;
            let (record, outcome) = match existing {
                Some(old) => (record.clone().replacing(&old), Upsert::Replaced),
                None => (new_row(&tx, record)?, Upsert::Created),
            };
            self.write_row(&tx, &record, &generation)?;
            tx.commit().map_err(unavailable)?;
            Ok((outcome, record.version))
        })
    }

    async fn create_connection(&self, record: &ConnectionRecord) -> StoreResult<u64> {
        self.with(|c| {
            // The write lock first: a concurrent creator waits, then finds the row.
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let generation = live_generation(&tx, record.integration.as_str())?.ok_or(StoreError::Conflict)?;
            if live_row(&tx, record.integration.as_str(), record.connection_id.as_str())?.is_some() {
                return Err(StoreError::Conflict);
            }
            let record = new_row(&tx, record)?;
            self.write_row(&tx, &record, &generation)?;
            tx.commit().map_err(unavailable)?;
            Ok(record.version)
        })
    }

    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()> {
        self.update_row(record, expected_version, false)
    }

    async fn finish_refresh(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()> {
        self.update_row(record, expected_version, true)
    }

    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.with(|c| live_row(c, integration.as_str(), connection_id.as_str()))
    }

    async fn read_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        at: OffsetDateTime,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.with(|c| {
            let Some(mut record) = live_row(c, integration.as_str(), connection_id.as_str())? else {
                return Ok(None);
            };
            if self.policy.read_moves_schedule(&RefreshFacts::from(&record), at) {
                let mut read = record.clone();
                read.last_read_at = Some(at);
                let n = execute(
                    c,
                    "UPDATE connections SET last_read_ns = ?3, refresh_ns = ?4
                     WHERE integration = ?1 AND connection_id = ?2 AND version = ?5",
                    params![
                        integration.as_str(),
                        connection_id.as_str(),
                        nanos(at),
                        refresh_ns(&self.policy, &read),
                        record.version as i64
                    ],
                )?;
                if n == 1 {
                    record = read;
                }
            }
            Ok(Some(record))
        })
    }

    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionSummary>> {
        let mut sql = String::from(
            "SELECT c.body FROM connections c
             JOIN integrations i ON i.key = c.integration AND i.generation = c.generation WHERE 1 = 1",
        );
        let mut args: Vec<String> = Vec::new();
        if !filter.integrations.is_empty() {
            let marks: Vec<String> = (1..=filter.integrations.len()).map(|i| format!("?{i}")).collect();
            sql.push_str(&format!(" AND c.integration IN ({})", marks.join(",")));
            args.extend(filter.integrations.iter().map(|k| k.as_str().to_owned()));
        }
        if let Some(id) = &filter.connection_id {
            args.push(id.as_str().to_owned());
            sql.push_str(&format!(" AND c.connection_id = ?{}", args.len()));
        }
        if let Some(user) = &filter.end_user_id {
            args.push(user.clone());
            sql.push_str(&format!(" AND c.end_user_id = ?{}", args.len()));
        }
        if let Some(search) = &filter.search {
            let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            args.push(format!("%{escaped}%"));
            sql.push_str(&format!(" AND c.connection_id LIKE ?{} ESCAPE '\\'", args.len()));
        }
        if filter.with_errors {
            sql.push_str(" AND json_array_length(c.body, '$.errors') > 0");
        }
        sql.push_str(&format!(
            " ORDER BY c.created_ns DESC, c.connection_id LIMIT {} OFFSET {}",
            filter.limit, filter.offset
        ));
        let records: Vec<ConnectionRecord> = self.with(|c| all(c, &sql, rusqlite::params_from_iter(args.iter())))?;
        Ok(records.iter().map(ConnectionRecord::summary).collect())
    }

    async fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool> {
        let n = self.with(|c| {
            execute(
                c,
                "DELETE FROM connections WHERE integration = ?1 AND connection_id = ?2
                   AND generation = (SELECT generation FROM integrations WHERE key = ?1)",
                [integration.as_str(), connection_id.as_str()],
            )
        })?;
        Ok(n == 1)
    }

    async fn acquire_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let n = self.with(|c| {
            execute(
                c,
                "UPDATE connections SET lease_owner = ?3, lease_until_ns = ?4
                 WHERE integration = ?1 AND connection_id = ?2
                   AND generation = (SELECT generation FROM integrations WHERE key = ?1)
                   AND (lease_until_ns IS NULL OR lease_until_ns <= ?5)",
                params![
                    integration.as_str(),
                    connection_id.as_str(),
                    owner,
                    nanos(until),
                    nanos(now)
                ],
            )
        })?;
        Ok(n == 1)
    }

    async fn release_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "UPDATE connections SET lease_owner = NULL, lease_until_ns = NULL
                 WHERE integration = ?1 AND connection_id = ?2 AND lease_owner = ?3",
                params![integration.as_str(), connection_id.as_str(), owner],
            )
            .map(drop)
        })
    }

    fn refresh_shards(&self) -> u32 {
        1
    }

    async fn due_connections(
        &self,
        shard: u32,
        before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<DueConnection>> {
        if shard != 0 {
            return Ok(Vec::new());
        }
        self.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT c.integration, c.connection_id, c.refresh_ns FROM connections c
                     JOIN integrations i ON i.key = c.integration AND i.generation = c.generation
                     WHERE c.refresh_ns IS NOT NULL AND c.refresh_ns < ?1
                     ORDER BY c.refresh_ns, c.integration, c.connection_id LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![nanos(before), limit as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(unavailable)?;
            rows.map(|row| {
                let (integration, connection_id, due) = row.map_err(unavailable)?;
                Ok(DueConnection {
                    integration: IntegrationKey::try_from(integration).map_err(StoreError::Corrupt)?,
                    connection_id: ConnectionId::try_from(connection_id).map_err(StoreError::Corrupt)?,
                    due_at: from_nanos(due),
                })
            })
            .collect()
        })
    }
}
