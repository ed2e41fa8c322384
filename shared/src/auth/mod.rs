//! Auth modes as plug-ins: one module per mode behind `AuthScheme`, found by `scheme(mode)`.
//! A mode says how an end user gives it credentials (a browser redirect, or a submission), how
//! it verifies, refreshes or re-tests them, and how it applies them to a request. Modes turn
//! provider answers into `Credentials` and never write to the store: storing is the connection
//! path's job (`crate::connections`), shared by every mode, and the flows (`crate::flows`) call
//! modes through this trait only.

pub mod api_key;
pub mod aws_sigv4;
pub mod basic;
pub mod bill;
pub mod client_credentials;
pub mod github_app;
pub mod github_app_oauth;
pub mod jws;
pub mod jwt;
pub mod mcp;
pub mod none;
pub mod oauth1;
pub mod oauth2;
pub mod pkce;
pub mod signature;
pub mod tba;
pub mod two_step;
pub mod verification;

#[cfg(test)]
mod catalog_coverage_tests;

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use url::Url;

use crate::credentials::Credentials;
use crate::crypto::SealContext;
use crate::domain::{
    AuthMode, ClientSecret, ConnectionConfig, IntegrationKey, OAuthState, PkceVerifier, Secret, VouchedKeys,
};
use crate::error::{Error, ErrorCode};
use crate::outbound::{AllowedHosts, HostChoice, Target};
use crate::providers::template::{RenderedUrl, Vars};
use crate::store::{IntegrationRecord, Sealed};
use crate::AppState;

/// The supported modes, one line each. The order is the one error messages list them in.
static SCHEMES: &[&dyn AuthScheme] = &[
    &oauth2::OAuth2,
    &client_credentials::ClientCredentials,
    &api_key::ApiKey,
    &basic::Basic,
    &two_step::TwoStep,
    &jwt::Jwt,
    &github_app::App,
    &github_app_oauth::AppOAuth,
    &none::Unauthenticated,
    &oauth1::OAuth1,
    &tba::Tba,
    &mcp::McpOAuth2,
    &mcp::generic::McpOAuth2Generic,
    &signature::Signature,
    &bill::Bill,
    &aws_sigv4::AwsSigV4,
];

/// The module of a mode, if Latchkey supports it.
pub fn scheme(mode: AuthMode) -> Option<&'static dyn AuthScheme> {
    SCHEMES.iter().copied().find(|s| s.mode() == mode)
}

/// Whether Latchkey connects a catalog entry: its mode has a module, and the module takes the
/// entry (not an MCP entry identified by a client ID metadata document, lovable-mcp: its
/// integration is refused, `mcp::prepare_integration`). `GET /providers` says it as `supported`.
pub fn connects(provider: &str, mode: AuthMode) -> bool {
    scheme(mode).is_some() && mcp::client_registration(provider) != Some(mcp::ClientRegistration::Cimd)
}

/// The modes an end user connects through a browser redirect (`/oauth/connect`).
pub fn redirect_modes() -> Vec<AuthMode> {
    SCHEMES
        .iter()
        .filter(|s| s.obtains() == Obtain::Redirect)
        .map(|s| s.mode())
        .collect()
}

/// The module of a provider's mode; `unsupported_auth_mode` when Latchkey has none yet, so no
/// integration (and so no connect attempt) can exist for it.
pub fn provider_scheme(provider_name: &str) -> Result<&'static dyn AuthScheme, Error> {
    let mode = crate::providers::auth_mode(provider_name)?;
    if scheme(mode).is_some() && !connects(provider_name, mode) {
        return Err(Error::invalid(
            ErrorCode::UnsupportedAuthMode,
            format!(
                "Provider '{provider_name}' identifies its clients by a client ID metadata document, which Latchkey does not support yet."
            ),
        ));
    }
    scheme(mode).ok_or_else(|| {
        let supported: Vec<&str> = SCHEMES.iter().map(|s| s.mode().as_str()).collect();
        Error::invalid(
            ErrorCode::UnsupportedAuthMode,
            format!(
                "Provider '{provider_name}' uses {mode}, which Latchkey does not support yet (supported: {}).",
                supported.join(", ")
            ),
        )
    })
}

/// The activity note of credentials the provider accepted (or, re-tested, still accepts).
const ACCEPTED: &str = "The provider accepted the credentials.";
const STILL_ACCEPTED: &str = "The provider still accepts the credentials.";

