//! The wire objects of the API, in one place: what every response body looks like. Domain
//! modules return records and outcomes; handlers render them through these. Secrets leave only
//! as the contract says: a refresh token only when asked for, client secrets never. The
//! messages of Nango's clients and the Connect page's reads are in `wire/browser.rs`.

mod browser;
pub use browser::*;

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::result_page::Outcome;
use crate::config::EnvironmentKeys;
use crate::credentials::Credentials;
use crate::domain::{AuthMode, ConnectionId, IntegrationKey};
use crate::error::ErrorCode;
use crate::keys::KeyName;
use crate::store::{
    ActivityEntry, ActivityLevel, ConnectUi, ConnectionProblem, ConnectionRecord, ConnectionSummary, CustomOAuth2,
    EnvironmentSettings, IntegrationRecord,
};
use crate::time_fmt::rfc3339;

/// A 200 response with `body` as JSON.
pub fn json<T: Serialize>(body: T) -> Response {
    axum::Json(body).into_response()
}

fn date<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// `{"error":{"code","message"}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorDetail<'a> {
    code: ErrorCode,
    message: &'a str,
}

impl<'a> ErrorBody<'a> {
    pub fn new(code: ErrorCode, message: &'a str) -> Self {
        Self {
            error: ErrorDetail { code, message },
        }
    }
}

/// `{"data": …}`, the envelope of the operator routes.
#[derive(Debug, Serialize)]
pub struct Data<T> {
    pub data: T,
}

/// `{"success": true}`.
#[derive(Debug, Serialize)]
pub struct Success {
    success: bool,
}

pub const SUCCESS: Success = Success { success: true };

/// Removes the value at a dotted path (`authed_user.refresh_token`) of a JSON object.
fn remove_path(object: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            object.remove(path);
        }
        Some((head, rest)) => {
            if let Some(inner) = object.get_mut(head).and_then(Value::as_object_mut) {
                remove_path(inner, rest);
            }
        }
    }
}

/// A connection's credentials as the backend reads them: their sealed form without the
/// connection's own client secret (write-only, like an integration's), and without the
/// refresh token unless asked for — neither the top-level one nor any copy in `raw` (where the
/// provider's catalog entry says a refresh token may be: Slack's `authed_user.refresh_token`),
/// so a read-only consumer can't take over the grant.
pub fn credentials(credentials: &Credentials, provider: &str, include_refresh_token: bool) -> Value {
    let mut value = serde_json::to_value(credentials).expect("credentials serialize");
    if let Some(obj) = value.as_object_mut() {
        for field in credentials.write_only_fields() {
            obj.remove(&field);
        }
        if !include_refresh_token {
            without_refresh_token(obj, provider);
            // A GitHub App's installing user (`CUSTOM`): the user's token is an OAUTH2 value.
            if let Some(user) = obj.get_mut("user").and_then(Value::as_object_mut) {
                without_refresh_token(user, provider);
            }
        }
    }
    value
}

fn without_refresh_token(obj: &mut Map<String, Value>, provider: &str) {
    obj.remove("refresh_token");
    if let Some(raw) = obj.get_mut("raw").and_then(Value::as_object_mut) {
        for path in crate::providers::refresh_token_paths(provider) {
            remove_path(raw, &path);
        }
    }
}

/// One of a connection's active problems: `{type, log_id}`.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    log_id: &'a str,
}

fn problems(errors: &[ConnectionProblem]) -> Vec<Problem<'_>> {
    errors
        .iter()
        .map(|e| Problem {
            kind: &e.kind,
            log_id: &e.log_id,
        })
        .collect()
}

/// What a connection read shows beside what it always shows: secrets an operator asks for by
/// name (`refresh_token=true`, `secret_config=true`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Shown {
    pub refresh_token: bool,
    pub secret_config: bool,
}

/// What a masked secret looks like on the wire (as an integration's client secret).
const MASK: &str = "********";

/// A connection's config as the backend (and the console) reads it: the fields the provider
/// marks secret are masked unless asked for.
pub fn connection_config(record: &ConnectionRecord, show_secrets: bool) -> Map<String, Value> {
    let mut config = record.connection_config.clone();
    if !show_secrets {
        for name in crate::providers::secret_config_fields(&record.provider) {
            if let Some(value) = config.get_mut(name) {
                *value = Value::String(MASK.into());
            }
        }
    }
    config
}

