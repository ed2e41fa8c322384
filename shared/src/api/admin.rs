//! Operator routes: integrations, activity (`/logs`) and environment settings. Authenticated by
//! `backend_auth` like the connection routes.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery};
use super::wire::{self, Data};
use crate::domain::IntegrationKey;
use crate::environment::{self, EnvironmentPatch};
use crate::error::{Error, ErrorCode};
use crate::integrations::{self, CreateIntegration, UpdateIntegration};
use crate::store::ActivityFilter;
use crate::AppState;

fn key(raw: &str) -> Result<IntegrationKey, Error> {
    IntegrationKey::parse(raw).map_err(|_| Error::unknown_integration(raw))
}

pub async fn list_integrations(State(state): State<AppState>) -> Result<Response, ApiError> {
    let all = integrations::list(&state).await?;
    Ok(wire::json(Data {
        data: all.iter().map(wire::Integration::new).collect::<Vec<_>>(),
    }))
}

pub async fn create_integration(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateIntegration>,
) -> Result<Response, ApiError> {
    let record = integrations::create(&state, body).await?;
    Ok(wire::json(Data {
        data: wire::Integration::new(&record),
    }))
}

pub async fn get_integration(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let record = integrations::get(&state, &key(&raw)?).await?;
    Ok(wire::json(Data {
        data: wire::Integration::new(&record),
    }))
}

pub async fn update_integration(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<UpdateIntegration>,
) -> Result<Response, ApiError> {
    let record = integrations::update(&state, &key(&raw)?, body).await?;
    Ok(wire::json(Data {
        data: wire::Integration::new(&record),
    }))
}

pub async fn delete_integration(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    integrations::delete(&state, &key(&raw)?).await?;
    Ok(wire::json(wire::SUCCESS))
}

#[derive(Deserialize)]
pub struct LogsQuery {
    connection_id: Option<String>,
    integration: Option<String>,
    attempt_id: Option<String>,
    limit: Option<usize>,
}

pub async fn logs(State(state): State<AppState>, ApiQuery(q): ApiQuery<LogsQuery>) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(Error::invalid(ErrorCode::InvalidQueryParams, "limit must be 1 to 1000.").into());
    }
    let filter = ActivityFilter {
        integration: q.integration,
        connection_id: q.connection_id,
        attempt_id: q.attempt_id,
        limit,
        before: Some(crate::store::ActivityCursor::newest(state.clock.now())),
    };
    let entries = crate::activity::list(&state, &filter).await?;
    Ok(wire::json(Data {
        data: entries.iter().map(wire::Activity::new).collect::<Vec<_>>(),
    }))
}

pub async fn get_environment(State(state): State<AppState>) -> Result<Response, ApiError> {
    let settings = environment::settings(&state).await?;
    Ok(wire::json(Data {
        data: wire::Environment::new(&state, &settings),
    }))
}

pub async fn update_environment(
    State(state): State<AppState>,
    ApiJson(patch): ApiJson<EnvironmentPatch>,
) -> Result<Response, ApiError> {
    let settings = environment::update(&state, patch).await?;
    Ok(wire::json(Data {
        data: wire::Environment::new(&state, &settings),
    }))
}

/// `POST /environment/test-webhook`: one signed test webhook to the environment's URL, now.
pub async fn test_webhook(State(state): State<AppState>) -> Result<Response, ApiError> {
    let sent = crate::events::send_test(&state).await?;
    Ok(wire::json(Data {
        data: wire::TestWebhook::new(&sent),
    }))
}
