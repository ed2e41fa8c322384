//! The wire objects of the API, in one place: what every response body looks like. Domain
//! modules return records and outcomes; handlers render them through these. Secrets leave only
//! as the contract says: a refresh token only when asked for, client secrets never.

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::result_page::Outcome;
use crate::credentials::Credentials;
use crate::domain::{AuthMode, ConnectionId, IntegrationKey};
use crate::error::ErrorCode;
use crate::store::{
    ActivityEntry, ActivityLevel, ConnectionProblem, ConnectionRecord, ConnectionSummary, CustomOAuth2,
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

/// A connection's credentials as the backend reads them: their sealed form without the
/// connection's own client secret (write-only, like an integration's), and without the
/// refresh token (also inside `raw`) unless asked for, so a read-only consumer can't take over
/// the grant.
pub fn credentials(credentials: &Credentials, include_refresh_token: bool) -> Value {
    let mut value = serde_json::to_value(credentials).expect("credentials serialize");
    if let Some(obj) = value.as_object_mut() {
        for field in credentials.write_only_fields() {
            obj.remove(&field);
        }
        if !include_refresh_token {
            obj.remove("refresh_token");
            if let Some(raw) = obj.get_mut("raw").and_then(Value::as_object_mut) {
                raw.remove("refresh_token");
            }
        }
    }
    value
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
    connection_config: &'a Map<String, Value>,
    end_user: &'a Option<Value>,
    tags: &'a Map<String, Value>,
    errors: Vec<Problem<'a>>,
    credentials: Value,
}

impl<'a> Connection<'a> {
    pub fn new(record: &'a ConnectionRecord, creds: &Credentials, include_refresh_token: bool) -> Self {
        Self {
            id: &record.id,
            connection_id: &record.connection_id,
            provider_config_key: &record.integration,
            provider: &record.provider,
            created_at: record.created_at,
            updated_at: record.updated_at,
            last_fetched_at: record.last_fetched_at,
            metadata: &record.metadata,
            connection_config: &record.connection_config,
            end_user: &record.end_user,
            tags: &record.tags,
            errors: problems(&record.errors),
            credentials: credentials(creds, include_refresh_token),
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
            },
            custom: &record.custom,
            allowed_hosts: &record.allowed_hosts,
            default_allowed_hosts: crate::providers::default_allowed_hosts(&record.provider),
        }
    }
}

/// The environment: who it is, where flows come back, and its settings.
#[derive(Debug, Serialize)]
pub struct Environment<'a> {
    pub environment: &'a str,
    pub public_key: &'a str,
    pub callback_url: &'a str,
    pub hmac_enabled: bool,
    pub allowed_origins: &'a [String],
}

impl<'a> Environment<'a> {
    pub fn new(state: &'a crate::AppState, settings: &'a EnvironmentSettings) -> Self {
        Self {
            environment: &state.config.environment,
            public_key: &state.keys.public_key,
            callback_url: state.config.callback_url.as_str(),
            hmac_enabled: settings.hmac_enabled,
            allowed_origins: &settings.allowed_origins,
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
mod tests {
    use super::*;
    use crate::domain::{AccessToken, RefreshToken};
    use serde_json::json;

    #[test]
    fn refresh_tokens_are_shown_only_on_request() {
        let creds = Credentials::OAuth2 {
            access_token: AccessToken::new("at"),
            refresh_token: Some(RefreshToken::new("rt")),
            expires_at: None,
            raw: json!({"access_token": "at", "refresh_token": "rt", "team": "x"})
                .as_object()
                .unwrap()
                .clone()
                .into(),
        };
        assert_eq!(
            credentials(&creds, false),
            json!({"type": "OAUTH2", "access_token": "at", "raw": {"access_token": "at", "team": "x"}})
        );
        assert_eq!(credentials(&creds, true)["refresh_token"], "rt");
        assert_eq!(credentials(&creds, true)["raw"]["refresh_token"], "rt");
    }

    #[test]
    fn a_connections_errors_come_from_its_record() {
        let mut record = crate::store::conformance::connection("it", "c1");
        record.errors = vec![ConnectionProblem {
            kind: "refresh".into(),
            log_id: "attempt-1".into(),
        }];
        let creds = Credentials::ApiKey {
            api_key: crate::domain::Secret::new("k"),
        };
        let wire = serde_json::to_value(Connection::new(&record, &creds, false)).unwrap();
        assert_eq!(wire["errors"], json!([{"type": "refresh", "log_id": "attempt-1"}]));
        let list = serde_json::to_value(ConnectionList::new(std::slice::from_ref(&record.summary()))).unwrap();
        assert_eq!(list["connections"][0]["errors"], wire["errors"]);
        record.errors.clear();
        let wire = serde_json::to_value(Connection::new(&record, &creds, false)).unwrap();
        assert_eq!(wire["errors"], json!([]));
    }

    #[test]
    fn outcomes_keep_their_wire_shapes() {
        let ok = Outcome::Success {
            integration: "gh",
            connection_id: "u1",
        };
        let err = Outcome::Failure {
            error_type: "access_denied",
            description: "no",
        };
        assert_eq!(
            serde_json::to_value(PollResult::from(&ok)).unwrap(),
            json!({"status": "success", "providerConfigKey": "gh", "connectionId": "u1"})
        );
        assert_eq!(
            serde_json::to_value(PollResult::from(&err)).unwrap(),
            json!({"status": "error", "error_type": "access_denied", "error_desc": "no"})
        );
        assert_eq!(
            serde_json::to_value(PollResult::Pending).unwrap(),
            json!({"status": "pending"})
        );
        assert_eq!(
            serde_json::to_value(ResultMessage::from(&ok)).unwrap(),
            json!({"type": "latchkey:auth:success", "providerConfigKey": "gh", "connectionId": "u1"})
        );
        assert_eq!(
            serde_json::to_value(ResultMessage::from(&err)).unwrap(),
            json!({"type": "latchkey:auth:error", "error_type": "access_denied", "error_desc": "no"})
        );
    }
}
