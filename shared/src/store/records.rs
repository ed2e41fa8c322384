//! The records the store keeps: plain data, serialized as JSON into each backend's `body`
//! column or attribute. Secrets inside them are already sealed (`Sealed`), or are one-use flow
//! secrets (an OAuth `state`, a PKCE verifier) that never outlive their session. A connection's
//! sealed credentials and sealed secret config are the exception to "all in `body`": every
//! backend keeps them in columns or attributes of their own, so no listing, index or copy of the
//! body ever holds them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::HostPattern;
use crate::domain::{AuthMode, ConnectionConfig, ConnectionId, IntegrationKey, OAuthState, PkceVerifier, VouchedKeys};

mod activity;
pub use activity::*;

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

/// A GitHub App an `APP` integration connects through: its id (the app JWT's issuer), its
/// public link (`https://github.com/apps/<slug>`: where the browser installs it) and its private
/// key (PEM), sealed with `SealContext::integration` and never returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GitHubApp {
    pub app_id: String,
    pub app_link: String,
    pub private_key: Sealed,
}

/// An `AWS_SIGV4` integration's settings (`auth::aws_sigv4`): the service requests are signed
/// for, the region used when a connection names none, and the operator's IAM access key that
/// calls STS `AssumeRole`, its secret sealed with `SealContext::integration` and never returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsSigV4Settings {
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_region: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: Sealed,
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
    /// The hosts an end user may name in this integration's connection config; empty = the
    /// defaults the catalog's templates imply (`providers::hosts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<HostPattern>,
    /// An `APP` integration's GitHub App (records from before it have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<GitHubApp>,
    /// An `AWS_SIGV4` integration's settings (`integration_config` on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_sigv4: Option<AwsSigV4Settings>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Assigned by the store when the integration is created (the input's value is ignored):
    /// its connections belong to this generation. Deleting the integration ends it at once,
    /// so its connections are gone for reads and listings while they are purged in the
    /// background, and an integration created again under the same key starts empty.
    #[serde(default)]
    pub generation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    /// Stable internal id, kept across overrides.
    pub id: String,
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    pub provider: String,
    pub auth_mode: AuthMode,
    /// The credentials JSON, sealed with `SealContext::connection`. Not part of the record's
    /// JSON: each backend stores it apart (see the module doc).
    #[serde(skip)]
    pub credentials: Sealed,
    /// The connection config without the fields the provider marks secret (`secret_config`).
    pub connection_config: ConnectionConfig,
    /// The provider's secret connection-config fields (a password, a developer token) as a JSON
    /// object, sealed with `SealContext::connection` like the credentials, and stored apart
    /// like them (not part of the record's JSON).
    #[serde(skip)]
    pub secret_config: Option<Sealed>,
    /// The connection config keys the team's backend set: hosts they fill were vouched for.
    #[serde(default, skip_serializing_if = "VouchedKeys::is_empty")]
    pub vouched_config: VouchedKeys,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub end_user: Option<serde_json::Value>,
    pub tags: serde_json::Map<String, serde_json::Value>,
    /// When the access token expires, if it does (with `last_fetched_at`, its lifetime: what
    /// `RefreshPolicy` schedules by).
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
    /// Whether the sealed credentials hold a refresh token: what a keepalive refresh needs
    /// (`refresh_policy`). Records written before the field existed count as having one.
    #[serde(default = "has_refresh_token_by_default")]
    pub has_refresh_token: bool,
    /// The last backend read the store recorded. Like the refresh lease it is kept beside the
    /// record: `ConnectionStore::read_connection` writes it only when the read changes when the
    /// connection is next renewed (`RefreshPolicy::read_moves_schedule`), without a version
    /// bump; record writes store the value they carry.
    #[serde(skip)]
    pub last_read_at: Option<OffsetDateTime>,
    /// The connection's active problems (a failed refresh), cleared when it works again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ConnectionProblem>,
    /// Where this connection's auth webhooks go instead of the environment's `webhook_url`:
    /// set by the team's backend (connect session, import, `PATCH /connections`), never by an
    /// end user. Kept across re-authorizations that do not name one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url_override: Option<String>,
    /// The state of a refresh that failed, until one succeeds or the connection is authorized
    /// again (`connections::refresh`): what failed, how often, and when the provider may be
    /// asked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_failure: Option<RefreshFailure>,
}

/// Whether a failed refresh is worth retrying as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The provider refused (`invalid_grant`, a revoked grant, a client error): the connection
    /// needs to be authorized again, unless a later attempt proves otherwise.
    Refused,
    /// The provider failed on its side, timed out or could not be reached.
    Unavailable,
}

/// A connection's failed refreshes since its last success. Reads and the scheduler leave the
/// provider alone until `next_attempt_at` (`None`: given up until `force_refresh` or a new
/// authorization).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFailure {
    pub kind: FailureKind,
    /// Consecutive failures of this kind (a failure of the other kind starts again at 1).
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_failure_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// What the provider (or the transport) said: `invalid_grant`, `token_timeout`, … Never a
    /// secret.
    pub cause: String,
    /// The `attempt_id` of the activity entries of the last failure.
    pub log_id: String,
}

