//! Where an integration's provider behaviour comes from. Today: the generic OAuth2 provider
//! (`custom-oauth2`), whose endpoints the integration itself supplies. The catalog slots in
//! here: `oauth2_endpoints` is the one lookup every flow uses.

use url::Url;

use crate::auth::oauth2::{ClientAuth, OAuth2Endpoints};
use crate::domain::AuthMode;
use crate::error::ApiError;
use crate::store::{CustomOAuth2, IntegrationRecord};

/// The generic OAuth2 provider: URLs come from the integration's `custom` block.
pub const CUSTOM_OAUTH2: &str = "custom-oauth2";

/// The auth mode an integration of `provider` uses.
pub fn auth_mode(provider: &str) -> Result<AuthMode, ApiError> {
    match provider {
        CUSTOM_OAUTH2 => Ok(AuthMode::OAuth2),
        other => Err(ApiError::bad_request(
            "unknown_provider",
            format!("Unknown provider '{other}'. Use '{CUSTOM_OAUTH2}' with a 'custom' block of endpoints."),
        )),
    }
}

fn parse_endpoint(field: &str, value: &str) -> Result<Url, ApiError> {
    let url =
        Url::parse(value).map_err(|_| ApiError::invalid_body(format!("custom.{field} is not an absolute URL.")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(ApiError::invalid_body(format!(
            "custom.{field} must be an http(s) URL with a host."
        )));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid_body(format!(
            "custom.{field} may not carry a fragment or user info."
        )));
    }
    Ok(url)
}

fn string_pairs(map: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()),
            )
        })
        .collect()
}

/// Checks a custom block when an integration is written, so a bad URL fails at configuration
/// time rather than in a customer's browser.
pub fn validate_custom(custom: &CustomOAuth2) -> Result<(), ApiError> {
    parse_endpoint("authorization_url", &custom.authorization_url)?;
    parse_endpoint("token_url", &custom.token_url)?;
    if let Some(u) = &custom.userinfo_url {
        parse_endpoint("userinfo_url", u)?;
    }
    match custom.token_request_auth_method.as_deref() {
        None | Some("body") | Some("basic") => Ok(()),
        Some(_) => Err(ApiError::invalid_body(
            "custom.token_request_auth_method must be 'body' or 'basic'.",
        )),
    }
}

pub fn oauth2_endpoints(integration: &IntegrationRecord) -> Result<OAuth2Endpoints, ApiError> {
    let custom = integration.custom.as_ref().ok_or_else(|| {
        ApiError::bad_request(
            "invalid_integration",
            format!("Integration '{}' has no OAuth2 endpoints.", integration.key),
        )
    })?;
    Ok(OAuth2Endpoints {
        authorization_url: parse_endpoint("authorization_url", &custom.authorization_url)?,
        token_url: parse_endpoint("token_url", &custom.token_url)?,
        authorization_params: string_pairs(&custom.authorization_params),
        token_params: string_pairs(&custom.token_params),
        scope_separator: custom.scope_separator.clone().unwrap_or_else(|| " ".into()),
        client_auth: match custom.token_request_auth_method.as_deref() {
            Some("basic") => ClientAuth::Basic,
            _ => ClientAuth::Body,
        },
        pkce: !custom.disable_pkce,
    })
}
