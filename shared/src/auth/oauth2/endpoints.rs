//! A provider's OAuth2 endpoints and quirks, resolved for one integration and connection: from
//! the catalog entry (rendered with the connection's config through `providers::template`), or
//! from the integration's `custom` block (the generic `custom-oauth2` provider, or overrides of a
//! catalog entry's URLs). The one lookup the OAuth2 and client-credentials modes use.

use serde_json::{Map, Value};
use url::Url;

use crate::domain::{AuthMode, ConnectionConfig, VouchedKeys};
use crate::error::{Error, ErrorCode};
use crate::outbound::Target;
use crate::providers::schema::BodyFormat;
use crate::providers::template::{param_text, render_text, render_url_traced, Slot, Vars};
use crate::providers::{provider, unknown_provider, CUSTOM_OAUTH2};
use crate::store::{CustomOAuth2, IntegrationRecord};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Body,
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
    Basic,
}

/// How the token request's parameters travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenBody {
    #[default]
    Form,
    Json,
    /// In the token URL's query, with an empty body.
    Query,
}

/// How to read a token response that is not the standard shape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenShape {
    /// Dotted path to the access token (default `access_token`).
    pub token_path: Option<String>,
    pub refresh_token_path: Option<String>,
    pub expires_in_path: Option<String>,
    /// Where the tokens are when the top level has none (Slack's `authed_user`).
    pub alternate_path: Option<String>,
    /// `expires_in` is in milliseconds, not seconds.
    pub expires_in_ms: bool,
    /// Lifetime to assume when the response states none, in seconds.
    pub default_expires_in: Option<i64>,
    /// Response fields (dotted paths) copied into the connection config (Salesforce `instance_url`).
    pub metadata: Vec<String>,
}

/// A provider's OAuth2 endpoints and quirks, resolved for one integration and connection. Each
/// URL is a `Target`: it knows who chose its host.
#[derive(Debug, Clone)]
pub struct OAuth2Endpoints {
    pub authorization_url: Target,
    pub token_url: Target,
    /// Where refresh requests go, when not the token URL.
    pub refresh_url: Option<Target>,
    pub authorization_params: Vec<(String, String)>,
    /// Parameter renames in the authorization URL (`client_id` → `client_key`); an empty
    /// target drops the parameter.
    pub authorization_url_replacements: Vec<(String, String)>,
    pub token_params: Vec<(String, String)>,
    pub refresh_params: Vec<(String, String)>,
    pub token_headers: Vec<(String, String)>,
    pub scope_separator: String,
    pub default_scopes: Vec<String>,
    pub client_auth: ClientAuth,
    pub token_body: TokenBody,
    pub pkce: bool,
    pub token_shape: TokenShape,
    /// Callback query values kept in the connection config (QuickBooks `realmId`).
    pub redirect_uri_metadata: Vec<String>,
    /// The callback parameter holding the code (default `code`).
    pub code_param: String,
    /// The authorization URL's shape (`authorization_url_skip_encode`, `_skip_empty`, `_fragment`).
    pub url_shape: AuthorizationUrlShape,
    /// The connection's TLS client certificate, presented at the token endpoint (mutual TLS).
    pub client_identity: Option<crate::outbound::ClientIdentity>,
}

/// How the catalog shapes an authorization URL beyond its parameters, as Nango builds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationUrlShape {
    /// `authorization_url_skip_encode: [scopes]`: the scope list sent as written, its separator
    /// (Pennylane's `+`) not percent-encoded.
    pub raw_scopes: bool,
    /// `authorization_url_skip_empty`: parameters with an empty value are left out.
    pub skip_empty: bool,
    /// `authorization_url_fragment`: the provider reads the request from the fragment (a
    /// single-page app): `<url>#<fragment>?<query>`.
    pub fragment: Option<String>,
}

impl OAuth2Endpoints {
    /// Standard OAuth2 at these two URLs; quirks are set field by field.
    pub fn new(authorization_url: Target, token_url: Target) -> Self {
        Self {
            authorization_url,
            token_url,
            refresh_url: None,
            authorization_params: Vec::new(),
            authorization_url_replacements: Vec::new(),
            token_params: Vec::new(),
            refresh_params: Vec::new(),
            token_headers: Vec::new(),
            scope_separator: " ".into(),
            default_scopes: Vec::new(),
            client_auth: ClientAuth::Body,
            token_body: TokenBody::Form,
            pkce: true,
            token_shape: TokenShape::default(),
            redirect_uri_metadata: Vec::new(),
            code_param: "code".into(),
            url_shape: AuthorizationUrlShape::default(),
            client_identity: None,
        }
    }

