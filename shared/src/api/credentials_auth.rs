//! Frontend routes that connect without a browser redirect: `POST /api-auth/api-key/{integration}`,
//! `POST /api-auth/basic/{integration}`, `POST /oauth2/auth/{integration}` (client
//! credentials) and `POST /auth/{mode}/{integration}` (the modes whose body is the catalog's
//! credential fields: `two-step`, `jwt`, `tba`, `signature`, `bill`, `aws-sigv4`, …) and
//! `POST /auth/unauthenticated/{integration}` (`NONE`: no body). Authenticated like the OAuth connect route (public key + HMAC, `params[...]`
//! in the query); the JSON body carries the credentials. The flow is `flows::submit`.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath};
use super::frontend::parse_connect_query;
use super::wire;
use crate::auth::Submission;
use crate::domain::{AuthMode, IntegrationKey, Secret};
use crate::error::{Error, ErrorCode};
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
    /// A TLS client certificate and key (PEM), for a provider that asks for mutual TLS.
    client_certificate: Option<String>,
    client_private_key: Option<Secret>,
}

pub async fn api_key(
    State(state): State<AppState>,
    ApiPath(integration): ApiPath<String>,
    RawQuery(query): RawQuery,
    ApiJson(body): ApiJson<ApiKeyBody>,
) -> Result<Response, ApiError> {
    let submission = Submission::default().with("apiKey", Some(body.api_key));
    connect(&state, &integration, query.as_deref(), AuthMode::ApiKey, submission).await
}

pub async fn basic(
    State(state): State<AppState>,
    ApiPath(integration): ApiPath<String>,
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
    ApiPath(integration): ApiPath<String>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // The body is optional: without one, the integration's client credentials are used.
    let body: ClientCredentialsBody = if body.iter().all(u8::is_ascii_whitespace) {
        ClientCredentialsBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            Error::invalid_body("The body must be JSON: {\"client_id\": \"…\", \"client_secret\": \"…\"} (and client_certificate, client_private_key where the provider asks for mutual TLS).")
        })?
    };
    let tls = match (body.client_certificate, body.client_private_key) {
        (Some(certificate), Some(key)) if !certificate.is_empty() && !key.is_empty() => Some((certificate, key)),
        (None, None) => None,
        _ => {
            return Err(Error::invalid_body("Send both client_certificate and client_private_key, or neither.").into());
        }
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
    let submission = match tls {
        Some((certificate, key)) => submission
            .with("client_certificate", Some(Secret::new(certificate)))
            .with("client_private_key", Some(key)),
        None => submission,
    };
    connect(&state, &integration, query.as_deref(), AuthMode::OAuth2Cc, submission).await
}

/// Field names of a credentials body: what the catalog's `credentials` keys look like.
fn field_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// `POST /auth/{mode}/{integration}`: a JSON object of string fields (the mode's credentials,
/// by the catalog's names), submitted to the integration's mode. Nango's frontend client sends
/// the credentials object as given to `auth()`: with `type` (the route's mode; dropped) and,
/// for assertion-signing entries, an `assertionOption` object of string fields (its fields join
/// the others; the mode tells them apart by the catalog's names). A JWT key given as
/// `{"id", "secret"}` (how Nango's frontend passes Ghost's Admin API key) is the catalog's
/// `id:secret`.
pub async fn by_mode(
    State(state): State<AppState>,
    ApiPath((mode, integration)): ApiPath<(String, String)>,
    RawQuery(query): RawQuery,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let mode = AuthMode::from_route_segment(&mode)
        .ok_or_else(|| Error::not_found(ErrorCode::NotFound, "No auth route for that mode."))?;
    let mut fields = Vec::new();
    for (name, value) in body {
        match (name.as_str(), value) {
            ("type", Value::String(t)) if t == mode.as_str() => {}
            ("type", _) => {
                return Err(Error::invalid_body(format!("type must be {mode} on this route.")).into());
            }
            ("assertionOption", Value::Object(options)) => fields.extend(options),
            (_, Value::Object(key)) if mode == AuthMode::Jwt => {
                let joined = match (key.get("id"), key.get("secret"), key.len()) {
                    (Some(Value::String(id)), Some(Value::String(secret)), 2) => format!("{id}:{secret}"),
                    _ => {
                        return Err(Error::invalid_body(format!(
                            "Credential field '{name}' must be a string, or an object of id and secret."
                        ))
                        .into())
                    }
                };
                fields.push((name, Value::String(joined)));
            }
            (_, value) => fields.push((name, value)),
        }
    }
    let mut submission = Submission::default();
    for (name, value) in fields {
        let Value::String(text) = value else {
            return Err(Error::invalid_body("Every credential field must be a string.").into());
        };
        if !field_name_ok(&name) {
            return Err(
                Error::invalid_body("Credential field names may contain only letters, digits and _ - .").into(),
            );
        }
        if submission.contains(&name) {
            return Err(Error::invalid_body(format!("Credential field '{name}' is given twice.")).into());
        }
        submission = submission.with(&name, Some(Secret::new(text)));
    }
    connect(&state, &integration, query.as_deref(), mode, submission).await
}

/// `POST /auth/unauthenticated/{integration}` (`create()` of Nango's frontend): a `NONE`
/// connection, with its connection config in the query and no body.
pub async fn unauthenticated(
    State(state): State<AppState>,
    ApiPath(integration): ApiPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    connect(
        &state,
        &integration,
        query.as_deref(),
        AuthMode::None,
        Submission::default(),
    )
    .await
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
    let key = IntegrationKey::from_path(integration)?;
    let connected = submit(state, &settings, &request, &key, mode, submission).await?;
    Ok(wire::json(wire::Connected {
        provider_config_key: &connected.integration,
        connection_id: &connected.connection_id,
    }))
}