/// How an end user gives a mode its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obtain {
    /// The browser goes to the provider and comes back to the callback (`start`, `finish`).
    Redirect,
    /// The end user's frontend submits them (`submit`).
    Submission,
}

/// What every call of a mode works with.
pub struct ModeContext<'a> {
    pub state: &'a AppState,
    pub integration: &'a IntegrationRecord,
    /// The connection's config, already validated against the provider: fills its templates.
    pub connection_config: &'a ConnectionConfig,
    /// Which of its keys the team's backend set: a host they fill was vouched for.
    pub vouched_config: &'a VouchedKeys,
}

/// The hosts an end user may name for an integration: the operator's `allowed_hosts`, or the
/// defaults the catalog's templates imply.
pub fn allowed_hosts(integration: &IntegrationRecord) -> AllowedHosts {
    if integration.allowed_hosts.is_empty() {
        AllowedHosts {
            patterns: crate::providers::default_allowed_hosts(&integration.provider),
            set_by_operator: false,
        }
    } else {
        AllowedHosts {
            patterns: integration.allowed_hosts.clone(),
            set_by_operator: true,
        }
    }
}

/// Who chose the host of a URL rendered from the catalog's templates for one connection: the
/// catalog when no value filled it, the backend when every value that did was one it set,
/// otherwise the end user (named by the first such field), held to the allowed hosts.
pub fn target_of(integration: &IntegrationRecord, vouched: &VouchedKeys, rendered: RenderedUrl) -> Target {
    let field_of = |var: &str| var.strip_prefix("connectionConfig.").unwrap_or(var).to_owned();
    let from_end_user = rendered.host_from.iter().find(|var| {
        !var.strip_prefix("connectionConfig.")
            .is_some_and(|k| vouched.contains(k))
    });
    let chosen_by = match from_end_user {
        _ if rendered.host_from.is_empty() => HostChoice::Catalog,
        None => HostChoice::Backend,
        Some(var) => HostChoice::EndUser {
            field: field_of(var),
            allowed: allowed_hosts(integration),
        },
    };
    Target::new(rendered.url, chosen_by)
}

/// What a flow prepared before sending the browser away.
pub struct RedirectStart<'a> {
    /// The flow's `state`: its session is found by it at the callback.
    pub state: &'a OAuthState,
    /// Where the provider sends the browser back.
    pub redirect_uri: &'a str,
    /// Per-request extras (`authorization_params[...]` of the connect URL).
    pub authorization_params: &'a [(String, String)],
    /// `user_scope` of the connect URL, as sent.
    pub user_scope: Option<&'a str>,
}

/// Where the browser goes, and what its callback will need back.
pub struct Redirect {
    pub url: Url,
    pub kept: Kept,
}

/// What a redirect mode keeps for its callback, with the flow's session: the PKCE verifier
/// (OAuth2), and whatever else a mode's dance needs, by name (an OAuth 1.0a request token and
/// its secret; an MCP client's registration). The flow seals `values` into the session with the
/// integration's session context and opens them for `finish`; they never reach the browser.
/// Modes build it with `..Default::default()`, so a field added for one mode leaves the others.
#[derive(Debug, Default)]
pub struct Kept {
    pub code_verifier: Option<PkceVerifier>,
    pub values: BTreeMap<String, Secret>,
}

/// A callback as the provider sent it: every query parameter (`code`; `oauth_verifier`; a
/// GitHub App's `installation_id`), and what the start kept.
pub struct Callback<'a> {
    pub params: &'a HashMap<String, String>,
    pub redirect_uri: &'a str,
    pub kept: &'a Kept,
}

/// What an end user submitted to a credentials mode, by field name, as the edge parsed it
/// (`apiKey`; `username`, `password`; `client_id`, `client_secret`; a multi-field mode's catalog
/// fields). Every value is held as a `Secret`, since any of them may be one.
#[derive(Debug, Default)]
pub struct Submission(BTreeMap<String, Secret>);

impl Submission {
    pub fn with(mut self, name: &str, value: Option<Secret>) -> Self {
        if let Some(value) = value {
            self.0.insert(name.to_owned(), value);
        }
        self
    }
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
    /// Takes a field out; absent fields are `None`.
    pub fn take(&mut self, name: &str) -> Option<Secret> {
        self.0.remove(name)
    }
    /// Every field, for a mode whose fields are the catalog's (two-step).
    pub fn into_fields(self) -> BTreeMap<String, Secret> {
        self.0
    }
}

