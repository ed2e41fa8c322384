//! The refresh job: one connection the scheduler found due, renewed by the worker (or the local
//! runner) through the connection's one refresh path (`connections::refresh_due`: lease,
//! re-read, provider, conditional write), with at most `RefreshLimits::provider_concurrency`
//! refreshes of one provider at a time in this process.
//!
//! A job whose connection turned out not due, busy or gone is done: the index schedules it
//! again if it needs it. A refused or unavailable refresh is recorded on the connection and
//! done too (its backoff decides the next attempt, through the index). Only Latchkey's own
//! trouble (the store or the key service unavailable) fails the job, so the queue delivers it
//! again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Semaphore;

use super::{JobError, RefreshJob};
use crate::connections::{refresh_due, Renewal};
use crate::AppState;

/// The process's bound per provider: one semaphore each, sized when first used.
fn in_flight(provider: &str, limit: usize) -> Arc<Semaphore> {
    static BY_PROVIDER: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let mut map = BY_PROVIDER
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    map.entry(provider.to_owned())
        .or_insert_with(|| Arc::new(Semaphore::new(limit.max(1))))
        .clone()
}

pub async fn run(state: &AppState, job: &RefreshJob) -> Result<Renewal, JobError> {
    let bound = in_flight(&job.provider, state.config.refresh_limits.provider_concurrency);
    let _permit = bound
        .acquire_owned()
        .await
        .map_err(|_| JobError::Failed("the provider's bound is closed".into()))?;
    match refresh_due(state, &job.integration, &job.connection_id).await {
        Ok(renewal) => {
            tracing::debug!(integration = %job.integration, ?renewal, "refresh job");
            Ok(renewal)
        }
        Err(e) if e.kind.is_internal() => Err(JobError::Failed(e.to_string())),
        Err(e) => {
            tracing::warn!(integration = %job.integration, code = %e.code, "refresh job could not renew the connection");
            Ok(Renewal::NotDue)
        }
    }
}
