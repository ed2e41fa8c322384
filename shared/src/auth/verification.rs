//! API key and Basic credentials: checked against the catalog's field specs (defaults applied),
//! then proven with the provider's `proxy.verification` request before anything is stored.
//! Any failure of that request is `connection_test_failed`; the provider's answer is not echoed.

use std::collections::BTreeMap;

use reqwest::header::{HeaderName, HeaderValue};

use crate::credentials::Credentials;
use crate::domain::{ConnectionConfig, Secret};
use crate::error::{Error, ErrorCode};
use crate::providers::schema::Provider;
use crate::providers::template::{check_spec, render_text, render_url, Slot, TemplateError, Vars};
use crate::store::IntegrationRecord;
use crate::AppState;

fn invalid(message: String) -> Error {
    Error::invalid(ErrorCode::InvalidCredentials, message)
}

/// Applies `default_value`s and checks each credential against its `pattern`/`enum`/`format`.
pub fn check_credentials(provider: Option<&Provider>, credentials: Credentials) -> Result<Credentials, Error> {
    let specs = provider.and_then(|p| p.credentials.as_ref());
    let spec = |k: &str| specs.and_then(|s| s.get(k));
    let check = |k: &str, v: &str| -> Result<(), Error> {
        if v.chars().any(char::is_control) {
            return Err(invalid(format!("Credential '{k}' holds control characters.")));
        }
        match spec(k) {
            Some(s) => check_spec(s, v).map_err(|reason| invalid(format!("Credential '{k}' is not valid: {reason}."))),
            None => Ok(()),
        }
    };
    match credentials {
        Credentials::ApiKey { api_key } => {
            if api_key.is_empty() || api_key.expose().len() > 8192 {
                return Err(invalid("apiKey must be 1 to 8192 characters.".into()));
            }
            check("apiKey", api_key.expose())?;
            Ok(Credentials::ApiKey { api_key })
        }
        Credentials::Basic { username, password } => {
            let default = |k: &str| spec(k).and_then(|s| s.default_value.clone());
            let username = if username.is_empty() {
                default("username").unwrap_or_default()
            } else {
                username
            };
            let password = if password.is_empty() {
                Secret::new(default("password").unwrap_or_default())
            } else {
                password
            };
            if username.is_empty() {
                return Err(invalid("username is required.".into()));
            }
            check("username", &username)?;
            if !password.is_empty() {
                check("password", password.expose())?;
            }
            Ok(Credentials::Basic { username, password })
        }
        other => Ok(other),
    }
}

fn test_failed(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::ConnectionTestFailed, message)
}

/// The template values of a credential set.
pub fn credential_vars<'a>(
    provider: &'a Provider,
    config: &'a ConnectionConfig,
    credentials: &Credentials,
) -> Vars<'a> {
    let mut vars = Vars {
        credential_specs: provider.credentials.as_ref(),
        ..Vars::config(config, provider.connection_config.as_ref())
    };
    match credentials {
        Credentials::ApiKey { api_key } => {
            vars.secrets.insert("apiKey", api_key.expose().to_owned());
            vars.credentials.insert("apiKey".into(), api_key.expose().to_owned());
        }
        Credentials::Basic { username, password } => {
            vars.credentials.insert("username".into(), username.clone());
            vars.credentials.insert("password".into(), password.expose().to_owned());
        }
        Credentials::OAuth2 { access_token, .. } => {
            vars.secrets.insert("accessToken", access_token.expose().to_owned());
        }
        Credentials::OAuth2Cc { token, .. } => {
            vars.secrets.insert("accessToken", token.expose().to_owned());
        }
    }
    vars
}

/// Calls the provider's verification endpoint with the new credentials, when it has one.
/// An integration's `custom.proxy_base_url` replaces the catalog's base URL.
pub async fn verify(
    state: &AppState,
    integration: &IntegrationRecord,
    provider: &Provider,
    config: &ConnectionConfig,
    credentials: &Credentials,
) -> Result<(), Error> {
    let Some(proxy) = provider.proxy.as_ref() else {
        return Ok(());
    };
    let Some(verification) = proxy.verification.as_ref() else {
        return Ok(());
    };
    let what = format!("Provider '{}'", provider.name);
    let vars = credential_vars(provider, config, credentials);
    let base_template = integration
        .custom
        .as_ref()
        .and_then(|c| c.proxy_base_url.as_deref())
        .or(verification.base_url_override.as_deref())
        .unwrap_or(&proxy.base_url);
    let base = render_url(base_template, &vars).map_err(|e| e.into_error(&what))?;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in proxy
        .headers
        .iter()
        .flatten()
        .chain(verification.headers.iter().flatten())
    {
        match render_text(v, &vars, Slot::Header) {
            Ok(value) => {
                headers.insert(k.to_ascii_lowercase(), value);
            }
            // A header built from optional connection config that was not given is left out.
            Err(TemplateError::Missing(var)) if var.starts_with("connectionConfig.") => continue,
            Err(e) => return Err(e.into_error(&what)),
        }
    }
    let query: Vec<(String, String)> = proxy
        .query
        .iter()
        .flatten()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                render_text(v, &vars, Slot::Param).map_err(|e| e.into_error(&what))?,
            ))
        })
        .collect::<Result<_, Error>>()?;
    let method = reqwest::Method::from_bytes(verification.method.as_deref().unwrap_or("GET").as_bytes())
        .map_err(|_| test_failed("The provider's verification method is not valid."))?;
    let mut last_status = None;
    for endpoint in &verification.endpoints {
        if endpoint.contains("${") || !endpoint.starts_with('/') {
            return Err(Error::invalid(
                ErrorCode::UnsupportedProviderTemplate,
                format!("{what} verifies at a templated endpoint, which Latchkey does not support yet."),
            ));
        }
        let mut url = url::Url::parse(&format!("{}{endpoint}", base.as_str().trim_end_matches('/')))
            .map_err(|_| test_failed("The verification URL is not valid."))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(&query);
        }
        let mut req = state
            .http
            .request(method.clone(), url)
            .timeout(state.config.provider_timeout);
        for (k, v) in &headers {
            let (Ok(name), Ok(mut value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) else {
                return Err(test_failed("A verification header is not valid."));
            };
            value.set_sensitive(true);
            req = req.header(name, value);
        }
        if let Credentials::Basic { username, password } = credentials {
            if !headers.contains_key("authorization") {
                req = req.basic_auth(username, Some(password.expose()));
            }
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last_status = Some(r.status().as_u16()),
            Err(e) => {
                tracing::warn!(provider = %provider.name, timeout = e.is_timeout(), "verification request failed");
                return Err(test_failed(format!(
                    "The credentials could not be verified: {} did not answer.",
                    base.host_str().unwrap_or("the provider")
                )));
            }
        }
    }
    Err(test_failed(format!(
        "The provider rejected the credentials (HTTP {}).",
        last_status.unwrap_or(0)
    )))
}