/// Credentials a mode obtained, with the connection config they came with.
#[derive(Debug)]
pub struct Obtained {
    pub credentials: Credentials,
    /// The config after the grant: what the user gave, plus what the provider sent back.
    pub connection_config: ConnectionConfig,
    /// What happened, for the activity log (never a secret).
    pub note: String,
}

/// A request to the provider's API, about to be sent (a verification call; later the proxy).
/// The catalog's templates fill its URL and headers (by lowercase name); the mode then adds its
/// authentication, and may sign all of it (method, URL, headers, body). Its `Debug` shows no
/// value: header values and query strings carry credentials.
pub type ProviderRequest = crate::outbound::Request;

/// One auth mode. Methods a mode does not take (a redirect for a credentials mode) keep their
/// defaults, which refuse; flows only call what `obtains` says.
#[async_trait]
pub trait AuthScheme: Send + Sync {
    fn mode(&self) -> AuthMode;

    fn obtains(&self) -> Obtain;

    /// Redirect modes: the provider URL to send the browser to.
    async fn start(&self, cx: &ModeContext<'_>, _start: &RedirectStart<'_>) -> Result<Redirect, Error> {
        Err(not_taken(self.mode(), cx, "a browser redirect"))
    }

    /// Redirect modes: the provider's callback turned into credentials.
    async fn finish(&self, cx: &ModeContext<'_>, _callback: &Callback<'_>) -> Result<Obtained, Error> {
        Err(not_taken(self.mode(), cx, "a browser redirect"))
    }

    /// Credentials modes: the fields an end user fills in, by submission name (the Connect page
    /// asks for these; the catalog's `credentials` specs say their rules).
    fn form_fields(&self, _integration: &IntegrationRecord) -> Vec<&'static str> {
        Vec::new()
    }

    /// Credentials modes: what the end user submitted, checked and proven with the provider.
    async fn submit(&self, cx: &ModeContext<'_>, _submission: Submission) -> Result<Obtained, Error> {
        Err(not_taken(self.mode(), cx, "submitted credentials"))
    }

    /// Credentials the team's backend imports: checked, and proven where the mode can.
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error>;

    /// Fresh credentials in place of `current`: a refresh grant, a re-fetch, or a re-test of
    /// credentials that do not expire.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error>;

    /// Whether a backend read must `refresh` first: `expiring` when the credentials expire within
    /// the read margin (the connection path computes it with `RefreshPolicy::read_margin`, one
    /// rule for every mode), `force` when the caller asked. By default never: credentials that
    /// do not expire are re-tested on the scheduler's cadence only.
    fn refresh_on_read(&self, _credentials: &Credentials, _expiring: bool, _force: bool) -> bool {
        false
    }

    /// The values the catalog's request templates read (`${apiKey}`, `${accessToken}`,
    /// `${credentials.username}`). By default the access token, for modes that end in one.
    fn template_values(&self, credentials: &Credentials, vars: &mut Vars<'_>) {
        if let Some(token) = credentials.access_token() {
            vars.secrets.insert("accessToken", token.expose().to_owned());
        }
    }

    /// Authenticates a request to the provider where the catalog's templates did not (a header,
    /// or a signature over the whole request). By default `Authorization: Bearer <access token>`.
    async fn apply(
        &self,
        _cx: &ModeContext<'_>,
        credentials: &Credentials,
        request: &mut ProviderRequest,
    ) -> Result<(), Error> {
        bearer(credentials, request);
        Ok(())
    }
}

/// `Authorization: Bearer <access token>`, unless the catalog's templates set the header.
pub fn bearer(credentials: &Credentials, request: &mut ProviderRequest) {
    if let Some(token) = credentials.access_token() {
        request
            .headers
            .entry("authorization".into())
            .or_insert_with(|| format!("Bearer {}", token.expose()));
    }
}

fn not_taken(mode: AuthMode, cx: &ModeContext<'_>, how: &str) -> Error {
    Error::invalid(
        ErrorCode::InvalidAuthMode,
        format!(
            "Integration '{}' uses {mode}, which does not connect through {how}.",
            cx.integration.key
        ),
    )
}

/// Credentials of a mode other than `mode` reached it: a mismatch the flows rule out.
fn wrong_credentials(mode: AuthMode, credentials: &Credentials) -> Error {
    Error::invalid_body(format!(
        "credentials.type is {} but the integration uses {mode}.",
        credentials.auth_mode()
    ))
}

