//! Frontend routes that connect without a browser redirect: `POST /api-auth/api-key/{integration}`,
//! `POST /api-auth/basic/{integration}` and `POST /oauth2/auth/{integration}` (client
//! credentials). Authenticated like the OAuth connect route (public key + HMAC, `params[...]`
//! in the query); the JSON body carries the credentials. Nothing is stored until the provider
//! accepted them.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::ApiJson;
use super::frontend::{begin_flow, ConnectQuery, FlowStart};
use crate::auth::{client_credentials, verification};
use crate::connections::{save_connection, NewConnection};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, ConnectionId, IntegrationKey, Secret};
use crate::error::Error;
use crate::store::IntegrationRecord;
use crate::{providers, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyBody {
    #[serde(rename = "apiKey")]
    api_key: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicBody {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: Secret,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentialsBody {
    client_id: Option<String>,
    client_secret: Option<Secret>,
}

/// What a connect request brought.
pub enum Submitted {
    Credentials(Credentials),
    ClientCredentials(Option<(String, Secret)>),
}

pub async fn api_key(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    RawQuery(query): RawQuery,
    ApiJson(body): ApiJson<ApiKeyBody>,
) -> Result<Json<Value>, ApiError> {
    let creds = Credentials::ApiKey { api_key: body.api_key };
    connect(
        &state,
        &integration,
        query.as_deref(),
        AuthMode::ApiKey,
        Submitted::Credentials(creds),
    )
    .await
}

pub async fn basic(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    RawQuery(query): RawQuery,
    ApiJson(body): ApiJson<BasicBody>,
) -> Result<Json<Value>, ApiError> {
    let creds = Credentials::Basic {
        username: body.username,
        password: body.password,
    };
    connect(
        &state,
        &integration,
        query.as_deref(),
        AuthMode::Basic,
        Submitted::Credentials(creds),
    )
    .await
}

pub async fn client_credentials(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // The body is optional: without one, the integration's client credentials are used.
    let body: ClientCredentialsBody = if body.iter().all(u8::is_ascii_whitespace) {
        ClientCredentialsBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            Error::invalid_body("The body must be JSON: {\"client_id\": \"…\", \"client_secret\": \"…\"}.")
        })?
    };
    let own = match (body.client_id, body.client_secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Some((id, secret)),
        (None, None) => None,
        _ => return Err(Error::invalid_body("Send both client_id and client_secret, or neither.").into()),
    };
    connect(
        &state,
        &integration,
        query.as_deref(),
        AuthMode::OAuth2Cc,
        Submitted::ClientCredentials(own),
    )
    .await
}

async fn connect(
    state: &AppState,
    integration: &str,
    raw_query: Option<&str>,
    mode: AuthMode,
    submitted: Submitted,
) -> Result<Json<Value>, ApiError> {
    let settings = state.store.get_settings().await?;
    let query = ConnectQuery::parse(raw_query)?;
    let key = IntegrationKey::parse(integration).map_err(|_| Error::unknown_integration(integration))?;
    let FlowStart {
        caller,
        attempt,
        integration: record,
        connection_config: config,
    } = begin_flow(state, &settings, &query, &key, mode).await?;
    let connection_id = caller.connection_id.clone();
    let result: Result<(), ApiError> = async {
        let (credentials, config) = obtain(state, &record, config, submitted).await?;
        attempt
            .info(state, "verified", "The provider accepted the credentials.")
            .await;
        store(
            state,
            &record,
            &connection_id,
            &credentials,
            config,
            caller.end_user.clone(),
        )
        .await?;
        attempt.info(state, "stored", "Connection stored.").await;
        Ok(())
    }
    .await;
    if let Err(e) = &result {
        attempt.failed(state, e.code, e.message.clone()).await;
    }
    result?;
    Ok(Json(json!({"providerConfigKey": key, "connectionId": connection_id})))
}

/// Turns what was submitted into verified credentials (and the final connection config).
pub async fn obtain(
    state: &AppState,
    record: &IntegrationRecord,
    config: crate::domain::ConnectionConfig,
    submitted: Submitted,
) -> Result<(Credentials, crate::domain::ConnectionConfig), ApiError> {
    let provider = providers::provider(&record.provider);
    match submitted {
        Submitted::Credentials(c) => {
            let c = verification::check_credentials(provider, c)?;
            if let Some(p) = provider {
                verification::verify(state, record, p, &config, &c).await?;
            }
            Ok((c, config))
        }
        Submitted::ClientCredentials(own) => {
            let (c, metadata) = client_credentials::fetch(state, record, &config, own).await?;
            let config = providers::config_from_provider(&record.provider, config, &metadata, &[]);
            Ok((c, config))
        }
    }
}

async fn store(
    state: &AppState,
    record: &IntegrationRecord,
    connection_id: &ConnectionId,
    credentials: &Credentials,
    connection_config: crate::domain::ConnectionConfig,
    end_user: Option<Value>,
) -> Result<(), ApiError> {
    save_connection(
        state,
        NewConnection {
            integration: record,
            connection_id,
            credentials,
            connection_config,
            metadata: Default::default(),
            end_user,
            tags: Default::default(),
        },
    )
    .await?;
    Ok(())
}
