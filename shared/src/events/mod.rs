//! Connection events → activity + the webhook outbox. Something happened to a connection — it
//! was created, re-authorized (override), its refresh failed, or it works again after a
//! failure — and the team's backend may want to know: `emit` writes one delivery job to the job
//! queue (SQS on AWS, the store's job table locally) when the environment, or the connection's
//! `webhook_url_override`, has a URL and the environment sends that kind of event.
//!
//! - `body`: what the receiver gets (Nango's auth webhook body).
//! - `destination`: where a connection's webhooks go, and the rule every webhook URL is
//!   checked by when it is set and before each attempt.
//! - `delivery`: the job — one signed attempt through the guarded client, retried with
//!   backoff, each attempt recorded as activity (`operation: "webhook"`).
//!
//! Guarantees. Emitting never fails the operation that emitted. Once the delivery job is
//! enqueued it is delivered at least once (or given up after `WebhookPolicy::attempts`, which
//! activity records); the id header lets receivers drop duplicates. An event whose job cannot be
//! enqueued (the queue is down after its client's own retries) is not sent: it is logged at
//! error level and recorded as a failed `webhook` activity entry, never dropped silently. The
//! job is enqueued after the connection was written, so a process that dies between the two
//! (a Lambda timeout) loses that one event; no event is ever sent for a write that failed.

pub mod body;
pub mod delivery;
pub mod destination;

use serde::Serialize;
use serde_json::{Map, Value};
use time::Duration;

use crate::activity::Attempt;
use crate::domain::{AuthMode, ConnectionId, IntegrationKey};
use crate::error::{Error, ErrorCode};
use crate::queue::{Job, WebhookDelivery};
use crate::store::{ConnectionRecord, Upsert, WebhookEvent};
use crate::AppState;

/// The `operation` of the activity entries about webhooks.
pub const OPERATION: &str = "webhook";

/// What went wrong, as the receiver reads it (`error: {type, description}`): the error's code
/// and its message, which never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventError {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
}

/// Something that happened to a connection, with what its webhook says.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionEvent {
    pub kind: WebhookEvent,
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    pub provider: String,
    pub auth_mode: AuthMode,
    pub end_user: Option<Value>,
    pub tags: Map<String, Value>,
    pub webhook_url_override: Option<String>,
    pub error: Option<EventError>,
}

impl ConnectionEvent {
    fn of(kind: WebhookEvent, record: &ConnectionRecord, error: Option<EventError>) -> Self {
        Self {
            kind,
            integration: record.integration.clone(),
            connection_id: record.connection_id.clone(),
            provider: record.provider.clone(),
            auth_mode: record.auth_mode,
            end_user: record.end_user.clone(),
            tags: record.tags.clone(),
            webhook_url_override: record.webhook_url_override.clone(),
            error,
        }
    }

    /// An authorization stored `record`: created, or replaced an earlier one (override).
    pub fn stored(record: &ConnectionRecord, upsert: Upsert) -> Self {
        let kind = match upsert {
            Upsert::Created => WebhookEvent::Creation,
            Upsert::Replaced => WebhookEvent::Override,
        };
        Self::of(kind, record, None)
    }

    /// Renewing `record`'s credentials failed with `error`.
    pub fn refresh_failed(record: &ConnectionRecord, error: &Error) -> Self {
        let error = EventError {
            kind: error.code.as_str().to_owned(),
            description: error.message.clone(),
        };
        Self::of(WebhookEvent::RefreshFailed, record, Some(error))
    }

    /// `record` was renewed after a failure: it works again.
    pub fn refresh_recovered(record: &ConnectionRecord) -> Self {
        Self::of(WebhookEvent::RefreshRecovered, record, None)
    }
}

