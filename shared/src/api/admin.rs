//! Operator routes: integrations, activity (`/logs`) and environment settings. Authenticated by
//! `backend_auth` like the connection routes.

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::backend_auth::SecretKeyUsed;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::wire::{self, Data};
use crate::activity;
use crate::domain::IntegrationKey;
use crate::environment::{self, EnvironmentPatch};
use crate::error::{Error, ErrorCode};
use crate::integrations::{self, CreateIntegration, UpdateIntegration};
use crate::store::{ActivityFilter, ActivityLevel};
use crate::AppState;

fn key(raw: &str) -> Result<IntegrationKey, Error> {
    IntegrationKey::from_path(raw)
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

pub async fn get_integration(
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
) -> Result<Response, ApiError> {
    let record = integrations::get(&state, &key(&raw)?).await?;
    Ok(wire::json(Data {
        data: wire::Integration::new(&record),
    }))
}

pub async fn update_integration(
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateIntegration>,
) -> Result<Response, ApiError> {
    let record = integrations::update(&state, &key(&raw)?, body).await?;
    Ok(wire::json(Data {
        data: wire::Integration::new(&record),
    }))
}

pub async fn delete_integration(
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
) -> Result<Response, ApiError> {
    integrations::delete(&state, &key(&raw)?).await?;
    Ok(wire::json(wire::SUCCESS))
}

/// The query of `GET /logs`, and of the console's Activity tab.
#[derive(Deserialize, Default, Clone)]
pub struct LogsQuery {
    pub connection_id: Option<String>,
    pub integration: Option<String>,
    pub attempt_id: Option<String>,
    pub operation: Option<String>,
    pub level: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

fn query_time(value: Option<&str>, name: &str) -> Result<Option<time::OffsetDateTime>, Error> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(|_| {
                Error::invalid(
                    ErrorCode::InvalidQueryParams,
                    format!("{name} must be an RFC 3339 time like 2030-01-31T12:00:00Z."),
                )
            })
        })
        .transpose()
}

/// What `GET /logs` (and the console's activity page) may filter by, parsed once.
pub struct LogsRequest {
    pub filter: ActivityFilter,
    pub cursor: Option<crate::store::ActivityCursor>,
    pub until: Option<time::OffsetDateTime>,
}

impl LogsQuery {
    pub fn parse(self) -> Result<LogsRequest, Error> {
        let limit = self.limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(Error::invalid(
                ErrorCode::InvalidQueryParams,
                "limit must be 1 to 1000.",
            ));
        }
        let level = match self.level.as_deref().filter(|l| !l.is_empty()) {
            None => None,
            Some("info") => Some(ActivityLevel::Info),
            Some("error") => Some(ActivityLevel::Error),
            Some(_) => {
                return Err(Error::invalid(
                    ErrorCode::InvalidQueryParams,
                    "level must be info or error.",
                ))
            }
        };
        let since = query_time(self.since.as_deref(), "since")?;
        let until = query_time(self.until.as_deref(), "until")?;
        if let (Some(s), Some(u)) = (since, until) {
            if s > u {
                return Err(Error::invalid(ErrorCode::InvalidQueryParams, "since is after until."));
            }
        }
        let text = |v: Option<String>| v.filter(|v| !v.is_empty());
        Ok(LogsRequest {
            filter: ActivityFilter {
                integration: text(self.integration),
                connection_id: text(self.connection_id),
                attempt_id: text(self.attempt_id),
                operation: text(self.operation),
                level,
                since,
                before: None,
                limit,
            },
            cursor: text(self.cursor).map(|c| activity::parse_cursor(&c)).transpose()?,
            until,
        })
    }
}

pub async fn logs(State(state): State<AppState>, ApiQuery(q): ApiQuery<LogsQuery>) -> Result<Response, ApiError> {
    let LogsRequest { filter, cursor, until } = q.parse()?;
    let page = activity::page(&state, filter, cursor, until).await?;
    Ok(wire::json(wire::ActivityPage {
        data: page.entries.iter().map(wire::Activity::new).collect(),
        next_cursor: page.next.as_ref().map(activity::cursor_token),
    }))
}

pub async fn get_environment(State(state): State<AppState>) -> Result<Response, ApiError> {
    let settings = environment::settings(&state).await?;
    let keys = state.keys.current(state.clock.now()).await;
    Ok(wire::json(Data {
        data: wire::Environment::new(&state, &settings, &keys),
    }))
}

pub async fn update_environment(
    State(state): State<AppState>,
    Extension(used): Extension<SecretKeyUsed>,
    ApiJson(patch): ApiJson<EnvironmentPatch>,
) -> Result<Response, ApiError> {
    let updated = environment::update(&state, patch, used == SecretKeyUsed::Current).await?;
    Ok(no_store(wire::json(Data {
        data: wire::Environment::new(&state, &updated.settings, &updated.keys)
            .with_rotated(&updated.rotated, &updated.keys),
    })))
}

/// An answer that may carry a secret is not kept by any cache.
pub fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

/// `POST /environment/test-webhook`: one signed test webhook to the environment's URL, now.
pub async fn test_webhook(State(state): State<AppState>) -> Result<Response, ApiError> {
    let sent = crate::events::send_test(&state).await?;
    Ok(wire::json(Data {
        data: wire::TestWebhook::new(&sent),
    }))
}
