//! The AWS queue: SQS (standard queue, encrypted with the stack's key, a redrive policy to a
//! dead-letter queue after `maxReceiveCount` deliveries). `SqsQueue` sends jobs (batches of 10,
//! `DelaySeconds` for delays); `handle` runs one batch the `worker` Lambda received and names
//! the messages that failed (`batchItemFailures`), so only those are delivered again; `serve`
//! is the worker's whole `main`. `receive_and_run` is the same path driven by polling, for
//! tests and operators.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::{Job, JobError, JobQueue};
use crate::AppState;

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

fn unavailable<
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
>(
    e: aws_sdk_sqs::error::SdkError<E, R>,
) -> JobError {
    JobError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn enqueue(&self, _now: OffsetDateTime, jobs: &[Job], delay: Duration) -> Result<(), JobError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let delay = delay.whole_seconds().clamp(0, super::MAX_DELAY.whole_seconds()) as i32;
        for chunk in jobs.chunks(10) {
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
            if let Some(failed) = out.failed.first() {
                return Err(JobError::Unavailable(format!("SQS refused a message: {}", failed.code)));
            }
        }
        Ok(())
    }
}

/// Runs one message's job; `Err` names it for redelivery.
async fn run_message(state: &AppState, message: &SqsMessage) -> Result<(), JobError> {
    let job = Job::from_json(message.body.as_deref().unwrap_or(""))?;
    super::run(state, &job).await.inspect_err(|e| {
        tracing::warn!(job = %job.describe(), error = %e, "job failed; SQS delivers it again");
    })
}

/// Runs a batch of messages concurrently; the failed ones come back in `batch_item_failures`
/// (a message that is not a job too: it reaches the dead-letter queue after its receives).
pub async fn handle(state: &AppState, event: SqsEvent) -> SqsBatchResponse {
    let outcomes = futures::future::join_all(event.records.iter().map(|m| run_message(state, m))).await;
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in event.records.iter().zip(outcomes) {
        if let Err(e) = outcome {
            if matches!(e, JobError::Malformed(_)) {
                tracing::error!(error = %e, "a message that is not a job");
            }
            response.batch_item_failures.push(BatchItemFailure {
                item_identifier: message.message_id.clone().unwrap_or_default(),
            });
        }
    }
    response
}

/// The worker function: SQS batches in, partial batch failures out. Logs the AWS calls of the
/// container's start and of each batch, like `lambda::run`.
pub async fn serve(state: AppState) -> Result<(), lambda_runtime::Error> {
    let (d, k, s) = crate::aws::call_counts();
    tracing::info!(
        dynamodb = d,
        kms = k,
        secretsmanager = s,
        sqs = crate::aws::sqs_calls(),
        "aws_calls init"
    );
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let state = state.clone();
            async move {
                let before = (crate::aws::call_counts(), crate::aws::sqs_calls());
                let records = event.payload.records.len();
                let response = handle(&state, event.payload).await;
                let after = (crate::aws::call_counts(), crate::aws::sqs_calls());
                tracing::info!(
                    dynamodb = after.0 .0 - before.0 .0,
                    kms = after.0 .1 - before.0 .1,
                    secretsmanager = after.0 .2 - before.0 .2,
                    sqs = after.1 - before.1,
                    records,
                    failed = response.batch_item_failures.len(),
                    "aws_calls invocation"
                );
                Ok::<_, lambda_runtime::Error>(response)
            }
        },
    ))
    .await
}

/// Receives what is visible on the queue and runs it the way the worker does, deleting the
/// messages that succeeded, until a receive comes back empty (at most `rounds` receives).
/// Returns how many messages ran.
pub async fn receive_and_run(
    state: &AppState,
    client: &aws_sdk_sqs::Client,
    url: &str,
    rounds: usize,
) -> Result<usize, JobError> {
    let mut ran = 0;
    for _ in 0..rounds {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(unavailable)?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        let event = SqsEvent {
            records: messages
                .iter()
                .map(|m| SqsMessage {
                    message_id: m.message_id.clone(),
                    body: m.body.clone(),
                })
                .collect(),
        };
        let failed = handle(state, event).await.batch_item_failures;
        for m in &messages {
            ran += 1;
            if failed.iter().any(|f| Some(&f.item_identifier) == m.message_id.as_ref()) {
                continue;
            }
            client
                .delete_message()
                .queue_url(url)
                .set_receipt_handle(m.receipt_handle.clone())
                .send()
                .await
                .map_err(unavailable)?;
        }
    }
    Ok(ran)
}