    /// The allowed-host rule for every URL of the flow, decided when it starts: the browser is
    /// not sent to a host the integration does not allow, nor is a code later exchanged there.
    pub fn check_hosts(&self) -> Result<(), Error> {
        for target in [&self.authorization_url, &self.token_url]
            .into_iter()
            .chain(self.refresh_url.as_ref())
        {
            target
                .check()
                .map_err(|e| e.into_error(ErrorCode::InvalidConnectionConfig, "The authorization"))?;
        }
        Ok(())
    }
}

/// An operator's endpoint URL: the operator chose its host.
fn operator_endpoint(field: &str, value: &str) -> Result<Target, Error> {
    parse_endpoint(field, value).map(Target::operator)
}

fn parse_endpoint(field: &str, value: &str) -> Result<Url, Error> {
    let url = Url::parse(value).map_err(|_| Error::invalid_body(format!("custom.{field} is not an absolute URL.")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(Error::invalid_body(format!(
            "custom.{field} must be an http(s) URL with a host."
        )));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_body(format!(
            "custom.{field} may not carry a fragment or user info."
        )));
    }
    Ok(url)
}

fn string_pairs(map: &Map<String, Value>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), param_text(v))).collect()
}

/// Checks a custom block when an integration is written, so a bad URL fails at configuration
/// time rather than in a customer's browser.
pub fn validate_custom(custom: &CustomOAuth2, provider_name: &str) -> Result<(), Error> {
    let generic = provider_name == CUSTOM_OAUTH2;
    if generic || !custom.authorization_url.is_empty() {
        parse_endpoint("authorization_url", &custom.authorization_url)?;
    }
    if generic || !custom.token_url.is_empty() {
        parse_endpoint("token_url", &custom.token_url)?;
    }
    for (field, u) in [
        ("userinfo_url", &custom.userinfo_url),
        ("proxy_base_url", &custom.proxy_base_url),
    ] {
        if let Some(u) = u {
            parse_endpoint(field, u)?;
        }
    }
    match custom.token_request_auth_method.as_deref() {
        None | Some("body") | Some("basic") => Ok(()),
        Some(_) => Err(Error::invalid_body(
            "custom.token_request_auth_method must be 'body' or 'basic'.",
        )),
    }
}

