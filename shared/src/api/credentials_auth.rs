//! Frontend routes that connect without a browser redirect: `POST /api-auth/api-key/{integration}`,
//! `POST /api-auth/basic/{integration}` and `POST /oauth2/auth/{integration}` (client
//! credentials). Authenticated like the OAuth connect route (public key + HMAC, `params[...]`
//! in the query); the JSON body carries the credentials. The flow is `flows::submit`.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::ApiJson;
use super::frontend::parse_connect_query;
use super::wire;
use crate::auth::Submission;
use crate::domain::{AuthMode, IntegrationKey, Secret};
use crate::error::Error;
use crate::flows::submit::submit;
use crate::AppState;

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

pub async fn api_key(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    RawQuery(query): RawQuery,
    ApiJson(body): ApiJson<ApiKeyBody>,
) -> Result<Response, ApiError> {
    let submission = Submission::default().with("apiKey", Some(body.api_key));
    connect(&state, &integration, query.as_deref(), AuthMode::ApiKey, submission).await
}

pub async fn basic(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    RawQuery(query): RawQuery,
    ApiJson(body): ApiJson<BasicBody>,
) -> Result<Response, ApiError> {
    let submission = Submission::default()
        .with("username", Some(Secret::new(body.username)))
        .with("password", Some(body.password));
    connect(&state, &integration, query.as_deref(), AuthMode::Basic, submission).await
}

pub async fn client_credentials(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
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
        _ => {
            return Err(Error::invalid_body("Send both client_id and client_secret, or neither.").into());
        }
    };
    let submission = match own {
        Some((id, secret)) => Submission::default()
            .with("client_id", Some(Secret::new(id)))
            .with("client_secret", Some(secret)),
        None => Submission::default(),
    };
    connect(&state, &integration, query.as_deref(), AuthMode::OAuth2Cc, submission).await
}

async fn connect(
    state: &AppState,
    integration: &str,
    raw_query: Option<&str>,
    mode: AuthMode,
    submission: Submission,
) -> Result<Response, ApiError> {
    let settings = crate::environment::settings(state).await?;
    let request = parse_connect_query(raw_query)?;
    let key = IntegrationKey::parse(integration).map_err(|_| Error::unknown_integration(integration))?;
    let connected = submit(state, &settings, &request, &key, mode, submission).await?;
    Ok(wire::json(wire::Connected {
        provider_config_key: &connected.integration,
        connection_id: &connected.connection_id,
    }))
}
