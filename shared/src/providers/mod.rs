//! Where an integration's provider behaviour comes from: the embedded catalog (`catalog`,
//! `schema`), rendered per connection through `template`, or the generic OAuth2 provider
//! (`custom-oauth2`) whose endpoints the integration itself supplies. An integration of a
//! catalog provider may override the catalog's URLs with the same `custom` block.
//! `auth_mode` and `oauth2_endpoints` are the one lookup every flow uses.

pub mod catalog;
pub mod schema;
pub mod template;

use serde_json::{Map, Value};
use url::Url;

use crate::auth::oauth2::{ClientAuth, OAuth2Endpoints, TokenBody, TokenShape};
use crate::domain::{AuthMode, ConnectionConfig};
use crate::error::{Error, ErrorCode};
use crate::store::{CustomOAuth2, IntegrationRecord};
pub use catalog::{catalog, provider};
use schema::{BodyFormat, Provider, ProviderAuthMode};
use template::{check_spec, param_text, render_text, render_url, Slot, TemplateError, Vars};

/// The generic OAuth2 provider: URLs come from the integration's `custom` block.
pub const CUSTOM_OAUTH2: &str = "custom-oauth2";

/// Parses the catalog now rather than on the first request that needs it. Routers call this
/// while they are built, which on Lambda is the init phase.
pub fn warm() {
    let _ = catalog().providers.len();
}

fn unknown_provider(name: &str) -> Error {
    Error::invalid(ErrorCode::UnknownProvider,
        format!("Unknown provider '{name}'. See GET /providers, or use '{CUSTOM_OAUTH2}' with a 'custom' block of endpoints."),
    )
}

/// The mode Latchkey runs a catalog entry with, or why it can't yet.
pub fn supported_mode(p: &Provider) -> Option<AuthMode> {
    match p.auth_mode {
        ProviderAuthMode::OAuth2 => Some(AuthMode::OAuth2),
        ProviderAuthMode::OAuth2Cc => Some(AuthMode::OAuth2Cc),
        ProviderAuthMode::ApiKey => Some(AuthMode::ApiKey),
        ProviderAuthMode::Basic => Some(AuthMode::Basic),
        _ => None,
    }
}

