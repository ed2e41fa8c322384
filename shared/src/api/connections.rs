//! Backend routes over connections (`/connections…`). Authenticated by `backend_auth`.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::ApiJson;
use super::extract::ApiQuery;
use crate::connections::{delete_connection, edit_connection, read_fresh_connection, to_list_item, to_wire};
use crate::domain::{ConnectionId, IntegrationKey};
use crate::error::{Error, ErrorCode};
use crate::store::ConnectionFilter;
use crate::AppState;

/// Boolean query flags as clients send them: `true`/`false`, `1`/`0`.
fn flag(value: &Option<String>, name: &str) -> Result<bool, Error> {
    match value.as_deref() {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(Error::invalid(
            ErrorCode::InvalidQueryParams,
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

fn integration_key(q: &ConnectionQuery) -> Result<IntegrationKey, Error> {
    let key = q
        .provider_config_key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::invalid(ErrorCode::InvalidQueryParams, "provider_config_key is required."))?;
    IntegrationKey::parse(key).map_err(|e| Error::invalid(ErrorCode::InvalidQueryParams, e.message))
}

fn connection_id(raw: String) -> Result<ConnectionId, Error> {
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

/// Filters the Node client sends (`tags[<k>]`, `endUserOrganizationId`) that the store can't
/// apply yet. Ignoring one would answer other end users' connections, so it is refused.
fn unsupported_filter(raw_query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
        .find(|(k, v)| (k.starts_with("tags[") || k == "tags" || k == "endUserOrganizationId") && !v.is_empty())
        .map(|(k, _)| k.into_owned())
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw_query): RawQuery,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(name) = unsupported_filter(raw_query.as_deref()) {
        return Err(Error::invalid(
            ErrorCode::InvalidQueryParams,
            format!("Filtering connections by '{name}' is not supported yet."),
        )
        .into());
    }
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(Error::invalid(
            ErrorCode::InvalidQueryParams,
            format!("limit must be 1 to {MAX_PAGE_SIZE}."),
        )
        .into());
    }
    let integrations = q
        .integration_id
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|k| IntegrationKey::parse(k).map_err(|e| Error::invalid(ErrorCode::InvalidQueryParams, e.message)))
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

#[cfg(test)]
mod tests {
    use super::unsupported_filter;

    #[test]
    fn filters_the_store_cannot_apply_are_named() {
        assert_eq!(unsupported_filter(None), None);
        assert_eq!(unsupported_filter(Some("connectionId=a&endUserId=b&limit=2")), None);
        assert_eq!(
            unsupported_filter(Some("tags%5Bend_user_email%5D=a%40b.test")).as_deref(),
            Some("tags[end_user_email]")
        );
        assert_eq!(
            unsupported_filter(Some("endUserOrganizationId=org")).as_deref(),
            Some("endUserOrganizationId")
        );
        assert_eq!(unsupported_filter(Some("endUserOrganizationId=")), None);
    }
}

/// `PATCH /connections/{id}`: what the team's backend may change on a connection.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    end_user: Option<Value>,
    tags: Option<serde_json::Map<String, Value>>,
}

/// An end user is an object with a string `id` (and whatever else the team keeps on it).
fn check_end_user(end_user: &Value) -> Result<(), Error> {
    match end_user.get("id").and_then(Value::as_str) {
        Some(id) if end_user.is_object() && !id.is_empty() && id.len() <= 255 => Ok(()),
        _ => Err(Error::invalid_body(
            "end_user must be an object with a non-empty string id.",
        )),
    }
}

fn check_tags(tags: &serde_json::Map<String, Value>) -> Result<(), Error> {
    if tags.len() > 64 || tags.iter().any(|(k, v)| k.is_empty() || k.len() > 64 || !v.is_string()) {
        return Err(Error::invalid_body(
            "tags must be at most 64 string values under keys of 1 to 64 characters.",
        ));
    }
    Ok(())
}

pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ConnectionQuery>,
    ApiJson(body): ApiJson<ConnectionPatch>,
) -> Result<Json<Value>, ApiError> {
    let key = integration_key(&q)?;
    let id = connection_id(id)?;
    if let Some(end_user) = &body.end_user {
        check_end_user(end_user)?;
    }
    if let Some(tags) = &body.tags {
        check_tags(tags)?;
    }
    edit_connection(&state, &key, &id, |record| {
        if let Some(end_user) = &body.end_user {
            record.end_user = Some(end_user.clone());
        }
        if let Some(tags) = &body.tags {
            record.tags = tags.clone();
        }
    })
    .await?;
    Ok(Json(json!({"success": true})))
}

/// One connection id or several, as the ecosystem's clients send them.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataBody {
    connection_id: OneOrMany,
    provider_config_key: String,
    metadata: serde_json::Map<String, Value>,
}

/// `POST /connections/metadata` replaces the metadata; `PATCH` merges into it (top-level keys).
async fn write_metadata(state: &AppState, body: MetadataBody, merge: bool) -> Result<Json<Value>, ApiError> {
    let key = IntegrationKey::parse(body.provider_config_key.clone())
        .map_err(|e| Error::invalid_body(format!("provider_config_key: {}", e.message)))?;
    let ids = match &body.connection_id {
        OneOrMany::One(id) => vec![id.clone()],
        OneOrMany::Many(ids) if !ids.is_empty() && ids.len() <= 100 => ids.clone(),
        OneOrMany::Many(_) => return Err(Error::invalid_body("connection_id must name 1 to 100 connections.").into()),
    };
    let ids = ids
        .into_iter()
        .map(ConnectionId::parse)
        .collect::<Result<Vec<_>, _>>()?;
    // Every connection must exist before any is changed: a typo changes nothing.
    for id in &ids {
        if state.store.get_connection(&key, id).await?.is_none() {
            return Err(Error::not_found(
                ErrorCode::NotFound,
                format!("No connection '{id}' for integration '{key}'."),
            )
            .into());
        }
    }
    for id in &ids {
        edit_connection(state, &key, id, |record| {
            if merge {
                record.metadata.extend(body.metadata.clone());
            } else {
                record.metadata = body.metadata.clone();
            }
        })
        .await?;
    }
    let connection_id = match body.connection_id {
        OneOrMany::One(id) => json!(id),
        OneOrMany::Many(ids) => json!(ids),
    };
    Ok(Json(json!({
        "connection_id": connection_id,
        "provider_config_key": body.provider_config_key,
        "metadata": body.metadata,
    })))
}

pub async fn set_metadata(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<MetadataBody>,
) -> Result<Json<Value>, ApiError> {
    write_metadata(&state, body, false).await
}

pub async fn update_metadata(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<MetadataBody>,
) -> Result<Json<Value>, ApiError> {
    write_metadata(&state, body, true).await
}
