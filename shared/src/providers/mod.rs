//! Where an integration's provider behaviour comes from: the embedded catalog (`catalog`,
//! `schema`), rendered per connection through `template`, or the generic OAuth2 provider
//! (`custom-oauth2`) whose endpoints the integration itself supplies. An integration of a
//! catalog provider may override the catalog's URLs with the same `custom` block.
//! `auth_mode` and `validate_connection_config` are what every flow asks of it.

pub mod catalog;
pub mod hosts;
pub mod schema;
pub mod template;

use serde_json::{Map, Value};

use crate::domain::{AuthMode, ConnectionConfig};
use crate::error::{Error, ErrorCode};
pub use catalog::{catalog, provider};
pub use hosts::default_allowed_hosts;
use schema::Provider;
use template::{check_spec, render_text, render_url, Slot, TemplateError, Vars};

/// The generic OAuth2 provider: URLs come from the integration's `custom` block.
pub const CUSTOM_OAUTH2: &str = "custom-oauth2";

pub(crate) fn unknown_provider(name: &str) -> Error {
    let name = crate::domain::nameable(name)
        .map(|n| format!(" '{n}'"))
        .unwrap_or_default();
    Error::invalid(
        ErrorCode::UnknownProvider,
        format!(
            "Unknown provider{name}. See GET /providers, or use '{CUSTOM_OAUTH2}' with a 'custom' block of endpoints."
        ),
    )
}

/// The auth mode of a provider: its catalog entry's, or OAUTH2 for the generic provider. Whether
/// Latchkey can connect it is the auth registry's to say (`auth::scheme`).
pub fn auth_mode(provider_name: &str) -> Result<AuthMode, Error> {
    if provider_name == CUSTOM_OAUTH2 {
        return Ok(AuthMode::OAuth2);
    }
    provider(provider_name)
        .map(|p| p.auth_mode)
        .ok_or_else(|| unknown_provider(provider_name))
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

/// The connection-config key of an `AWS_SIGV4` connection's external id (`auth::aws_sigv4`):
/// not in the catalog's entry, taken from the team's backend only.
pub const AWS_EXTERNAL_ID: &str = "external_id";

/// `external_id` as AWS takes it: 2 to 1224 of letters, digits and `+=,.@:/-`.
static AWS_EXTERNAL_ID_SPEC: std::sync::LazyLock<schema::FieldSpec> = std::sync::LazyLock::new(|| schema::FieldSpec {
    kind: Some("string".into()),
    pattern: Some(r"^[A-Za-z0-9+=,.@:/-]{2,1224}$".into()),
    optional: Some(true),
    ..Default::default()
});

/// The connection-config keys a mode takes beside its catalog entry's.
pub fn mode_config_spec(mode: AuthMode, key: &str) -> Option<&'static schema::FieldSpec> {
    match (mode, key) {
        (AuthMode::AwsSigV4, AWS_EXTERNAL_ID) => Some(&AWS_EXTERNAL_ID_SPEC),
        _ => None,
    }
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
    if crate::domain::limits::stored_size(input) > crate::domain::limits::CONNECTION_CONFIG {
        return Err(invalid_config(format!(
            "The connection config is larger than Latchkey stores ({} KiB as JSON).",
            crate::domain::limits::CONNECTION_CONFIG / 1024
        )));
    }
    let mut out = Map::new();
    for (key, value) in input {
        // A mode may take keys of its own beside the catalog's (AWS_SIGV4's `external_id`).
        let spec = specs
            .and_then(|s| s.get(key))
            .or_else(|| mode_config_spec(p.auth_mode, key))
            .ok_or_else(|| {
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

/// The connection-config field of an `MCP_OAUTH2_GENERIC` connection holding the client secret
/// its MCP server registered for it, if any (sealed like a catalog `secret` field).
pub const MCP_CLIENT_SECRET_FIELD: &str = "oauth_client_secret";

/// The connection-config fields a provider's catalog entry marks `secret` (acumatica's
/// `password`, google-ads' `developer_token`, …): sealed at rest like credentials and masked on
/// the wire unless asked for, while templates still read them.
pub fn secret_config_fields(provider_name: &str) -> Vec<&'static str> {
    let Some(p) = provider(provider_name) else {
        return Vec::new();
    };
    let mut fields: Vec<&'static str> = p
        .connection_config
        .iter()
        .flatten()
        .filter(|(_, spec)| spec.secret == Some(true))
        .map(|(name, _)| name.as_str())
        .collect();
    // The client secret an MCP server registered for one connection, when it issued one.
    if p.auth_mode == AuthMode::McpOAuth2Generic {
        fields.push(MCP_CLIENT_SECRET_FIELD);
    }
    fields
}

/// Splits a connection config into what may be stored as is and the provider's secret fields.
pub fn split_secret_config(provider_name: &str, mut config: ConnectionConfig) -> (ConnectionConfig, ConnectionConfig) {
    let secret = secret_config_fields(provider_name)
        .into_iter()
        .filter_map(|name| config.remove(name).map(|v| (name.to_owned(), v)))
        .collect();
    (config, secret)
}

/// Where a provider's token response may hold a refresh token, as dotted paths into it: the
/// standard `refresh_token`, the catalog's own name for it, and the same under the catalog's
/// alternate path (Slack's user token in `authed_user.refresh_token`). The wire hides each of
/// them unless the refresh token was asked for.
pub fn refresh_token_paths(provider_name: &str) -> Vec<String> {
    let p = provider(provider_name);
    let named = p
        .and_then(|p| p.token_response.as_ref())
        .and_then(|t| t.refresh_token.clone());
    let names: Vec<String> = std::iter::once("refresh_token".to_owned()).chain(named).collect();
    let alternate = p.and_then(|p| p.alternate_access_token_response_path.as_deref());
    let mut paths = names.clone();
    if let Some(alternate) = alternate {
        paths.extend(names.iter().map(|n| format!("{alternate}.{n}")));
    }
    paths.dedup();
    paths
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
            // Other values are kept as sent, within the bound a string has.
            other if crate::domain::limits::stored_size(other) > 2048 => continue,
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

#[cfg(test)]
mod template_props;
#[cfg(test)]
pub(crate) mod tests;