/// The OAuth2 endpoints of an integration (OAUTH2, OAUTH2_CC or MCP_OAUTH2), rendered for one connection's
/// config (of which the backend set the `vouched` keys). Catalog URLs are replaced by the
/// integration's `custom` block when it has one.
pub fn for_connection(
    integration: &IntegrationRecord,
    config: &ConnectionConfig,
    vouched: &VouchedKeys,
) -> Result<OAuth2Endpoints, Error> {
    let custom = integration.custom.as_ref();
    if integration.provider == CUSTOM_OAUTH2 {
        let custom = custom.ok_or_else(|| {
            Error::invalid(
                ErrorCode::InvalidIntegration,
                format!("Integration '{}' has no OAuth2 endpoints.", integration.key),
            )
        })?;
        let mut e = OAuth2Endpoints::new(
            operator_endpoint("authorization_url", &custom.authorization_url)?,
            operator_endpoint("token_url", &custom.token_url)?,
        );
        apply_custom(&mut e, custom);
        return Ok(e);
    }
    let p = provider(&integration.provider).ok_or_else(|| unknown_provider(&integration.provider))?;
    // A GitHub App that authorizes its installing user (`CUSTOM`) exchanges the user's code at
    // the catalog's OAUTH2 token URL; its browser goes to the app's installation page instead
    // (`auth::github_app_oauth`), so it has no authorization URL here and no PKCE.
    let installs = integration.auth_mode == AuthMode::Custom;
    let mode = match integration.auth_mode {
        mode @ (AuthMode::OAuth2 | AuthMode::OAuth2Cc | AuthMode::McpOAuth2) => mode,
        AuthMode::Custom => AuthMode::OAuth2,
        other => {
            return Err(Error::invalid(
                ErrorCode::InvalidAuthMode,
                format!("Integration '{}' uses {}, not OAuth2.", integration.key, other.as_str()),
            ))
        }
    };
    let what = format!("Provider '{}'", p.name);
    let vars = Vars::config(config, p.connection_config.as_ref());
    let url = |t: &str| {
        render_url_traced(t, &vars)
            .map(|rendered| crate::auth::target_of(integration, vouched, rendered))
            .map_err(|e| e.into_error(&what))
    };
    let text = |t: &str, slot| render_text(t, &vars, slot).map_err(|e| e.into_error(&what));
    let no_url = |field: &str| {
        Error::invalid(
            ErrorCode::InvalidIntegration,
            format!(
                "Provider '{}' has no {field}; set it in the integration's custom block.",
                p.name
            ),
        )
    };
    let token_url = match custom.filter(|c| !c.token_url.is_empty()) {
        Some(c) => operator_endpoint("token_url", &c.token_url)?,
        None => url(p.token_url_for(mode).ok_or_else(|| no_url("token_url"))?)?,
    };
    let authorization_url = match (custom.filter(|c| !c.authorization_url.is_empty()), &p.authorization_url) {
        (Some(c), _) => operator_endpoint("authorization_url", &c.authorization_url)?,
        (None, _) if installs => token_url.clone(),
        (None, Some(t)) => url(t)?,
        (None, None) if mode == AuthMode::OAuth2Cc => token_url.clone(),
        (None, None) => return Err(no_url("authorization_url")),
    };
    let params = |m: &Option<Map<String, Value>>| -> Result<Vec<(String, String)>, Error> {
        m.iter()
            .flatten()
            .map(|(k, v)| Ok((k.clone(), text(&param_text(v), Slot::Param)?)))
            .collect()
    };
    let mut e = OAuth2Endpoints::new(authorization_url, token_url);
    e.refresh_url = p.refresh_url.as_deref().map(url).transpose()?;
    e.authorization_params = params(&p.authorization_params)?;
    e.authorization_url_replacements = p
        .authorization_url_replacements
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    e.token_params = params(&p.token_params)?;
    // One OAUTH2 entry (bing-webmasters) names its refresh parameters `refresh_token_params`,
    // the two-step spelling.
    e.refresh_params = params(
        p.refresh_params
            .as_ref()
            .map_or(&p.refresh_token_params, |_| &p.refresh_params),
    )?;
    e.token_headers = p
        .token_headers
        .iter()
        .flatten()
        .map(|(k, v)| Ok((k.clone(), text(v, Slot::Header)?)))
        .collect::<Result<_, Error>>()?;
    if let Some(sep) = &p.scope_separator {
        e.scope_separator = sep.clone();
    }
    e.default_scopes = p.default_scopes.clone().unwrap_or_default();
    // `authorization_method: header` is how Nango's OAuth2 client (simple-oauth2) is told to
    // send the client id and secret as HTTP Basic; `token_request_auth_method: basic` too.
    e.client_auth = match (
        p.token_request_auth_method.as_deref(),
        p.authorization_method.as_deref(),
    ) {
        (Some("basic"), _) | (_, Some("header")) => ClientAuth::Basic,
        _ => ClientAuth::Body,
    };
    e.token_body = match p.body_format {
        Some(BodyFormat::Json) => TokenBody::Json,
        Some(BodyFormat::Query) => TokenBody::Query,
        _ => TokenBody::Form,
    };
    e.pkce = !p.disable_pkce.unwrap_or(false) && mode == AuthMode::OAuth2 && !installs;
    let paths = p.token_response.clone().unwrap_or_default();
    let expires_at_style = paths
        .token_expiration_strategy
        .as_deref()
        .is_some_and(|s| s != "expireIn");
    e.token_shape = TokenShape {
        token_path: paths.token,
        refresh_token_path: paths.refresh_token,
        expires_in_path: paths.token_expiration.filter(|_| !expires_at_style),
        alternate_path: p.alternate_access_token_response_path.clone(),
        expires_in_ms: p.expires_in_unit.as_deref() == Some("milliseconds"),
        default_expires_in: p.token_expires_in_ms.map(|ms| ms / 1000),
        metadata: p.token_response_metadata.clone().unwrap_or_default(),
    };
    e.redirect_uri_metadata = p.redirect_uri_metadata.clone().unwrap_or_default();
    e.url_shape = AuthorizationUrlShape {
        raw_scopes: p.authorization_url_skip_encode.iter().flatten().any(|k| k == "scopes"),
        skip_empty: p.authorization_url_skip_empty.unwrap_or(false),
        fragment: p.authorization_url_fragment.clone(),
    };
    if let Some(code) = &p.authorization_code_param_in_callback {
        e.code_param = code.clone();
    }
    if let Some(c) = custom {
        apply_custom(&mut e, c);
    }
    Ok(e)
}

/// An integration's own settings win over the provider's.
fn apply_custom(e: &mut OAuth2Endpoints, custom: &CustomOAuth2) {
    for (k, v) in string_pairs(&custom.authorization_params) {
        e.authorization_params.retain(|(ek, _)| *ek != k);
        e.authorization_params.push((k, v));
    }
    for (k, v) in string_pairs(&custom.token_params) {
        e.token_params.retain(|(ek, _)| *ek != k);
        e.token_params.push((k, v));
    }
    if let Some(sep) = &custom.scope_separator {
        e.scope_separator = sep.clone();
    }
    match custom.token_request_auth_method.as_deref() {
        Some("basic") => e.client_auth = ClientAuth::Basic,
        Some("body") => e.client_auth = ClientAuth::Body,
        _ => {}
    }
    if custom.disable_pkce {
        e.pkce = false;
    }
}

#[cfg(test)]
mod tests;
