//! The worker's side of SQS: `handle` runs one batch the `worker` Lambda received and names the
//! messages that failed (`batchItemFailures`), so only those are delivered again;
//! `receive_and_run` is the same path driven by polling, for tests and operators.

use crate::queue::sqs::{unavailable, BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use crate::queue::{Job, JobError};
use crate::AppState;

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
