//! The refresh scheduler: finds the connections the refresh index says are due
//! (`ConnectionStore::due_connections`, shard by shard, no scan) and fans them out as refresh
//! jobs (`jobs::refresh`) through the job queue. On AWS the `refresh-scheduler` function runs it
//! on an EventBridge schedule (`template.yaml`, `RefreshSchedulePeriod`) with only the store and
//! the queue (it opens no credential); locally `latchkey serve` runs it on a timer.
//!
//! Per provider, one run enqueues at most `RefreshLimits::per_provider_per_run` jobs, soonest
//! due first, and a worker process runs at most `provider_concurrency` of them at once: a wave
//! of connections falling due together (a bulk import, a keepalive cohort) reaches its provider
//! spread over runs, and at most `provider_concurrency` × the worker's concurrency at once. What
//! a run leaves stays due in the index for the next one; a read that needs it meanwhile
//! refreshes it itself.
//!
//! Connections whose refresh failed are not due before their backoff ends (the index holds
//! them off: `refresh_policy::Hold`), so the scheduler skips them without reading them. A
//! connection still queued from the last run may be enqueued again; its job finds it refreshed
//! (or held by the other job's lease) and does nothing.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use time::{Duration, OffsetDateTime};

use super::{Job, JobError, JobQueue, RefreshJob};
use crate::refresh_policy::RefreshLimits;
use crate::store::{DueConnection, Store};
use crate::AppState;

/// Shards of the refresh index read at once.
const SHARDS_AT_ONCE: usize = 8;

/// What one run found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleReport {
    /// Due connections the index returned.
    pub due: usize,
    pub enqueued: usize,
    /// Left for the next run by the per-provider bound.
    pub deferred: usize,
    /// Of an integration that no longer exists (the purge removes them).
    pub orphaned: usize,
}

/// One run at `now`: every shard's due connections, bounded per provider, enqueued.
pub async fn schedule(
    store: &dyn Store,
    queue: &dyn JobQueue,
    now: OffsetDateTime,
    limits: &RefreshLimits,
) -> Result<ScheduleReport, JobError> {
    let providers: HashMap<String, String> = store
        .list_integrations()
        .await?
        .into_iter()
        .map(|i| (i.key.to_string(), i.provider))
        .collect();
    let shards: Vec<Vec<DueConnection>> = futures::stream::iter(0..store.refresh_shards())
        .map(|shard| store.due_connections(shard, now, limits.per_shard_per_run))
        .buffer_unordered(SHARDS_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut due: Vec<DueConnection> = shards.into_iter().flatten().collect();
    due.sort_by(|a, b| (a.due_at, &a.integration, &a.connection_id).cmp(&(b.due_at, &b.integration, &b.connection_id)));
    let mut report = ScheduleReport {
        due: due.len(),
        ..Default::default()
    };
    let mut per_provider: HashMap<&str, usize> = HashMap::new();
    let mut jobs = Vec::new();
    for d in due {
        let Some(provider) = providers.get(d.integration.as_str()) else {
            report.orphaned += 1;
            continue;
        };
        let taken = per_provider.entry(provider.as_str()).or_default();
        if *taken >= limits.per_provider_per_run {
            report.deferred += 1;
            continue;
        }
        *taken += 1;
        jobs.push(Job::RefreshConnection(RefreshJob {
            integration: d.integration,
            connection_id: d.connection_id,
            provider: provider.clone(),
        }));
    }
    queue.enqueue(now, &jobs, Duration::ZERO).await?;
    report.enqueued = jobs.len();
    if report.due > 0 {
        tracing::info!(
            due = report.due,
            enqueued = report.enqueued,
            deferred = report.deferred,
            orphaned = report.orphaned,
            "refresh scheduler run"
        );
    }
    Ok(report)
}

/// One run on the state's store, queue and clock.
pub async fn schedule_now(state: &AppState) -> Result<ScheduleReport, JobError> {
    schedule(
        state.store.as_ref(),
        state.jobs.as_ref(),
        state.clock.now(),
        &state.config.refresh_limits,
    )
    .await
}

/// How often the local stack runs the scheduler: once a minute, or more often when the policy's
/// `lead` (how early hot connections are renewed) is shorter.
pub fn local_period(policy: &crate::refresh_policy::RefreshPolicy) -> std::time::Duration {
    let lead = std::time::Duration::try_from(policy.lead).unwrap_or_default();
    lead.clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(60))
}

/// Runs forever, a run every `period` (the local stack's timer, `local_period`).
pub async fn run_every(state: AppState, period: std::time::Duration) {
    loop {
        if let Err(e) = schedule_now(&state).await {
            tracing::warn!(error = %e, "refresh scheduler run failed; the next one tries again");
        }
        tokio::time::sleep(period).await;
    }
}

/// The seams the scheduler uses, for a process that has nothing else (the `refresh-scheduler`
/// function: no keys, no sealer).
pub struct SchedulerSeams {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn JobQueue>,
    pub limits: RefreshLimits,
}

#[cfg(test)]
mod tests;
