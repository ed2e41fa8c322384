//! The activity log: one entry per step of an operation, for the operator. Entries are built
//! from codes and safe messages only; recording is best effort and never fails the operation.

use std::future::Future;

use crate::error::{Error, ErrorCode};
use crate::store::{ActivityEntry, ActivityFilter, ActivityLevel};
use crate::AppState;

/// One operation (an auth attempt, a refresh) whose steps share an `attempt_id`.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: String,
    pub operation: &'static str,
    pub integration: Option<String>,
    pub connection_id: Option<String>,
}

impl Attempt {
    pub fn new(operation: &'static str, integration: Option<String>, connection_id: Option<String>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            operation,
            integration,
            connection_id,
        }
    }

    pub fn resume(id: String, operation: &'static str, integration: String, connection_id: String) -> Self {
        Self {
            id,
            operation,
            integration: Some(integration),
            connection_id: Some(connection_id),
        }
    }

    pub async fn info(&self, state: &AppState, event: &str, message: impl Into<String>) {
        self.record(state, event, ActivityLevel::Info, message.into(), None)
            .await;
    }

    pub async fn failed(&self, state: &AppState, code: ErrorCode, message: impl Into<String>) {
        self.failed_with(state, code.as_str(), message).await;
    }

    /// A `failed` entry whose code is not one of Latchkey's: what a provider said
    /// (`invalid_grant`), for a refresh.
    pub async fn failed_with(&self, state: &AppState, error_code: &str, message: impl Into<String>) {
        self.error_with(state, "failed", error_code, message).await;
    }

    /// An error entry under `event` (a step that failed without ending the operation, such as
    /// a webhook attempt that is retried).
    pub async fn error(&self, state: &AppState, event: &str, code: ErrorCode, message: impl Into<String>) {
        self.error_with(state, event, code.as_str(), message).await;
    }

    async fn error_with(&self, state: &AppState, event: &str, error_code: &str, message: impl Into<String>) {
        self.record(
            state,
            event,
            ActivityLevel::Error,
            message.into(),
            Some(error_code.to_owned()),
        )
        .await;
    }

    /// Runs a step of the attempt; its failure is recorded as the attempt's `failed` entry
    /// (with the error's code, message and operator detail) and returned. Every flow goes through here, so no
    /// failure of an auth attempt is left out of the activity log.
    pub async fn run<T>(&self, state: &AppState, step: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let result = step.await;
        if let Err(e) = &result {
            self.failed(state, e.code, e.for_operator()).await;
        }
        result
    }

    async fn record(
        &self,
        state: &AppState,
        event: &str,
        level: ActivityLevel,
        message: String,
        error_code: Option<String>,
    ) {
        let entry = ActivityEntry {
            id: uuid::Uuid::new_v4().to_string(),
            attempt_id: self.id.clone(),
            timestamp: state.clock.now(),
            operation: self.operation.to_owned(),
            event: event.to_owned(),
            level,
            integration: self.integration.clone(),
            connection_id: self.connection_id.clone(),
            message,
            error_code,
        };
        if let Err(e) = state.store.append_activity(&entry).await {
            tracing::warn!(error = %e, attempt = %self.id, event, "could not record activity");
        }
    }
}

/// Entries matching `filter`, newest first.
pub async fn list(state: &AppState, filter: &ActivityFilter) -> Result<Vec<ActivityEntry>, Error> {
    Ok(state.store.list_activity(filter).await?)
}
