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
    /// SHA-256 (hex) of the `ws_client_id` of the socket waiting for the outcome (Nango's
    /// frontend client), bound when the flow started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_hash: Option<String>,
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

#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub integration: Option<String>,
    pub connection_id: Option<String>,
    pub attempt_id: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    pub integrations: Vec<IntegrationKey>,
    pub connection_id: Option<ConnectionId>,
    pub end_user_id: Option<String>,
    /// Case-insensitive substring of the connection id.
    pub search: Option<String>,
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

/// The outcome of a browser flow, kept for the SDK's polling fallback under the SHA-256 of a
/// client nonce; read once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthResult {
    pub nonce_hash: String,
    pub body: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A socket waiting for the outcome of a browser flow (the WebSocket of Nango's frontend
/// client), under the SHA-256 of the `ws_client_id` it was given. Taken once, by the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketRecord {
    pub client_hash: String,
    /// Where the socket is held, in its transport's terms: an API Gateway connection id, or the
    /// local server's own id.
    pub connection: String,
    /// The web origin of the page that opened the socket: only a flow started by that origin
    /// may send to it.
    pub origin: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Environment-level settings changed at run time through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EnvironmentSettings {
    #[serde(default)]
    pub hmac_enabled: bool,
    /// Web origins allowed to receive auth results; empty = the origin that started the flow.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// How the end user's Connect page looks.
    #[serde(default)]
    pub connect_ui: ConnectUi,
}

/// The Connect page's theme: the team's app name and colour, and light or dark. Checked when set
/// (`environment::update`), so a value is always safe to put in the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConnectUi {
    /// Shown to the end user ("Connect your account to Acme"). 1 to 64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// Buttons and links, as `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// `light`, `dark` or `system` (the default: the end user's setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<ConnectTheme>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectTheme {
    Light,
    Dark,
    System,
}

impl EnvironmentSettings {
    /// The one allow-list rule, for every channel that answers a web page (CORS, the result
    /// page's `postMessage`, the popup sockets, framing of the Connect page): an origin may when
    /// `allowed_origins` names it, when that list is empty, or when it is the API's own origin
    /// (`own_origin`). The opaque origin `null` never may.
    pub fn allows_origin(&self, own_origin: &str, origin: &str) -> bool {
        origin != "null"
            && (self.allowed_origins.is_empty()
                || self.allowed_origins.iter().any(|o| o == origin)
                || own_origin == origin)
    }
}
