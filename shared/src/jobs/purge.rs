//! Deleting an integration that has a million connections: the integration's generation ends
//! at once (`IntegrationStore::delete_integration`: its connections answer `not_found`, leave
//! listings and are never written again), and its connections are deleted in the background,
//! one bounded step per job, one chain of jobs per store shard.
//!
//! The purge job is enqueued *before* the delete: if enqueuing fails, nothing is deleted (503,
//! retry); if the delete then fails, the job finds the integration still in that generation and
//! does nothing. A write that read the integration just before the delete may land after the
//! first pass, so each shard is swept once more `LATE_WRITES` after the request.

use time::Duration;

use super::{enqueue, Job, JobError, Purge};
use crate::domain::IntegrationKey;
use crate::error::Error;
use crate::AppState;

/// Connections one step deletes.
pub const STEP: usize = 200;
/// How long after the request a purge waits for the integration's delete to commit.
pub const SETTLE: Duration = Duration::minutes(1);
/// How long a write that read the integration before its delete can take to land: longer
/// than any function's timeout (60 s). Each shard is swept again after it.
pub const LATE_WRITES: Duration = Duration::minutes(5);
/// When a step found connections but deleted none (an index not caught up yet), the next
/// step waits this long.
const LAGGING_INDEX: Duration = Duration::seconds(5);
/// How often a purge looks again for the delete it was enqueued before.
const SETTLING: Duration = Duration::seconds(10);

/// Deletes an integration at once and leaves its connections to the purge job: `Ok(false)`
/// when there is no such integration.
pub async fn delete_integration(state: &AppState, key: &IntegrationKey) -> Result<bool, Error> {
    let Some(integration) = state.store.get_integration(key).await? else {
        return Ok(false);
    };
    let purge = Purge {
        integration: key.clone(),
        generation: integration.generation.clone(),
        shard: None,
        requested_at: state.clock.now(),
    };
    enqueue(state, &[Job::PurgeIntegration(purge)], Duration::ZERO).await?;
    let deleted = state.store.delete_integration(key, &integration.generation).await?;
    if deleted {
        tracing::info!(integration = %key, "integration deleted; its connections are purged in the background");
    }
    Ok(deleted)
}

/// One step of a purge.
pub async fn run(state: &AppState, purge: &Purge) -> Result<(), JobError> {
    let now = state.clock.now();
    let again = |shard: Option<u32>| Job::PurgeIntegration(Purge { shard, ..purge.clone() });
    let Some(shard) = purge.shard else {
        let current = state.store.get_integration(&purge.integration).await?;
        if current.is_some_and(|i| i.generation == purge.generation) {
            // The delete has not committed (yet, or ever).
            if now < purge.requested_at + SETTLE {
                return enqueue(state, &[again(None)], SETTLING).await;
            }
            tracing::info!(integration = %purge.integration, "the integration was not deleted; nothing to purge");
            return Ok(());
        }
        let shards: Vec<Job> = (0..state.store.purge_shards()).map(|s| again(Some(s))).collect();
        return enqueue(state, &shards, Duration::ZERO).await;
    };
    let step = state
        .store
        .purge_connections(&purge.integration, &purge.generation, shard, STEP)
        .await?;
    if step.examined > 0 {
        let delay = if step.deleted == 0 {
            LAGGING_INDEX
        } else {
            Duration::ZERO
        };
        return enqueue(state, &[again(Some(shard))], delay).await;
    }
    let sweep_at = purge.requested_at + LATE_WRITES;
    if now < sweep_at {
        return enqueue(state, &[again(Some(shard))], sweep_at - now).await;
    }
    tracing::info!(integration = %purge.integration, shard, "purge finished");
    Ok(())
}
