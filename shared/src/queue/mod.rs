//! The job queue, a seam like the store: a `Job` names background work (records by key, never
//! a secret) and `JobQueue::enqueue` hands it to a queue — `sqs` on AWS (SQS with a dead-letter
//! queue), `local` on the local stack (the store's job table with a visibility timeout,
//! attempts and a dead-letter state). What a job does, and who runs it, is `jobs`.
//!
//! Delivery is at least once on both, so every job must be safe to run twice.

pub mod local;
#[cfg(feature = "aws")]
pub mod sqs;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::domain::{ConnectionId, IntegrationKey};
use crate::error::Error;
use crate::store::{StoreError, WebhookEvent};

/// The longest delay a job can be enqueued with (SQS's `DelaySeconds` limit).
pub const MAX_DELAY: Duration = Duration::minutes(15);

/// One unit of background work. Serialized as `{"kind": "...", ...}` into the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Delete the connections of a deleted integration's generation (`purge`).
    PurgeIntegration(Purge),
    /// Renew one connection the scheduler found due (`jobs::refresh`).
    RefreshConnection(RefreshJob),
    /// One attempt of an auth webhook delivery (`events::delivery`).
    DeliverWebhook(WebhookDelivery),
    /// The end of a redirect attempt's time: its final entry, if the end user never came back
    /// (`jobs::deadline`).
    AttemptDeadline(AttemptDeadline),
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
            Job::RefreshConnection(r) => format!("refresh_connection {} ({})", r.integration, r.provider),
            Job::DeliverWebhook(d) => format!("deliver_webhook {} attempt {}", d.id, d.attempt),
            Job::AttemptDeadline(d) => format!("attempt_deadline {} ({})", d.attempt_id, d.integration),
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

impl From<JobError> for Error {
    fn from(e: JobError) -> Self {
        tracing::error!(error = %e, "job queue");
        Error::unavailable("The job queue")
    }
}

/// Where jobs go.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues `jobs`, each to be run no earlier than `delay` (clamped to 0..=`MAX_DELAY`) after
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

/// The purge of one ended generation: all shards (`shard: None`, which fans out), or one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purge {
    pub integration: IntegrationKey,
    pub generation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// When the delete was requested.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
}

/// One connection to renew ahead of reads. The provider is the integration's, so the worker
/// bounds its refreshes per provider before it reads anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshJob {
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    pub provider: String,
}

/// One attempt of an auth webhook delivery. The body is rendered once, when the event happens,
/// and sent byte for byte on every attempt; where it goes is decided at each attempt from the
/// settings and the connection as they are then (`events::destination`). It names the
/// connection and carries what the receiver gets — ids, the end user, tags — never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The delivery's id (`Latchkey-Webhook-Id`), the same on every attempt: receivers drop
    /// duplicates by it. Also the `attempt_id` of its activity entries.
    pub id: String,
    pub event: WebhookEvent,
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    /// The JSON body, as signed.
    pub body: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Not to be attempted before (a retry's wait may be longer than the queue's `MAX_DELAY`).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_before: Option<OffsetDateTime>,
}

/// A redirect attempt (`flows::redirect`) whose flow state expires at `expires_at`: after it, no
/// callback can finish the attempt, so one without a final entry was abandoned. It names the
/// attempt, never its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptDeadline {
    pub attempt_id: String,
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
