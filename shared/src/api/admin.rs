//! Operator routes: integrations, activity (`/logs`) and environment settings. Authenticated by
//! `backend_auth` like the connection routes.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ApiQuery};
use crate::domain::IntegrationKey;
use crate::error::ApiError;
use crate::integrations::{self, to_wire, CreateIntegration, UpdateIntegration};
use crate::store::ActivityFilter;
use crate::AppState;

fn key(raw: &str) -> Result<IntegrationKey, ApiError> {
    IntegrationKey::parse(raw).map_err(|_| ApiError::unknown_integration(raw))
}

pub async fn list_integrations(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let all = state.store.list_integrations().await?;
    Ok(Json(json!({"data": all.iter().map(to_wire).collect::<Vec<_>>()})))
}

pub async fn create_integration(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateIntegration>,
) -> Result<Json<Value>, ApiError> {
    let record = integrations::create(&state, body).await?;
    Ok(Json(json!({"data": to_wire(&record)})))
}

pub async fn get_integration(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let k = key(&raw)?;
    let record = state
        .store
        .get_integration(&k)
        .await?
        .ok_or_else(|| ApiError::unknown_integration(&raw))?;
    Ok(Json(json!({"data": to_wire(&record)})))
}

pub async fn update_integration(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<UpdateIntegration>,
) -> Result<Json<Value>, ApiError> {
    let record = integrations::update(&state, &key(&raw)?, body).await?;
    Ok(Json(json!({"data": to_wire(&record)})))
}

pub async fn delete_integration(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !crate::jobs::purge::delete_integration(&state, &key(&raw)?).await? {
        return Err(ApiError::unknown_integration(&raw));
    }
    Ok(Json(json!({"success": true})))
}

#[derive(Deserialize)]
pub struct LogsQuery {
    connection_id: Option<String>,
    integration: Option<String>,
    attempt_id: Option<String>,
    limit: Option<usize>,
}

pub async fn logs(State(state): State<AppState>, ApiQuery(q): ApiQuery<LogsQuery>) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request(
            "invalid_query_params",
            "limit must be 1 to 1000.",
        ));
    }
    let filter = ActivityFilter {
        integration: q.integration,
        connection_id: q.connection_id,
        attempt_id: q.attempt_id,
        limit,
        before: Some(crate::store::ActivityCursor::newest(state.clock.now())),
    };
    let entries = state.store.list_activity(&filter).await?;
    let data: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).expect("entries serialize");
            v["timestamp"] = json!(crate::time_fmt::rfc3339(e.timestamp));
            v
        })
        .collect();
    Ok(Json(json!({"data": data})))
}

fn environment_view(state: &AppState, settings: &crate::store::EnvironmentSettings) -> Value {
    json!({"data": {
        "environment": state.config.environment,
        "public_key": state.keys.public_key,
        "callback_url": state.config.callback_url.as_str(),
        "hmac_enabled": settings.hmac_enabled,
        "allowed_origins": settings.allowed_origins,
    }})
}

pub async fn get_environment(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let settings = state.store.get_settings().await?;
    Ok(Json(environment_view(&state, &settings)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPatch {
    hmac_enabled: Option<bool>,
    allowed_origins: Option<Vec<String>>,
}

/// An allowed origin is exactly `scheme://host[:port]`, as browsers serialize it.
fn parse_origin(raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid_body(format!("'{raw}' is not a web origin like https://app.example.com"));
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    let origin = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || origin != raw.trim_end_matches('/') {
        return Err(bad());
    }
    Ok(origin)
}

pub async fn update_environment(
    State(state): State<AppState>,
    ApiJson(patch): ApiJson<EnvironmentPatch>,
) -> Result<Json<Value>, ApiError> {
    let mut settings = state.store.get_settings().await?;
    if let Some(origins) = patch.allowed_origins {
        settings.allowed_origins = origins.iter().map(|o| parse_origin(o)).collect::<Result<_, _>>()?;
    }
    if let Some(on) = patch.hmac_enabled {
        settings.hmac_enabled = on;
    }
    state.store.put_settings(&settings).await?;
    Ok(Json(environment_view(&state, &settings)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_must_be_bare() {
        assert_eq!(
            super::parse_origin("https://app.example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            super::parse_origin("http://localhost:5173/").unwrap(),
            "http://localhost:5173"
        );
        for bad in ["https://app.example.com/path", "ftp://x.com", "app.example.com", "*"] {
            assert!(super::parse_origin(bad).is_err(), "{bad}");
        }
    }
}
