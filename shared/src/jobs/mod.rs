//! Background work: what each job does (`run`, the one dispatch), and who runs it. The queue
//! itself is a seam (`queue`: SQS on AWS, the store's job table locally); here are its runners —
//! `sqs::handle` for the `worker` Lambda's batches (partial batch failures reported), and
//! `local::Runner` on a timer inside `latchkey serve` (tests call `Runner::drain`) — and the
//! jobs (`purge`, `refresh`, `deadline`; webhook deliveries are `events::delivery`'s). `schedule` is the
//! refresh scheduler, which enqueues refresh jobs.
//!
//! Delivery is at least once, so every job must be safe to run twice. A job that finds its work
//! not ready re-enqueues itself with a delay (up to `MAX_DELAY`, SQS's limit).
//!
//! To add a kind of job: a variant of `queue::Job` with its payload, an arm in `run`, the work
//! in a module here, and a test that runs it through `local::Runner` (and, for AWS,
//! `sqs::handle`).

pub mod deadline;
pub mod local;
pub mod purge;
pub mod refresh;
pub mod schedule;
#[cfg(feature = "aws")]
pub mod sqs;

use time::Duration;

pub use crate::queue::{Job, JobError, JobQueue, Purge, RefreshJob, MAX_DELAY};
use crate::AppState;

/// Enqueues jobs on the state's queue, at the state's time.
pub async fn enqueue(state: &AppState, jobs: &[Job], delay: Duration) -> Result<(), JobError> {
    if jobs.is_empty() {
        return Ok(());
    }
    state.jobs.enqueue(state.clock.now(), jobs, delay).await
}

/// Runs one job. The one place a job kind is dispatched.
pub async fn run(state: &AppState, job: &Job) -> Result<(), JobError> {
    match job {
        Job::PurgeIntegration(p) => purge::run(state, p).await,
        Job::RefreshConnection(r) => refresh::run(state, r).await.map(drop),
        Job::DeliverWebhook(d) => crate::events::delivery::run(state, d).await,
        Job::AttemptDeadline(d) => deadline::run(state, d).await,
    }
}

#[cfg(test)]
mod tests;