/// Seals a secret an integration holds (a client secret, a private key, an access key),
/// bound to the integration: it opens only as that integration's, in this environment.
pub async fn seal_secret(state: &AppState, key: &IntegrationKey, secret: &Secret) -> Result<Sealed, Error> {
    let ctx = SealContext::integration(&state.config.environment, key.as_str());
    Ok(Sealed(state.sealer.seal(secret.expose().as_bytes(), &ctx).await?))
}

/// A secret `seal_secret` sealed for `record`, opened.
pub async fn open_secret(state: &AppState, record: &IntegrationRecord, sealed: &Sealed) -> Result<Secret, Error> {
    let ctx = SealContext::integration(&state.config.environment, record.key.as_str());
    let plain = state.sealer.open(&sealed.0, &ctx).await?;
    String::from_utf8(plain).map(Secret::new).map_err(|_| Error::internal())
}

/// Seals an integration's client secret, bound to the integration.
pub async fn seal_client_secret(
    state: &AppState,
    key: &IntegrationKey,
    secret: &ClientSecret,
) -> Result<Sealed, Error> {
    seal_secret(state, key, &Secret::new(secret.expose())).await
}

/// The integration's client secret, opened for a token request.
pub async fn open_client_secret(state: &AppState, record: &IntegrationRecord) -> Result<ClientSecret, Error> {
    let sealed = record.client_secret.as_ref().ok_or_else(|| {
        Error::invalid(
            ErrorCode::MissingClientSecret,
            format!("Integration '{}' has no client secret.", record.key),
        )
    })?;
    let secret = open_secret(state, record, sealed).await?;
    Ok(ClientSecret::new(secret.expose()))
}

