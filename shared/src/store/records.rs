//! The records the store keeps: plain data, serialized as JSON into each backend's `body`
//! column or attribute. Secrets inside them are already sealed (`Sealed`), or are one-use flow
//! secrets (an OAuth `state`, a PKCE verifier) that never outlive their session.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{AuthMode, ConnectionConfig, ConnectionId, IntegrationKey, OAuthState, PkceVerifier};

/// Sealed bytes, kept as base64 inside serialized records.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sealed(pub Vec<u8>);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

impl Serialize for Sealed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Sealed)
            .map_err(serde::de::Error::custom)
    }
}

/// Operator-defined OAuth2 endpoints, for providers outside the catalog (in-house identity
/// servers) or to override a catalog entry's URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CustomOAuth2 {
    /// Required for `custom-oauth2`; for a catalog provider, empty keeps the catalog's URL.
    #[serde(default)]
    pub authorization_url: String,
    #[serde(default)]
    pub token_url: String,
    /// Replaces the catalog's `proxy.base_url` (used for credential verification), e.g. a
    /// self-hosted instance or a staging peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_url: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub authorization_params: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub token_params: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_separator: Option<String>,
    /// `body` (client id and secret in the form, the default) or `basic` (HTTP Basic header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_request_auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_pkce: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationRecord {
    pub key: IntegrationKey,
    pub provider: String,
    pub display_name: Option<String>,
    pub auth_mode: AuthMode,
    pub client_id: Option<String>,
    /// Sealed with `SealContext::integration`.
    pub client_secret: Option<Sealed>,
    pub scopes: Vec<String>,
    pub custom: Option<CustomOAuth2>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Stable internal id, kept across overrides.
    pub id: String,
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    pub provider: String,
    pub auth_mode: AuthMode,
    /// The credentials JSON, sealed with `SealContext::connection`.
    pub credentials: Sealed,
    pub connection_config: ConnectionConfig,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub end_user: Option<serde_json::Value>,
    pub tags: serde_json::Map<String, serde_json::Value>,
    /// When the access token expires, if it does: what the refresh scheduler orders by.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When credentials were last obtained from the provider.
    #[serde(with = "time::serde::rfc3339")]
    pub last_fetched_at: OffsetDateTime,
    /// Optimistic-locking counter, incremented by every write.
    pub version: u64,
    /// The connection's active problems (a failed refresh), cleared when it works again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ConnectionProblem>,
}

/// One active problem of a connection: what failed, and the activity attempt that tells how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionProblem {
    /// What kind of operation failed (`auth`, `refresh`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The `attempt_id` of the activity entries that describe it.
    pub log_id: String,
}

impl ConnectionRecord {
    /// What a re-authorization keeps of the connection it replaces: its identity and creation
    /// time, and the metadata, end user and tags the new authorization does not name. Every
    /// store's `upsert_connection` applies this one rule.
    pub fn replacing(mut self, previous: &ConnectionRecord) -> Self {
        self.id = previous.id.clone();
        self.created_at = previous.created_at;
        self.version = previous.version + 1;
        if self.metadata.is_empty() {
            self.metadata = previous.metadata.clone();
        }
        if self.end_user.is_none() {
            self.end_user = previous.end_user.clone();
        }
        if self.tags.is_empty() {
            self.tags = previous.tags.clone();
        }
        self
    }
}

/// Whether an upsert created the connection or replaced an earlier one (a re-authorization).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Replaced,
}

/// One in-flight OAuth authorization, keyed by its `state`, consumed exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthSession {
    pub state: OAuthState,
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    pub code_verifier: Option<PkceVerifier>,
    pub redirect_uri: String,
    pub connection_config: ConnectionConfig,
    /// The web origin that started the flow: the only target of the result `postMessage`.
    pub origin: Option<String>,
    /// Groups this attempt's activity entries.
    pub attempt_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// SHA-256 (hex) of the SDK's client nonce: where the outcome is kept for polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_nonce_hash: Option<String>,
    /// The end user of the connect session that started the flow, stored on the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityLevel {
    Info,
    Error,
}

/// One step of an operation (an auth attempt, a refresh), written for the operator. Never holds
/// a secret: messages are built from codes and provider error names, not response bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityEntry {
    pub id: String,
    pub attempt_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub operation: String,
    pub event: String,
    pub level: ActivityLevel,
    pub integration: Option<String>,
    pub connection_id: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// Which entries `list_activity` returns: every field set must match; newest first.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub integration: Option<String>,
    pub connection_id: Option<String>,
    pub attempt_id: Option<String>,
    pub operation: Option<String>,
    pub level: Option<ActivityLevel>,
    /// Entries at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only entries older than this position (the last entry of the previous page, or a time:
    /// `ActivityCursor::at`). `None` = from the newest.
    pub before: Option<ActivityCursor>,
    pub limit: usize,
}

