//! Connections: table `connections`, keyed by (integration, connection_id), with the columns
//! queries use beside the body (`created_ns`, `end_user_id`, `version`, `expires_ns`) and the
//! refresh lease (`lease_owner`, `lease_until_ns`), which record writes never touch.

use async_trait::async_trait;
use rusqlite::params;
use time::OffsetDateTime;

use super::{all, execute, nanos, one, to_json, unavailable, SqliteStore};
use crate::domain::{ConnectionId, IntegrationKey};
use crate::store::{ConnectionFilter, ConnectionRecord, ConnectionStore, StoreError, StoreResult, Upsert};

fn end_user_id(record: &ConnectionRecord) -> Option<String> {
    record.end_user.as_ref()?.get("id")?.as_str().map(str::to_owned)
}

fn expires_ns(record: &ConnectionRecord) -> Option<i64> {
    record.expires_at.map(nanos)
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)> {
        self.with(|c| {
            let tx = c.transaction().map_err(unavailable)?;
            let existing: Option<ConnectionRecord> = one(
                &tx,
                "SELECT body FROM connections WHERE integration = ?1 AND connection_id = ?2",
                [record.integration.as_str(), record.connection_id.as_str()],
            )?;
            let (record, outcome) = match existing {
                Some(old) => (record.clone().replacing(&old), Upsert::Replaced),
                None => {
                    let mut record = record.clone();
                    record.version = 1;
                    (record, Upsert::Created)
                }
            };
            execute(
                &tx,
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
            )?;
            tx.commit().map_err(unavailable)?;
            Ok((outcome, record.version))
        })
    }

    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()> {
        let mut record = record.clone();
        record.version = expected_version + 1;
        let n = self.with(|c| {
            execute(
                c,
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
        })?;
        match n {
            1 => Ok(()),
            _ => Err(StoreError::Conflict),
        }
    }

    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.with(|c| {
            one(
                c,
                "SELECT body FROM connections WHERE integration = ?1 AND connection_id = ?2",
                [integration.as_str(), connection_id.as_str()],
            )
        })
    }

    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionRecord>> {
        let mut sql = String::from("SELECT body FROM connections WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if !filter.integrations.is_empty() {
            let marks: Vec<String> = (1..=filter.integrations.len()).map(|i| format!("?{i}")).collect();
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
        if filter.with_errors {
            sql.push_str(" AND json_array_length(body, '$.errors') > 0");
        }
        sql.push_str(&format!(
            " ORDER BY created_ns DESC, connection_id LIMIT {} OFFSET {}",
            filter.limit, filter.offset
        ));
        self.with(|c| all(c, &sql, rusqlite::params_from_iter(args.iter())))
    }

    async fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool> {
        let n = self.with(|c| {
            execute(
                c,
                "DELETE FROM connections WHERE integration = ?1 AND connection_id = ?2",
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

    async fn due_connections(&self, before: OffsetDateTime, limit: usize) -> StoreResult<Vec<ConnectionRecord>> {
        self.with(|c| {
            all(
                c,
                "SELECT body FROM connections WHERE expires_ns IS NOT NULL AND expires_ns < ?1
                 ORDER BY expires_ns LIMIT ?2",
                params![nanos(before), limit as i64],
            )
        })
    }
}