/// A credentials mode's `submit` with `fields`, for the modes' tests.
#[cfg(test)]
pub(crate) async fn submit_fields(
    scheme: &dyn AuthScheme,
    state: &AppState,
    integration: &IntegrationRecord,
    config: &ConnectionConfig,
    fields: &[(&str, &str)],
) -> Result<Obtained, Error> {
    let cx = ModeContext {
        state,
        integration,
        connection_config: config,
        vouched_config: &VouchedKeys::new(),
    };
    let submission = fields
        .iter()
        .fold(Submission::default(), |s, (k, v)| s.with(k, Some(Secret::new(*v))));
    scheme.submit(&cx, submission).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccessToken;
    use time::OffsetDateTime;

    fn state() -> AppState {
        AppState::new(
            std::sync::Arc::new(crate::store::sqlite::SqliteStore::in_memory().unwrap()),
            std::sync::Arc::new(crate::crypto::local::LocalSealer::from_key([1; 32])),
            crate::config::EnvironmentKeys::generate(),
            crate::config::Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None),
        )
    }

    fn integration(mode: AuthMode) -> IntegrationRecord {
        let now = OffsetDateTime::UNIX_EPOCH;
        IntegrationRecord {
            key: IntegrationKey::parse("it").unwrap(),
            provider: "custom-oauth2".into(),
            display_name: None,
            auth_mode: mode,
            client_id: None,
            client_secret: None,
            scopes: vec![],
            custom: None,
            allowed_hosts: vec![],
            app: None,
            aws_sigv4: None,
            created_at: now,
            updated_at: now,
            generation: String::new(),
        }
    }

    /// The Authorization header a mode adds to a request whose templates set `preset`.
    async fn authorization(credentials: Credentials, preset: Option<&str>) -> Option<String> {
        let state = state();
        let mode = credentials.auth_mode();
        let integration = integration(mode);
        let config = ConnectionConfig::default();
        let cx = ModeContext {
            state: &state,
            integration: &integration,
            connection_config: &config,
            vouched_config: &VouchedKeys::new(),
        };
        let mut request = ProviderRequest::new(
            crate::outbound::Method::GET,
            Target::catalog(Url::parse("https://api.example.test/me?key=k-SECRET").unwrap()),
        );
        if let Some(v) = preset {
            request = request.header("authorization", v);
        }
        scheme(mode)
            .unwrap()
            .apply(&cx, &credentials, &mut request)
            .await
            .unwrap();
        assert!(!format!("{request:?}").contains("SECRET"), "{request:?}");
        request.headers.get("authorization").cloned()
    }

    #[tokio::test]
    async fn modes_authenticate_requests_the_catalog_left_unauthenticated() {
        let basic = || Credentials::Basic {
            username: "u".into(),
            password: Secret::new("p w"),
        };
        assert_eq!(authorization(basic(), None).await.as_deref(), Some("Basic dTpwIHc="));
        assert_eq!(
            authorization(basic(), Some("Token from-the-catalog")).await.as_deref(),
            Some("Token from-the-catalog"),
            "the catalog's header wins"
        );
        let oauth = Credentials::OAuth2 {
            access_token: AccessToken::new("at-SECRET"),
            refresh_token: None,
            expires_at: None,
            raw: Default::default(),
        };
        assert_eq!(authorization(oauth, None).await.as_deref(), Some("Bearer at-SECRET"));
        let key = Credentials::ApiKey {
            api_key: Secret::new("k-SECRET"),
        };
        assert_eq!(
            authorization(key, None).await,
            None,
            "the catalog's templates place a key"
        );
    }

    #[test]
    fn the_registry_supports_its_modes_and_names_them_when_it_refuses() {
        let supported: Vec<AuthMode> = AuthMode::ALL.iter().copied().filter(|m| scheme(*m).is_some()).collect();
        assert_eq!(
            supported,
            [
                AuthMode::OAuth2,
                AuthMode::OAuth2Cc,
                AuthMode::ApiKey,
                AuthMode::Basic,
                AuthMode::TwoStep,
                AuthMode::McpOAuth2,
                AuthMode::McpOAuth2Generic,
                AuthMode::Jwt,
                AuthMode::OAuth1,
                AuthMode::Bill,
                AuthMode::App,
                AuthMode::Custom,
                AuthMode::Tba,
                AuthMode::Signature,
                AuthMode::AwsSigV4,
                AuthMode::None
            ]
        );
        for s in SCHEMES {
            assert_eq!(scheme(s.mode()).unwrap().mode(), s.mode(), "one module per mode");
        }
        assert_eq!(
            redirect_modes(),
            [
                AuthMode::OAuth2,
                AuthMode::App,
                AuthMode::Custom,
                AuthMode::OAuth1,
                AuthMode::McpOAuth2,
                AuthMode::McpOAuth2Generic
            ]
        );
        assert_eq!(provider_scheme("github-app-oauth").unwrap().mode(), AuthMode::Custom);
        assert_eq!(provider_scheme("zendesk").unwrap().mode(), AuthMode::OAuth2);
        assert_eq!(provider_scheme("8x8").unwrap().mode(), AuthMode::OAuth2Cc);
        assert_eq!(provider_scheme("3cx").unwrap().mode(), AuthMode::TwoStep);
        assert_eq!(provider_scheme("ghost-admin").unwrap().mode(), AuthMode::Jwt);
        assert_eq!(provider_scheme("github-app").unwrap().mode(), AuthMode::App);
        assert_eq!(provider_scheme("youcanbook-me-public").unwrap().mode(), AuthMode::None);
        assert_eq!(provider_scheme("trello").unwrap().mode(), AuthMode::OAuth1);
        assert_eq!(provider_scheme("netsuite-tba").unwrap().mode(), AuthMode::Tba);
        assert_eq!(provider_scheme("amplitude-mcp").unwrap().mode(), AuthMode::McpOAuth2);
        assert_eq!(
            provider_scheme("cloudflare-mcp").unwrap().mode(),
            AuthMode::McpOAuth2Generic
        );
        assert_eq!(provider_scheme("emarsys").unwrap().mode(), AuthMode::Signature);
        assert_eq!(provider_scheme("bill-sandbox").unwrap().mode(), AuthMode::Bill);
        assert_eq!(provider_scheme("aws-sigv4").unwrap().mode(), AuthMode::AwsSigV4);
        let err = provider_scheme("crisp-plugin-install").err().unwrap();
        assert_eq!(err.code, ErrorCode::UnsupportedAuthMode);
        assert!(
            err.message.ends_with(
                "(supported: OAUTH2, OAUTH2_CC, API_KEY, BASIC, TWO_STEP, JWT, APP, CUSTOM, NONE, OAUTH1, TBA, MCP_OAUTH2, MCP_OAUTH2_GENERIC, SIGNATURE, BILL, AWS_SIGV4)."
            ),
            "{}",
            err.message
        );
        assert_eq!(
            provider_scheme("no-such-api").err().unwrap().code,
            ErrorCode::UnknownProvider
        );
    }
}