/// Hands the event's webhook to the outbox, when one is to be sent. Never fails: a failure is
/// logged and recorded as activity (module doc, "Guarantees").
pub async fn emit(state: &AppState, event: ConnectionEvent) {
    let id = uuid::Uuid::new_v4().to_string();
    let attempt = Attempt::resume(
        id.clone(),
        OPERATION,
        event.integration.to_string(),
        event.connection_id.to_string(),
    );
    let settings = match state.store.get_settings().await {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(error = %e, event = event.kind.as_str(), connection = %event.connection_id, "webhook not sent: the settings could not be read");
            attempt
                .failed(
                    state,
                    ErrorCode::ServiceUnavailable,
                    format!(
                        "The '{}' webhook is not sent: the settings could not be read.",
                        event.kind.as_str()
                    ),
                )
                .await;
            return;
        }
    };
    if !settings.webhook_events.contains(&event.kind) {
        return;
    }
    let Some(destination) = destination::of(&settings, event.webhook_url_override.as_deref()) else {
        return;
    };
    let delivery = WebhookDelivery {
        id,
        event: event.kind,
        integration: event.integration.clone(),
        connection_id: event.connection_id.clone(),
        body: body::render(&state.config.environment, &event),
        attempt: 1,
        not_before: None,
    };
    let job = Job::DeliverWebhook(delivery);
    match state.jobs.enqueue(state.clock.now(), &[job], Duration::ZERO).await {
        Ok(()) => {
            attempt
                .info(
                    state,
                    "queued",
                    format!(
                        "The '{}' webhook is queued for {}.",
                        event.kind.as_str(),
                        destination.source.describe()
                    ),
                )
                .await
        }
        Err(e) => {
            tracing::error!(error = %e, event = event.kind.as_str(), connection = %event.connection_id, "webhook not sent: the job queue is unavailable");
            attempt
                .failed(
                    state,
                    ErrorCode::ServiceUnavailable,
                    format!(
                        "The '{}' webhook is not sent: the job queue is unavailable.",
                        event.kind.as_str()
                    ),
                )
                .await;
        }
    }
}

/// How a test webhook went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDelivery {
    pub delivered: bool,
    /// The receiver's status, or why there was none (never the URL).
    pub message: String,
}

/// Sends one signed test webhook to the environment's `webhook_url` now, in the request (one
/// attempt, not retried), and records it as activity.
pub async fn send_test(state: &AppState) -> Result<TestDelivery, Error> {
    let settings = state.store.get_settings().await?;
    let Some(destination) = destination::of(&settings, None) else {
        return Err(Error::invalid_body(
            "No webhook_url is set; set one with PATCH /environment first.",
        ));
    };
    let target = destination.target(state.config.allow_private_addresses)?;
    let id = uuid::Uuid::new_v4().to_string();
    let body = body::render_test(&state.config.environment);
    let answer = delivery::send(state, target, &id, 1, &body).await;
    let attempt = Attempt {
        id,
        operation: OPERATION,
        integration: None,
        connection_id: None,
    };
    let result = match delivery::outcome(answer, state.clock.now()) {
        delivery::Outcome::Delivered(status) => TestDelivery {
            delivered: true,
            message: format!("HTTP {status}"),
        },
        delivery::Outcome::Retry { why, .. } | delivery::Outcome::Refused(why) => TestDelivery {
            delivered: false,
            message: why,
        },
    };
    let message = format!("Test webhook: {} from the environment's webhook_url.", result.message);
    if result.delivered {
        attempt.info(state, "test_delivered", message).await;
    } else {
        attempt
            .error(state, "test_failed", ErrorCode::WebhookFailed, message)
            .await;
    }
    Ok(result)
}

/// After an authorization was stored: emits its creation or override event, from the
/// connection as stored (with what the write kept of an earlier one).
pub async fn connection_stored(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
    upsert: Upsert,
) {
    match state.store.get_connection(integration, connection_id).await {
        Ok(Some(record)) => emit(state, ConnectionEvent::stored(&record, upsert)).await,
        // Deleted in between: there is nothing to announce.
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, connection = %connection_id, "webhook not sent: the stored connection could not be read");
            Attempt::new(
                OPERATION,
                Some(integration.to_string()),
                Some(connection_id.to_string()),
            )
            .failed(
                state,
                ErrorCode::ServiceUnavailable,
                "The connection's webhook is not sent: the stored connection could not be read.",
            )
            .await;
        }
    }
}

#[cfg(test)]
mod tests;