/// The auth mode an integration of `provider` uses. Catalog entries whose mode has no flow yet
/// are refused here, so no integration (and so no connect attempt) can exist for them.
pub fn auth_mode(provider_name: &str) -> Result<AuthMode, Error> {
    if provider_name == CUSTOM_OAUTH2 {
        return Ok(AuthMode::OAuth2);
    }
    let p = provider(provider_name).ok_or_else(|| unknown_provider(provider_name))?;
    supported_mode(p).ok_or_else(|| {
        Error::invalid(ErrorCode::UnsupportedAuthMode,
            format!(
                "Provider '{provider_name}' uses {}, which Latchkey does not support yet (supported: OAUTH2, OAUTH2_CC, API_KEY, BASIC).",
                p.auth_mode.as_str()
            ),
        )
    })
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

fn invalid_config(message: String) -> Error {
    Error::invalid(ErrorCode::InvalidConnectionConfig, message)
}

/// Every URL and header template of an entry, with a name for messages.
pub fn templates(p: &Provider) -> Vec<(&'static str, &str, bool)> {
    let mut out: Vec<(&'static str, &str, bool)> = Vec::new();
    if let Some(u) = &p.authorization_url {
        out.push(("authorization_url", u, true));
    }
    match &p.token_url {
        Some(schema::TokenUrl::Single(u)) => out.push(("token_url", u, true)),
        Some(schema::TokenUrl::ByMode(m)) => out.extend(m.values().map(|u| ("token_url", u.as_str(), true))),
        None => {}
    }
    if let Some(u) = &p.refresh_url {
        out.push(("refresh_url", u, true));
    }
    if let Some(proxy) = &p.proxy {
        out.push(("proxy.base_url", &proxy.base_url, true));
        if let Some(u) = proxy.verification.as_ref().and_then(|v| v.base_url_override.as_deref()) {
            out.push(("proxy.verification.base_url_override", u, true));
        }
        for h in proxy.headers.iter().flat_map(|h| h.values()) {
            out.push(("proxy.headers", h, false));
        }
    }
    out
}

/// Validates connection config (`params[...]` of a connect URL, or an import's
/// `connection_config`) for a provider before anything is stored or redirected: only declared
/// fields, none the provider fills itself, each matching its `enum`/`pattern`/`format` and the
/// safe alphabet of every URL slot it lands in; required fields present; defaults applied.
/// `prefix`/`suffix` typed along with the value (`https://acme.zendesk.com`) are taken off.
pub fn validate_connection_config(provider_name: &str, input: &ConnectionConfig) -> Result<ConnectionConfig, Error> {
    check_connection_config(provider_name, input, false)
}

/// `validate_connection_config` for the team's backend (import): it may also set the fields
/// the provider normally fills in (a migrated Salesforce connection brings its `instance_url`),
/// still checked against their specs and slots.
pub fn validate_imported_connection_config(
    provider_name: &str,
    input: &ConnectionConfig,
) -> Result<ConnectionConfig, Error> {
    check_connection_config(provider_name, input, true)
}

fn check_connection_config(
    provider_name: &str,
    input: &ConnectionConfig,
    trusted: bool,
) -> Result<ConnectionConfig, Error> {
    let Some(p) = provider(provider_name) else {
        // The generic provider declares no fields; its URLs hold no placeholders.
        return Ok(input.clone());
    };
    let specs = p.connection_config.as_ref();
    let mut out = Map::new();
    for (key, value) in input {
        let spec = specs.and_then(|s| s.get(key)).ok_or_else(|| {
            invalid_config(format!(
                "Provider '{provider_name}' takes no connection config '{key}'."
            ))
        })?;
        if spec.automated == Some(true) && !trusted {
            return Err(invalid_config(format!(
                "Connection config '{key}' is filled in from the provider's response and cannot be set."
            )));
        }
        let text = value
            .as_str()
            .ok_or_else(|| invalid_config(format!("Connection config '{key}' must be a string.")))?;
        let mut text = text.trim();
        if let Some(prefix) = spec.prefix.as_deref().filter(|p| !p.is_empty()) {
            text = text.strip_prefix(prefix).unwrap_or(text);
        }
        if let Some(suffix) = spec.suffix.as_deref().filter(|s| !s.is_empty()) {
            text = text.strip_suffix(suffix).unwrap_or(text);
        }
        if text.is_empty() {
            continue;
        }
        check_spec(spec, text)
            .map_err(|reason| invalid_config(format!("Connection config '{key}' is not valid: {reason}.")))?;
        if text.chars().any(|c| c.is_control()) {
            return Err(invalid_config(format!(
                "Connection config '{key}' holds control characters."
            )));
        }
        out.insert(key.clone(), Value::String(text.to_owned()));
    }
    for (key, spec) in specs.into_iter().flatten() {
        if out.contains_key(key) {
            continue;
        }
        if let Some(default) = &spec.default_value {
            out.insert(key.clone(), Value::String(default.clone()));
        } else if spec.required() {
            return Err(Error::invalid(
                ErrorCode::MissingConnectionConfig,
                format!("Provider '{provider_name}' needs connection config '{key}' (params[{key}])."),
            ));
        }
    }
    let vars = Vars::config(&out, specs);
    for (name, t, is_url) in templates(p) {
        let result = if is_url {
            render_url(t, &vars).map(drop)
        } else {
            render_text(t, &vars, Slot::Header).map(drop)
        };
        match result {
            Err(e @ TemplateError::Invalid { .. }) => return Err(e.into_error(&format!("{provider_name} {name}"))),
            // Absent secrets or unset optional values are filled later or not needed.
            _ => continue,
        }
    }
    Ok(out)
}

/// The OAuth2 endpoints of an integration (OAUTH2 or OAUTH2_CC), rendered for one connection's
/// config. Catalog URLs are replaced by the integration's `custom` block when it has one.
pub fn oauth2_endpoints(integration: &IntegrationRecord, config: &ConnectionConfig) -> Result<OAuth2Endpoints, Error> {
    let custom = integration.custom.as_ref();
    if integration.provider == CUSTOM_OAUTH2 {
        let custom = custom.ok_or_else(|| {
            Error::invalid(
                ErrorCode::InvalidIntegration,
                format!("Integration '{}' has no OAuth2 endpoints.", integration.key),
            )
        })?;
        let mut e = OAuth2Endpoints::new(
            parse_endpoint("authorization_url", &custom.authorization_url)?,
            parse_endpoint("token_url", &custom.token_url)?,
        );
        apply_custom(&mut e, custom);
        return Ok(e);
    }
    let p = provider(&integration.provider).ok_or_else(|| unknown_provider(&integration.provider))?;
    let mode = match integration.auth_mode {
        AuthMode::OAuth2 => ProviderAuthMode::OAuth2,
        AuthMode::OAuth2Cc => ProviderAuthMode::OAuth2Cc,
        other => {
            return Err(Error::invalid(
                ErrorCode::InvalidAuthMode,
                format!("Integration '{}' uses {}, not OAuth2.", integration.key, other.as_str()),
            ))
        }
    };
    let what = format!("Provider '{}'", p.name);
    let vars = Vars::config(config, p.connection_config.as_ref());
    let url = |t: &str| render_url(t, &vars).map_err(|e| e.into_error(&what));
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
        Some(c) => parse_endpoint("token_url", &c.token_url)?,
        None => url(p.token_url_for(mode).ok_or_else(|| no_url("token_url"))?)?,
    };
    let authorization_url = match (custom.filter(|c| !c.authorization_url.is_empty()), &p.authorization_url) {
        (Some(c), _) => parse_endpoint("authorization_url", &c.authorization_url)?,
        (None, Some(t)) => url(t)?,
        (None, None) if mode == ProviderAuthMode::OAuth2Cc => token_url.clone(),
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
    e.refresh_params = params(&p.refresh_params)?;
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
    e.client_auth = match p.token_request_auth_method.as_deref() {
        Some("basic") => ClientAuth::Basic,
        _ => ClientAuth::Body,
    };
    e.token_body = match p.body_format {
        Some(BodyFormat::Json) => TokenBody::Json,
        Some(BodyFormat::Query) => TokenBody::Query,
        _ => TokenBody::Form,
    };
    e.pkce = !p.disable_pkce.unwrap_or(false) && mode == ProviderAuthMode::OAuth2;
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
        expiration_buffer: p.token_expiration_buffer.unwrap_or(0),
        metadata: p.token_response_metadata.clone().unwrap_or_default(),
    };
    e.redirect_uri_metadata = p.redirect_uri_metadata.clone().unwrap_or_default();
    if let Some(code) = &p.authorization_code_param_in_callback {
        e.code_param = code.clone();
    }
    if let Some(c) = custom {
        apply_custom(&mut e, c);
    }
    Ok(e)
}

/// The connection config after a grant: what the user gave, plus the token response fields
/// (`token_response_metadata`) and callback values (`redirect_uri_metadata`) the provider
/// sends. Values the catalog constrains and that fail their constraint, or hold control
/// characters, are dropped rather than trusted: they may end up in URLs later.
pub fn config_from_provider(
    provider_name: &str,
    mut config: ConnectionConfig,
    token_metadata: &Map<String, Value>,
    callback_values: &[(String, String)],
) -> ConnectionConfig {
    let specs = provider(provider_name).and_then(|p| p.connection_config.as_ref());
    let admissible = |k: &str, v: &str| {
        v.len() <= 2048
            && !v.chars().any(char::is_control)
            && specs
                .and_then(|s| s.get(k))
                .is_none_or(|spec| check_spec(spec, v).is_ok())
    };
    for (k, v) in token_metadata {
        match v {
            Value::String(s) if !admissible(k, s) => continue,
            _ => {
                config.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in callback_values {
        if admissible(k, v) {
            config.insert(k.clone(), Value::String(v.clone()));
        }
    }
    config
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
