//! Backend routes over connections (`/connections…`). Authenticated by `backend_auth`.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::wire;
use crate::connections::{
    delete_connection, list_connections, patch_connection, read_fresh_connection, write_metadata, ConnectionPatch,
    MetadataWrite,
};
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
    secret_config: Option<String>,
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
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ConnectionQuery>,
) -> Result<Response, ApiError> {
    let key = integration_key(&q)?;
    let id = connection_id(id)?;
    let shown = wire::Shown {
        refresh_token: flag(&q.refresh_token, "refresh_token")?,
        secret_config: flag(&q.secret_config, "secret_config")?,
    };
    let force = flag(&q.force_refresh, "force_refresh")?;
    crate::logs::record_connection(Some(key.as_str()), Some(id.as_str()));
    let (record, credentials) = read_fresh_connection(&state, &key, &id, force).await?;
    Ok(wire::json(wire::Connection::new(&record, &credentials, shown)))
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ConnectionQuery>,
) -> Result<Response, ApiError> {
    let key = integration_key(&q)?;
    delete_connection(&state, &key, &connection_id(id)?).await?;
    Ok(wire::json(wire::SUCCESS))
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
        // The filter's name, not the text sent (`tags[<anything>]`).
        .map(|(k, _)| {
            if k == "endUserOrganizationId" {
                k.into_owned()
            } else {
                "tags".to_owned()
            }
        })
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw_query): RawQuery,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
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
        with_errors: false,
        limit,
        offset: q.page.unwrap_or(0).saturating_mul(limit),
    };
    let records = list_connections(&state, &filter).await?;
    Ok(wire::json(wire::ConnectionList::new(&records)))
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
            Some("tags"),
            "the filter's name, not the text sent"
        );
        assert_eq!(
            unsupported_filter(Some("endUserOrganizationId=org")).as_deref(),
            Some("endUserOrganizationId")
        );
        assert_eq!(unsupported_filter(Some("endUserOrganizationId=")), None);
    }
}

pub async fn patch(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ConnectionQuery>,
    ApiJson(body): ApiJson<ConnectionPatch>,
) -> Result<Response, ApiError> {
    let key = integration_key(&q)?;
    patch_connection(&state, &key, &connection_id(id)?, body).await?;
    Ok(wire::json(wire::SUCCESS))
}

/// One connection id or several, as the ecosystem's clients send them (and get echoed).
#[derive(Deserialize, Serialize, Clone, Debug)]
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
async fn metadata(state: &AppState, body: MetadataBody, how: MetadataWrite) -> Result<Response, ApiError> {
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
    write_metadata(state, &key, &ids, &body.metadata, how).await?;
    Ok(wire::json(wire::MetadataWritten {
        connection_id: &body.connection_id,
        provider_config_key: &body.provider_config_key,
        metadata: &body.metadata,
    }))
}

pub async fn set_metadata(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<MetadataBody>,
) -> Result<Response, ApiError> {
    metadata(&state, body, MetadataWrite::Replace).await
}

pub async fn update_metadata(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<MetadataBody>,
) -> Result<Response, ApiError> {
    metadata(&state, body, MetadataWrite::Merge).await
}