/// The connection object.
#[derive(Debug, Serialize)]
pub struct Connection<'a> {
    id: &'a str,
    connection_id: &'a ConnectionId,
    provider_config_key: &'a IntegrationKey,
    provider: &'a str,
    #[serde(serialize_with = "date")]
    created_at: OffsetDateTime,
    #[serde(serialize_with = "date")]
    updated_at: OffsetDateTime,
    #[serde(serialize_with = "date")]
    last_fetched_at: OffsetDateTime,
    metadata: &'a Map<String, Value>,
    connection_config: Map<String, Value>,
    end_user: &'a Option<Value>,
    tags: &'a Map<String, Value>,
    errors: Vec<Problem<'a>>,
    webhook_url_override: &'a Option<String>,
    credentials: Value,
}

impl<'a> Connection<'a> {
    pub fn new(record: &'a ConnectionRecord, creds: &Credentials, shown: Shown) -> Self {
        Self {
            id: &record.id,
            connection_id: &record.connection_id,
            provider_config_key: &record.integration,
            provider: &record.provider,
            created_at: record.created_at,
            updated_at: record.updated_at,
            last_fetched_at: record.last_fetched_at,
            metadata: &record.metadata,
            connection_config: connection_config(record, shown.secret_config),
            end_user: &record.end_user,
            tags: &record.tags,
            errors: problems(&record.errors),
            webhook_url_override: &record.webhook_url_override,
            credentials: credentials(creds, &record.provider, shown.refresh_token),
        }
    }
}

/// An item of `GET /connections`: no credentials.
#[derive(Debug, Serialize)]
pub struct ConnectionListItem<'a> {
    id: &'a str,
    connection_id: &'a ConnectionId,
    provider_config_key: &'a IntegrationKey,
    provider: &'a str,
    auth_mode: AuthMode,
    #[serde(serialize_with = "date")]
    created: OffsetDateTime,
    metadata: &'a Map<String, Value>,
    errors: Vec<Problem<'a>>,
    end_user: &'a Option<Value>,
    tags: &'a Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct ConnectionList<'a> {
    connections: Vec<ConnectionListItem<'a>>,
}

impl<'a> ConnectionList<'a> {
    pub fn new(records: &'a [ConnectionSummary]) -> Self {
        let item = |r: &'a ConnectionSummary| ConnectionListItem {
            id: &r.id,
            connection_id: &r.connection_id,
            provider_config_key: &r.integration,
            provider: &r.provider,
            auth_mode: r.auth_mode,
            created: r.created_at,
            metadata: &r.metadata,
            errors: problems(&r.errors),
            end_user: &r.end_user,
            tags: &r.tags,
        };
        Self {
            connections: records.iter().map(item).collect(),
        }
    }
}

/// The echo of `POST`/`PATCH /connections/metadata`: the three fields as sent.
#[derive(Debug, Serialize)]
pub struct MetadataWritten<'a, Ids: Serialize> {
    pub connection_id: &'a Ids,
    pub provider_config_key: &'a str,
    pub metadata: &'a Map<String, Value>,
}

/// An integration. The client secret is never returned, only whether one is set.
#[derive(Debug, Serialize)]
pub struct Integration<'a> {
    unique_key: &'a IntegrationKey,
    provider: &'a str,
    display_name: &'a str,
    auth_mode: AuthMode,
    #[serde(serialize_with = "date")]
    created_at: OffsetDateTime,
    #[serde(serialize_with = "date")]
    updated_at: OffsetDateTime,
    credentials: IntegrationCredentials<'a>,
    custom: &'a Option<CustomOAuth2>,
    /// An `AWS_SIGV4` integration's settings (`null` for other modes); the secret access key
    /// is never shown.
    integration_config: Option<Value>,
    /// The operator's allowed hosts (empty: the defaults below apply).
    allowed_hosts: &'a [crate::domain::HostPattern],
    /// The hosts the catalog's templates allow when the operator set none.
    default_allowed_hosts: Vec<crate::domain::HostPattern>,
}

