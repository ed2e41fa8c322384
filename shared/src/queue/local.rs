//! The local queue: jobs in the store's job table (`QueueStore`). Like SQS: a claimed job is
//! invisible for `LEASE`; a job that fails comes back with an exponential backoff (`backoff`);
//! after `MAX_ATTEMPTS` deliveries (or at once, for a message that is not a job) it is buried in
//! the dead-letter state, where `QueueStore::dead_jobs` lists it. `jobs::local::Runner` runs it.

use std::sync::Arc;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::{Job, JobError, JobQueue};
use crate::store::QueueStore;

/// How long a claimed job stays invisible (longer than any job step takes).
pub const LEASE: Duration = Duration::minutes(2);
/// Deliveries before a failing job is buried.
pub const MAX_ATTEMPTS: u32 = 5;

/// `JobQueue` over the store's job table.
pub struct StoreQueue {
    store: Arc<dyn QueueStore>,
}

impl StoreQueue {
    pub fn new(store: Arc<dyn QueueStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl JobQueue for StoreQueue {
    async fn enqueue(&self, now: OffsetDateTime, jobs: &[Job], delay: Duration) -> Result<(), JobError> {
        let delay = delay.clamp(Duration::ZERO, super::MAX_DELAY);
        for job in jobs {
            let id = uuid::Uuid::new_v4().to_string();
            self.store
                .push_job(&id, &job.to_json(), now + delay)
                .await
                .map_err(|e| JobError::Unavailable(e.to_string()))?;
        }
        Ok(())
    }
}

/// The wait before delivery `attempts + 1` of a failing job: 30 s, doubling, at most 15 min.
pub fn backoff(attempts: u32) -> Duration {
    let doubled = Duration::seconds(30) * 2i32.pow(attempts.saturating_sub(1).min(10));
    doubled.min(super::MAX_DELAY)
}
