//! `POST /connections`: import a connection with existing credentials (OAUTH2, OAUTH2_CC,
//! API_KEY, BASIC), for teams migrating from another broker. API keys and Basic credentials are
//! verified with the provider first, as on the frontend routes. Answers the connection object.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::extract::ApiJson;
use crate::auth::verification;
use crate::connections::{read_connection, save_connection, to_wire, NewConnection};
use crate::credentials::Credentials;
use crate::domain::{ConnectionId, IntegrationKey};
use crate::error::Error;
use crate::{providers, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    connection_id: Option<String>,
    provider_config_key: String,
    credentials: Credentials,
    #[serde(default)]
    connection_config: Map<String, Value>,
    #[serde(default)]
    metadata: Map<String, Value>,
    end_user: Option<Value>,
    #[serde(default)]
    tags: Map<String, Value>,
}

fn empty(what: &str) -> Error {
    Error::invalid_body(format!("credentials.{what} must not be empty."))
}

pub async fn import(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ImportBody>,
) -> Result<Json<Value>, ApiError> {
    let key = IntegrationKey::parse(body.provider_config_key)?;
    let connection_id = match body.connection_id {
        Some(id) => ConnectionId::parse(id)?,
        None => ConnectionId::generate(),
    };
    let record = state
        .store
        .get_integration(&key)
        .await?
        .ok_or_else(|| Error::unknown_integration(key.as_str()))?;
    if body.credentials.auth_mode() != record.auth_mode {
        return Err(Error::invalid_body(format!(
            "credentials.type is {} but integration '{key}' uses {}.",
            body.credentials.auth_mode().as_str(),
            record.auth_mode.as_str()
        ))
        .into());
    }
    match &body.credentials {
        Credentials::OAuth2 { access_token, .. } if access_token.is_empty() => return Err(empty("access_token").into()),
        Credentials::OAuth2Cc { token, .. } if token.is_empty() => return Err(empty("token").into()),
        _ => {}
    }
    let config = providers::validate_imported_connection_config(&record.provider, &body.connection_config)?;
    let credentials = verification::check_credentials(providers::provider(&record.provider), body.credentials)?;
    if matches!(credentials, Credentials::ApiKey { .. } | Credentials::Basic { .. }) {
        if let Some(p) = providers::provider(&record.provider) {
            verification::verify(&state, &record, p, &config, &credentials).await?;
        }
    }
    save_connection(
        &state,
        NewConnection {
            integration: &record,
            connection_id: &connection_id,
            credentials: &credentials,
            connection_config: config,
            metadata: body.metadata,
            end_user: body.end_user,
            tags: body.tags,
        },
    )
    .await?;
    let (stored, credentials) = read_connection(&state, &key, &connection_id).await?;
    Ok(Json(to_wire(&stored, &credentials, false)))
}
