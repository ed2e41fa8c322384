//! The local job queue: table `jobs`. A claim makes a job invisible for its lease and counts an
//! attempt, as an SQS receive does; a job whose claimer died becomes claimable again when the
//! lease ends. Dead jobs stay in the table (`dead = 1`) for the operator.

use async_trait::async_trait;
use rusqlite::params;
use time::OffsetDateTime;

use super::{execute, nanos, unavailable, write_transaction, SqliteStore};
use crate::store::{QueueStore, QueuedJob, StoreResult};

fn job_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedJob> {
    let visible: i64 = r.get(3)?;
    Ok(QueuedJob {
        id: r.get(0)?,
        body: r.get(1)?,
        attempts: r.get(2)?,
        visible_at: OffsetDateTime::from_unix_timestamp_nanos(visible.into()).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        claim: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        last_error: r.get(5)?,
    })
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn push_jobs(&self, jobs: &[(String, String)], visible_at: OffsetDateTime) -> StoreResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        self.with(|c| {
            // One transaction, the order read once under its write lock.
            let tx = write_transaction(c)?;
            let last: i64 = tx
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM jobs", [], |r| r.get(0))
                .map_err(unavailable)?;
            for (n, (id, body)) in jobs.iter().enumerate() {
                execute(
                    &tx,
                    "INSERT INTO jobs (id, body, visible_ns, seq) VALUES (?1, ?2, ?3, ?4)",
                    params![id, body, nanos(visible_at), last + 1 + n as i64],
                )?;
            }
            tx.commit().map_err(unavailable)
        })
    }

    async fn claim_jobs(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: usize,
    ) -> StoreResult<Vec<QueuedJob>> {
        self.with(|c| {
            // One statement under the store's lock: each job is claimed once.
            let mut stmt = c
                .prepare_cached(
                    "UPDATE jobs SET visible_ns = ?2, attempts = attempts + 1, claim = lower(hex(randomblob(16)))
                     WHERE id IN (SELECT id FROM jobs WHERE dead = 0 AND visible_ns <= ?1
                                  ORDER BY visible_ns, seq LIMIT ?3)
                     RETURNING id, body, attempts, visible_ns, claim, last_error, seq",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![nanos(now), nanos(now + lease), limit as i64], |r| {
                    Ok((r.get::<_, i64>(6)?, job_of(r)?))
                })
                .map_err(unavailable)?;
            let mut jobs: Vec<(i64, QueuedJob)> = rows.collect::<Result<_, _>>().map_err(unavailable)?;
            jobs.sort_by_key(|(seq, _)| *seq);
            Ok(jobs.into_iter().map(|(_, job)| job).collect())
        })
    }

    async fn finish_job(&self, id: &str, claim: &str) -> StoreResult<()> {
        self.with(|c| execute(c, "DELETE FROM jobs WHERE id = ?1 AND claim = ?2", [id, claim]).map(drop))
    }

    async fn retry_job(&self, id: &str, claim: &str, visible_at: OffsetDateTime, error: &str) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "UPDATE jobs SET visible_ns = ?3, last_error = ?4, claim = NULL WHERE id = ?1 AND claim = ?2",
                params![id, claim, nanos(visible_at), error],
            )
            .map(drop)
        })
    }

    async fn bury_job(&self, id: &str, claim: &str, error: &str) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "UPDATE jobs SET dead = 1, last_error = ?3, claim = NULL WHERE id = ?1 AND claim = ?2",
                params![id, claim, error],
            )
            .map(drop)
        })
    }

    async fn dead_jobs(&self, limit: usize) -> StoreResult<Vec<QueuedJob>> {
        self.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, body, attempts, visible_ns, claim, last_error FROM jobs
                     WHERE dead = 1 ORDER BY seq LIMIT ?1",
                )
                .map_err(unavailable)?;
            let rows = stmt.query_map([limit as i64], job_of).map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
    }
}
