//! Background work, through one seam. A `Job` names what to do (records by key, never a
//! secret); `JobQueue::enqueue` hands jobs to a queue; `run` does one job, the same code
//! wherever it runs. Two queues implement the seam:
//!
//! - `sqs` (AWS): SQS with a dead-letter queue; the `worker` Lambda receives batches and reports
//!   partial batch failures (`sqs::handle`).
//! - `local` (the local stack): the store's job table (`QueueStore`) with a visibility timeout,
//!   attempts and a dead-letter state, driven by `local::Runner` on a timer inside `latchkey
//!   serve` (tests call `Runner::drain`).
//!
//! Delivery is at least once on both, so every job must be safe to run twice. A job that finds
//! its work not ready re-enqueues itself with a delay (up to `MAX_DELAY`, SQS's limit).
//!
//! To add a kind of job: a variant of `Job` (its data in the module that owns it), an arm in
//! `run`, and a test that runs it through `local::Runner` (and, for AWS, `sqs::handle`).

pub mod local;
pub mod purge;
#[cfg(feature = "aws")]
pub mod sqs;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::ApiError;
use crate::store::StoreError;
use crate::AppState;

/// The longest delay a job can be enqueued with (SQS's `DelaySeconds` limit).
pub const MAX_DELAY: Duration = Duration::minutes(15);

/// One unit of background work. Serialized as `{"kind": "...", ...}` into the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Delete the connections of a deleted integration's generation (`purge`).
    PurgeIntegration(purge::Purge),
}

impl Job {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("jobs serialize")
    }

    pub fn from_json(text: &str) -> Result<Self, JobError> {
        // Not the serde message: it could quote the body.
        serde_json::from_str(text)
            .map_err(|e| JobError::Malformed(format!("{:?} at column {}", e.classify(), e.column())))
    }

    /// What the job is, for logs (no secrets, no record contents).
    pub fn describe(&self) -> String {
        match self {
            Job::PurgeIntegration(p) => format!("purge_integration {} shard {:?}", p.integration, p.shard),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobError {
    /// The queue could not take the job (or none is configured).
    #[error("job queue unavailable: {0}")]
    Unavailable(String),
    /// The job failed this time; the queue delivers it again later.
    #[error("job failed: {0}")]
    Failed(String),
    /// A message that is not a job: it can never succeed.
    #[error("not a job: {0}")]
    Malformed(String),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Failed(e.to_string())
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        tracing::error!(error = %e, "job queue");
        ApiError::unavailable("The job queue")
    }
}

/// Where jobs go.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues `jobs`, each to be run no earlier than `delay` (clamped to `MAX_DELAY`) after
    /// `now` (the caller's clock: `AppState::clock`). All or an error; on an error some may
    /// have been enqueued, which at-least-once jobs tolerate.
    async fn enqueue(&self, now: OffsetDateTime, jobs: &[Job], delay: Duration) -> Result<(), JobError>;
}

/// The queue of a state built without one: enqueuing fails, so nothing that needs background
/// work can half-happen.
pub struct NoQueue;

#[async_trait]
impl JobQueue for NoQueue {
    async fn enqueue(&self, _now: OffsetDateTime, _jobs: &[Job], _delay: Duration) -> Result<(), JobError> {
        Err(JobError::Unavailable("no job queue is configured".into()))
    }
}

/// Enqueues jobs on the state's queue, at the state's time.
pub async fn enqueue(state: &AppState, jobs: &[Job], delay: Duration) -> Result<(), JobError> {
    if jobs.is_empty() {
        return Ok(());
    }
    state
        .jobs
        .enqueue(state.clock.now(), jobs, delay.clamp(Duration::ZERO, MAX_DELAY))
        .await
}

/// Runs one job. The one place a job kind is dispatched.
pub async fn run(state: &AppState, job: &Job) -> Result<(), JobError> {
    match job {
        Job::PurgeIntegration(p) => purge::run(state, p).await,
    }
}

#[cfg(test)]
mod tests;