impl ActivityFilter {
    /// Whether `entry` passes every field of the filter: the one statement of the rule, for
    /// backends that filter what their indexes return.
    pub fn matches(&self, entry: &ActivityEntry) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        same(&self.integration, &entry.integration)
            && same(&self.connection_id, &entry.connection_id)
            && self.attempt_id.as_ref().is_none_or(|a| *a == entry.attempt_id)
            && self.operation.as_ref().is_none_or(|o| *o == entry.operation)
            && self.level.is_none_or(|l| l == entry.level)
            && self.since.is_none_or(|t| entry.timestamp >= t)
            && self.before.as_ref().is_none_or(|c| c.is_after(entry))
    }
}

/// A position in the activity log, newest first: entries order by (timestamp, id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCursor {
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub id: String,
}

impl ActivityCursor {
    /// The position after `entry`: the next page starts with the entry older than it.
    pub fn after(entry: &ActivityEntry) -> Self {
        Self {
            timestamp: entry.timestamp,
            id: entry.id.clone(),
        }
    }

    /// Everything strictly before `t`.
    pub fn at(t: OffsetDateTime) -> Self {
        Self {
            timestamp: t,
            id: String::new(),
        }
    }

    /// Whether `entry` comes after this position (is older, newest first).
    pub fn is_after(&self, entry: &ActivityEntry) -> bool {
        (entry.timestamp, entry.id.as_str()) < (self.timestamp, self.id.as_str())
    }

    /// The earlier of two positions.
    pub fn min(self, other: Option<ActivityCursor>) -> Self {
        match other {
            Some(o) if (o.timestamp, &o.id) < (self.timestamp, &self.id) => o,
            _ => self,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    pub integrations: Vec<IntegrationKey>,
    pub connection_id: Option<ConnectionId>,
    pub end_user_id: Option<String>,
    /// Case-insensitive substring of the connection id.
    pub search: Option<String>,
    /// Only connections with an active problem (`errors` not empty).
    pub with_errors: bool,
    pub limit: usize,
    pub offset: usize,
}

/// A connect session: lets a frontend start auth flows for one end user without the public
/// key. Only the SHA-256 of its token is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectSession {
    pub token_hash: String,
    pub end_user: serde_json::Value,
    #[serde(default)]
    pub organization: Option<serde_json::Value>,
    /// `None` = every integration.
    #[serde(default)]
    pub allowed_integrations: Option<Vec<IntegrationKey>>,
    /// Per-integration defaults, e.g. `{"zendesk": {"connection_config": {"subdomain": "acme"}}}`.
    #[serde(default)]
    pub integrations_config_defaults: serde_json::Map<String, serde_json::Value>,
    /// Set for a reconnect session: the one connection it may re-authorize.
    #[serde(default)]
    pub reconnect: Option<(IntegrationKey, ConnectionId)>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An operator's console session: only the SHA-256 of its token is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    pub token_hash: String,
    /// SHA-256 (hex) of the secret key it was signed in with: the session ends when that key
    /// is no longer accepted, and manages keys only while it is the current one.
    pub key_fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The outcome of a browser flow, kept for the SDK's polling fallback under the SHA-256 of a
/// client nonce; read once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthResult {
    pub nonce_hash: String,
    pub body: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Environment-level settings changed at run time through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSettings {
    #[serde(default)]
    pub hmac_enabled: bool,
    /// Web origins allowed to receive auth results; empty = the origin that started the flow.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The redirect URI sent to providers; `None` = the deployment's (`Config::callback_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Where auth webhooks go; `None` = none are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Which auth webhooks are sent to `webhook_url`.
    #[serde(default = "WebhookEvent::all")]
    pub webhook_events: Vec<WebhookEvent>,
}

impl Default for EnvironmentSettings {
    fn default() -> Self {
        Self {
            hmac_enabled: false,
            allowed_origins: Vec::new(),
            callback_url: None,
            webhook_url: None,
            webhook_events: WebhookEvent::all(),
        }
    }
}

/// An auth webhook the environment may send: a connection created, re-authorized (override),
/// its refresh failed, or it works again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    Creation,
    Override,
    RefreshFailed,
    RefreshRecovered,
}

impl WebhookEvent {
    pub fn all() -> Vec<WebhookEvent> {
        vec![
            WebhookEvent::Creation,
            WebhookEvent::Override,
            WebhookEvent::RefreshFailed,
            WebhookEvent::RefreshRecovered,
        ]
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::Creation => "creation",
            WebhookEvent::Override => "override",
            WebhookEvent::RefreshFailed => "refresh_failed",
            WebhookEvent::RefreshRecovered => "refresh_recovered",
        }
    }
}