#[derive(Debug, Serialize)]
struct IntegrationCredentials<'a> {
    #[serde(rename = "type")]
    kind: AuthMode,
    client_id: &'a Option<String>,
    client_secret: Option<&'static str>,
    scopes: String,
    /// A GitHub App integration's app; its private key is never shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    app_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_link: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<&'static str>,
}

impl<'a> Integration<'a> {
    pub fn new(record: &'a IntegrationRecord) -> Self {
        Self {
            unique_key: &record.key,
            provider: &record.provider,
            display_name: record.display_name.as_deref().unwrap_or(record.key.as_str()),
            auth_mode: record.auth_mode,
            created_at: record.created_at,
            updated_at: record.updated_at,
            credentials: IntegrationCredentials {
                kind: record.auth_mode,
                client_id: &record.client_id,
                client_secret: record.client_secret.as_ref().map(|_| "********"),
                scopes: record.scopes.join(","),
                app_id: record.app.as_ref().map(|a| a.app_id.as_str()),
                app_link: record.app.as_ref().map(|a| a.app_link.as_str()),
                private_key: record.app.as_ref().map(|_| "********"),
            },
            custom: &record.custom,
            integration_config: record.aws_sigv4.as_ref().map(|aws| {
                serde_json::json!({
                    "service": aws.service,
                    "defaultRegion": aws.default_region,
                    "stsMode": "builtin",
                    "awsAccessKeyId": aws.access_key_id,
                    "awsSecretAccessKey": "********",
                })
            }),
            allowed_hosts: &record.allowed_hosts,
            default_allowed_hosts: crate::providers::default_allowed_hosts(&record.provider),
        }
    }
}

/// The environment: who it is, where flows come back, and its settings.
#[derive(Debug, Serialize)]
pub struct Environment<'a> {
    pub environment: &'a str,
    pub public_key: String,
    /// The redirect URI sent to providers now.
    pub callback_url: String,
    /// The deployment's, used while `callback_url` is not set at run time.
    pub default_callback_url: &'a str,
    pub hmac_enabled: bool,
    pub allowed_origins: &'a [String],
    pub webhook_url: &'a Option<String>,
    pub webhook_events: Vec<&'static str>,
    pub connect_ui: &'a ConnectUi,
    /// While a rotated secret key's predecessor still works: until when.
    #[serde(serialize_with = "optional_date")]
    pub previous_secret_key_expires_at: Option<OffsetDateTime>,
    /// Keys a `PATCH` just rotated, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_keys: Option<Map<String, Value>>,
}

fn optional_date<S: serde::Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

impl<'a> Environment<'a> {
    pub fn new(state: &'a crate::AppState, settings: &'a EnvironmentSettings, keys: &EnvironmentKeys) -> Self {
        Self {
            environment: &state.config.environment,
            public_key: keys.public_key.clone(),
            callback_url: crate::environment::callback_url(state, settings),
            default_callback_url: state.config.callback_url.as_str(),
            hmac_enabled: settings.hmac_enabled,
            allowed_origins: &settings.allowed_origins,
            webhook_url: &settings.webhook_url,
            webhook_events: settings.webhook_events.iter().map(|e| e.as_str()).collect(),
            connect_ui: &settings.connect_ui,
            previous_secret_key_expires_at: keys
                .previous_secret_key
                .as_ref()
                .and(keys.previous_secret_key_expires_at),
            rotated_keys: None,
        }
    }

    /// With the values of the keys just rotated.
    pub fn with_rotated(mut self, names: &[KeyName], keys: &EnvironmentKeys) -> Self {
        if names.is_empty() {
            return self;
        }
        let value = |name: KeyName| match name {
            KeyName::SecretKey => keys.secret_key.expose().to_owned(),
            KeyName::PublicKey => keys.public_key.clone(),
            KeyName::HmacKey => keys.hmac_key.expose().to_owned(),
            KeyName::WebhookSigningKey => keys.webhook_signing_key.expose().to_owned(),
        };
        self.rotated_keys = Some(
            names
                .iter()
                .map(|&n| (n.as_str().to_owned(), Value::String(value(n))))
                .collect(),
        );
        self
    }
}

/// How a test webhook went: `{data: {delivered, message}}`.
#[derive(Debug, Serialize)]
pub struct TestWebhook<'a> {
    delivered: bool,
    message: &'a str,
}

