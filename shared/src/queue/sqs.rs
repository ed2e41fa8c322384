//! The AWS queue: SQS (standard queue, encrypted with the stack's key, a redrive policy to a
//! dead-letter queue after `maxReceiveCount` deliveries). `SqsQueue` sends jobs (batches of 10, several
//! at once; `DelaySeconds` for delays); the event types are what the `worker` Lambda receives
//! (`jobs::sqs::handle` runs them, `lambda::serve_worker` is its `main`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::{Job, JobError, JobQueue};

/// The part of Lambda's SQS event the worker reads (the other fields are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsMessage>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsMessage {
    pub message_id: Option<String>,
    pub body: Option<String>,
}

/// The partial batch response (`ReportBatchItemFailures`): the messages to deliver again.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SqsBatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

pub(crate) fn unavailable<
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
>(
    e: aws_sdk_sqs::error::SdkError<E, R>,
) -> JobError {
    JobError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
}

/// `SendMessageBatch` calls in flight at once (a scheduler run sends thousands).
const SENDS_AT_ONCE: usize = 8;

impl SqsQueue {
    async fn send_batch(&self, chunk: &[Job], delay: i32) -> Result<(), JobError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, job)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(job.to_json())
                    .delay_seconds(delay)
                    .build()
                    .map_err(|e| JobError::Unavailable(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(unavailable)?;
        match out.failed.first() {
            Some(failed) => Err(JobError::Unavailable(format!("SQS refused a message: {}", failed.code))),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, _now: OffsetDateTime, jobs: &[Job], delay: Duration) -> Result<(), JobError> {
        use futures::StreamExt;
        let delay = delay.whole_seconds().clamp(0, super::MAX_DELAY.whole_seconds()) as i32;
        let sends: Vec<_> = jobs.chunks(10).map(|chunk| self.send_batch(chunk, delay)).collect();
        let results: Vec<Result<(), JobError>> = futures::stream::iter(sends)
            .buffer_unordered(SENDS_AT_ONCE)
            .collect()
            .await;
        results.into_iter().collect()
    }
}
