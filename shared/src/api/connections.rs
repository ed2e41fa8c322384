//! Backend routes over connections (`/connections…`). Authenticated by `backend_auth`.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::ApiQuery;
use crate::connections::{delete_connection, read_fresh_connection, to_list_item, to_wire};
use crate::domain::{ConnectionId, IntegrationKey};
use crate::error::ApiError;
use crate::store::ConnectionFilter;
use crate::AppState;

/// Boolean query flags as clients send them: `true`/`false`, `1`/`0`.
fn flag(value: &Option<String>, name: &str) -> Result<bool, ApiError> {
    match value.as_deref() {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query_params",
            format!("{name} must be true or false."),
        )),
    }
}

#[derive(Deserialize)]
pub struct ConnectionQuery {
    provider_config_key: Option<String>,
    refresh_token: Option<String>,
    force_refresh: Option<String>,
}

fn integration_key(q: &ConnectionQuery) -> Result<IntegrationKey, ApiError> {
    let key = q
        .provider_config_key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::bad_request("invalid_query_params", "provider_config_key is required."))?;
    IntegrationKey::parse(key).map_err(|e| ApiError::bad_request("invalid_query_params", e.message))
}

fn connection_id(raw: String) -> Result<ConnectionId, ApiError> {
    ConnectionId::parse(raw)
}

pub async fn get_connection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ConnectionQuery>,
) -> Result<Json<Value>, ApiError> {
    let key = integration_key(&q)?;
    let id = connection_id(id)?;
    let include_refresh = flag(&q.refresh_token, "refresh_token")?;
    let force = flag(&q.force_refresh, "force_refresh")?;
    let (record, credentials) = read_fresh_connection(&state, &key, &id, force).await?;
    Ok(Json(to_wire(&record, &credentials, include_refresh)))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ConnectionQuery>,
) -> Result<Json<Value>, ApiError> {
    let key = integration_key(&q)?;
    delete_connection(&state, &key, &connection_id(id)?).await?;
    Ok(Json(json!({"success": true})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    connection_id: Option<String>,
    integration_id: Option<String>,
    end_user_id: Option<String>,
    search: Option<String>,
    limit: Option<usize>,
    page: Option<usize>,
}

pub const MAX_PAGE_SIZE: usize = 1000;

pub async fn list(State(state): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::bad_request(
            "invalid_query_params",
            format!("limit must be 1 to {MAX_PAGE_SIZE}."),
        ));
    }
    let integrations = q
        .integration_id
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|k| IntegrationKey::parse(k).map_err(|e| ApiError::bad_request("invalid_query_params", e.message)))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = ConnectionFilter {
        integrations,
        connection_id: q
            .connection_id
            .filter(|s| !s.is_empty())
            .map(ConnectionId::parse)
            .transpose()?,
        end_user_id: q.end_user_id.filter(|s| !s.is_empty()),
        search: q.search.filter(|s| !s.is_empty()),
        limit,
        offset: q.page.unwrap_or(0).saturating_mul(limit),
    };
    let records = state.store.list_connections(&filter).await?;
    Ok(Json(
        json!({"connections": records.iter().map(to_list_item).collect::<Vec<_>>()}),
    ))
}