impl<'a> TestWebhook<'a> {
    pub fn new(sent: &'a crate::events::TestDelivery) -> Self {
        Self {
            delivered: sent.delivered,
            message: &sent.message,
        }
    }
}

/// A connect session's token, once: `{data: {token, connect_link, expires_at}}`.
#[derive(Debug, Serialize)]
pub struct ConnectSession<'a> {
    pub token: &'a str,
    pub connect_link: &'a str,
    #[serde(serialize_with = "date")]
    pub expires_at: OffsetDateTime,
}

/// A page of `GET /logs`: `{data: [entry, …], next_cursor}` (`null` on the last page).
#[derive(Debug, Serialize)]
pub struct ActivityPage<'a> {
    pub data: Vec<Activity<'a>>,
    pub next_cursor: Option<String>,
}

/// One activity entry.
#[derive(Debug, Serialize)]
pub struct Activity<'a> {
    id: &'a str,
    attempt_id: &'a str,
    #[serde(serialize_with = "date")]
    timestamp: OffsetDateTime,
    operation: &'a str,
    event: &'a str,
    level: ActivityLevel,
    integration: &'a Option<String>,
    connection_id: &'a Option<String>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: &'a Option<String>,
}

impl<'a> Activity<'a> {
    pub fn new(e: &'a ActivityEntry) -> Self {
        Self {
            id: &e.id,
            attempt_id: &e.attempt_id,
            timestamp: e.timestamp,
            operation: &e.operation,
            event: &e.event,
            level: e.level,
            integration: &e.integration,
            connection_id: &e.connection_id,
            message: &e.message,
            error_code: &e.error_code,
        }
    }
}

/// What a credentials route answers: the connection it wrote.
#[derive(Debug, Serialize)]
pub struct Connected<'a> {
    #[serde(rename = "providerConfigKey")]
    pub provider_config_key: &'a IntegrationKey,
    #[serde(rename = "connectionId")]
    pub connection_id: &'a ConnectionId,
}

/// A browser flow's outcome, as the poller receives it (`GET /oauth/result/{nonce}`).
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum PollResult<'a> {
    Success {
        #[serde(rename = "providerConfigKey")]
        provider_config_key: &'a str,
        #[serde(rename = "connectionId")]
        connection_id: &'a str,
    },
    Error {
        error_type: &'a str,
        error_desc: &'a str,
    },
    Pending,
}

impl<'a> From<&Outcome<'a>> for PollResult<'a> {
    fn from(outcome: &Outcome<'a>) -> Self {
        match *outcome {
            Outcome::Success {
                integration,
                connection_id,
            } => PollResult::Success {
                provider_config_key: integration,
                connection_id,
            },
            Outcome::Failure {
                error_type,
                description,
            } => PollResult::Error {
                error_type,
                error_desc: description,
            },
        }
    }
}

/// The result page's message to the opener (and on `BroadcastChannel("latchkey-auth")`).
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ResultMessage<'a> {
    #[serde(rename = "latchkey:auth:success")]
    Success {
        #[serde(rename = "providerConfigKey")]
        provider_config_key: &'a str,
        #[serde(rename = "connectionId")]
        connection_id: &'a str,
    },
    #[serde(rename = "latchkey:auth:error")]
    Error { error_type: &'a str, error_desc: &'a str },
}

impl<'a> From<&Outcome<'a>> for ResultMessage<'a> {
    fn from(outcome: &Outcome<'a>) -> Self {
        match *outcome {
            Outcome::Success {
                integration,
                connection_id,
            } => ResultMessage::Success {
                provider_config_key: integration,
                connection_id,
            },
            Outcome::Failure {
                error_type,
                description,
            } => ResultMessage::Error {
                error_type,
                error_desc: description,
            },
        }
    }
}

/// A catalog entry, and whether Latchkey can connect it yet.
#[derive(Debug, Serialize)]
pub struct ProviderEntry<'a> {
    #[serde(flatten)]
    pub provider: &'a crate::providers::schema::Provider,
    pub supported: bool,
}

#[derive(Debug, Serialize)]
pub struct Catalog<T> {
    pub data: T,
    pub source: &'static str,
}

#[cfg(test)]
mod tests;