impl RefreshFailure {
    /// The refresh policy's view of it: when the provider may be asked again.
    pub fn hold(&self) -> crate::refresh_policy::Hold {
        match self.next_attempt_at {
            Some(t) => crate::refresh_policy::Hold::Until(t),
            None => crate::refresh_policy::Hold::GaveUp,
        }
    }
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

/// What the refresh policy reads of a connection.
impl<'a> From<&'a ConnectionRecord> for crate::refresh_policy::RefreshFacts<'a> {
    fn from(r: &'a ConnectionRecord) -> Self {
        Self {
            auth_mode: r.auth_mode,
            has_refresh_token: r.has_refresh_token,
            provider: &r.provider,
            expires_at: r.expires_at,
            last_fetched_at: r.last_fetched_at,
            last_read_at: r.last_read_at,
            hold: r
                .refresh_failure
                .as_ref()
                .map(RefreshFailure::hold)
                .unwrap_or(crate::refresh_policy::Hold::None),
        }
    }
}

fn has_refresh_token_by_default() -> bool {
    true
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
        if self.last_read_at.is_none() {
            self.last_read_at = previous.last_read_at;
        }
        if self.webhook_url_override.is_none() {
            self.webhook_url_override = previous.webhook_url_override.clone();
        }
        self
    }

    /// What a listing shows of the connection.
    pub fn summary(&self) -> ConnectionSummary {
        ConnectionSummary {
            id: self.id.clone(),
            integration: self.integration.clone(),
            connection_id: self.connection_id.clone(),
            provider: self.provider.clone(),
            auth_mode: self.auth_mode,
            metadata: self.metadata.clone(),
            end_user: self.end_user.clone(),
            tags: self.tags.clone(),
            created_at: self.created_at,
            errors: self.errors.clone(),
        }
    }
}

/// A connection as listings show it: no credentials, nothing that changes when they are
/// renewed (so listing indexes are not rewritten by refreshes) — only when renewing fails or
/// recovers (`errors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSummary {
    pub id: String,
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    pub provider: String,
    pub auth_mode: AuthMode,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub end_user: Option<serde_json::Value>,
    pub tags: serde_json::Map<String, serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ConnectionProblem>,
}

/// A connection the refresh index says is due: its key, and when it fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueConnection {
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    pub due_at: OffsetDateTime,
}

/// What one step of purging a deleted integration's connections did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    /// Connections of the generation the step found (0: none left in that shard).
    pub examined: usize,
    /// How many of them it deleted (the others were gone or re-created meanwhile).
    pub deleted: usize,
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
    /// What the mode's start keeps for its callback besides the verifier (`auth::Kept::values`),
    /// sealed with `SealContext::integration` like `secret_config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Sealed>,
    pub redirect_uri: String,
    /// The connection config without the provider's secret fields (`secret_config`).
    pub connection_config: ConnectionConfig,
    /// The provider's secret connection-config fields, sealed with `SealContext::integration`
    /// (the callback opens integration secrets only, never a connection's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_config: Option<Sealed>,
    /// The connection config keys the team's backend set (a connect session's defaults).
    #[serde(default, skip_serializing_if = "VouchedKeys::is_empty")]
    pub vouched_config: VouchedKeys,
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
    /// Whether the flow may replace an existing connection (an HMAC digest or a reconnect
    /// session vouched for it); otherwise it may only create one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_replace: bool,
    /// The connect session's `webhook_url_override`, stored on the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url_override: Option<String>,
    /// SHA-256 (hex) of the `ws_client_id` of the socket waiting for the outcome (Nango's
    /// frontend client), bound when the flow started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_hash: Option<String>,
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
    /// Where the auth webhooks of the connections it makes go (validated when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url_override: Option<String>,
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
    pub created_at: OffsetDateTime,
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
    /// Where auth webhooks go; `None` = none are sent (but to connections'
    /// `webhook_url_override`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Which auth webhooks are sent.
    #[serde(default = "WebhookEvent::all")]
    pub webhook_events: Vec<WebhookEvent>,
    /// How the end user's Connect page looks.
    #[serde(default)]
    pub connect_ui: ConnectUi,
}

impl Default for EnvironmentSettings {
    fn default() -> Self {
        Self {
            hmac_enabled: false,
            allowed_origins: Vec::new(),
            callback_url: None,
            webhook_url: None,
            webhook_events: WebhookEvent::all(),
            connect_ui: ConnectUi::default(),
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

/// A job in the local, store-backed queue (`jobs::local`). The body is the job's JSON, which
/// names records and never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    pub id: String,
    pub body: String,
    /// Deliveries so far, this one included (a claim counts one).
    pub attempts: u32,
    /// When it may be claimed (again).
    pub visible_at: OffsetDateTime,
    /// Identifies the current claim: only its holder finishes, retries or buries the job.
    pub claim: String,
    pub last_error: Option<String>,
}
