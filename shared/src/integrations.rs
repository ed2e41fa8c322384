//! Integrations: an operator's configuration of one provider (client id, sealed client secret,
//! scopes, custom endpoints). Parsed and validated here, sealed before it reaches the store.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::auth;
use crate::domain::HostPattern;
use crate::domain::{AuthMode, ClientSecret, IntegrationKey, Secret};
use crate::error::{Error, ErrorCode};
use crate::providers;
use crate::store::{CustomOAuth2, GitHubApp, IntegrationRecord, StoreError};
use crate::AppState;

/// Scopes arrive as a comma- or space-separated string (the ecosystem's form) or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scopes {
    Text(String),
    List(Vec<String>),
}

impl Scopes {
    pub fn into_vec(self) -> Vec<String> {
        let items = match self {
            Scopes::Text(s) => s.split([',', ' ']).map(str::to_owned).collect(),
            Scopes::List(v) => v,
        };
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsInput {
    #[serde(rename = "type")]
    pub kind: Option<AuthMode>,
    pub client_id: Option<String>,
    pub client_secret: Option<ClientSecret>,
    pub scopes: Option<Scopes>,
    /// A GitHub App (`APP`): its id, public link and private key (PEM, sealed, never returned).
    pub app_id: Option<String>,
    pub app_link: Option<String>,
    pub private_key: Option<Secret>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegration {
    pub provider: String,
    pub unique_key: String,
    pub display_name: Option<String>,
    pub credentials: Option<CredentialsInput>,
    pub custom: Option<CustomOAuth2>,
    /// Hosts an end user may name in connection config (`*.instructure.com`).
    pub allowed_hosts: Option<Vec<HostPattern>>,
    /// A mode's own settings, by Nango's names (`AWS_SIGV4`: `auth::aws_sigv4::settings`).
    pub integration_config: Option<BTreeMap<String, Secret>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegration {
    pub unique_key: Option<String>,
    pub display_name: Option<String>,
    pub credentials: Option<CredentialsInput>,
    pub custom: Option<CustomOAuth2>,
    /// Replaces the list; `[]` returns to the catalog's defaults.
    pub allowed_hosts: Option<Vec<HostPattern>>,
    /// Each key given replaces the kept one (`CreateIntegration::integration_config`).
    pub integration_config: Option<BTreeMap<String, Secret>>,
}

/// At most this many allowed-host patterns per integration.
const MAX_ALLOWED_HOSTS: usize = 50;

fn check_allowed_hosts(hosts: &[HostPattern]) -> Result<(), Error> {
    if hosts.len() > MAX_ALLOWED_HOSTS {
        return Err(Error::invalid_body(format!(
            "allowed_hosts takes at most {MAX_ALLOWED_HOSTS} patterns."
        )));
    }
    Ok(())
}

fn check_display_name(name: &Option<String>) -> Result<(), Error> {
    match name {
        Some(n) if n.chars().count() > 255 => Err(Error::invalid_body("display_name is longer than 255 characters.")),
        _ => Ok(()),
    }
}

/// Applies a credentials block to a record; the mode named in it must match the provider's.
async fn apply_credentials(
    state: &AppState,
    record: &mut IntegrationRecord,
    input: CredentialsInput,
) -> Result<(), Error> {
    if let Some(kind) = input.kind {
        if kind != record.auth_mode {
            return Err(Error::invalid_body(format!(
                "credentials.type is {} but provider '{}' uses {}.",
                kind.as_str(),
                record.provider,
                record.auth_mode.as_str()
            )));
        }
    }
    if let Some(id) = input.client_id {
        if id.trim().is_empty() || id.len() > 1024 {
            return Err(Error::invalid_body(
                "credentials.client_id must be 1 to 1024 characters.",
            ));
        }
        record.client_id = Some(id);
    }
    if let Some(secret) = input.client_secret {
        if secret.is_empty() || secret.expose().len() > 4096 {
            return Err(Error::invalid_body(
                "credentials.client_secret must be 1 to 4096 characters.",
            ));
        }
        record.client_secret = Some(auth::seal_client_secret(state, &record.key, &secret).await?);
    }
    if let Some(scopes) = input.scopes {
        record.scopes = scopes.into_vec();
    }
    apply_app(state, record, input.app_id, input.app_link, input.private_key).await
}

/// A GitHub App's fields, for an `APP` integration: all three the first time, any of them
/// after (the others are kept).
async fn apply_app(
    state: &AppState,
    record: &mut IntegrationRecord,
    app_id: Option<String>,
    app_link: Option<String>,
    private_key: Option<Secret>,
) -> Result<(), Error> {
    use auth::github_app::{check_app_id, check_app_link, check_private_key, seal_private_key};
    if app_id.is_none() && app_link.is_none() && private_key.is_none() {
        return Ok(());
    }
    if !matches!(record.auth_mode, AuthMode::App | AuthMode::Custom) {
        return Err(Error::invalid_body(format!(
            "credentials.app_id, app_link and private_key are for GitHub App integrations; provider '{}' uses {}.",
            record.provider, record.auth_mode
        )));
    }
    let private_key = match private_key {
        Some(pem) => {
            check_private_key(&pem)?;
            Some(seal_private_key(state, record, &pem).await?)
        }
        None => None,
    };
    let kept = record.app.take();
    let app_id = app_id.or_else(|| kept.as_ref().map(|a| a.app_id.clone()));
    let app_link = app_link.or_else(|| kept.as_ref().map(|a| a.app_link.clone()));
    let private_key = private_key.or_else(|| kept.map(|a| a.private_key));
    let (Some(app_id), Some(app_link), Some(private_key)) = (app_id, app_link, private_key) else {
        return Err(Error::invalid_body(
            "A GitHub App integration needs credentials.app_id, app_link and private_key.",
        ));
    };
    check_app_id(&app_id)?;
    check_app_link(&app_link)?;
    record.app = Some(GitHubApp {
        app_id,
        app_link,
        private_key,
    });
    Ok(())
}

pub async fn create(state: &AppState, input: CreateIntegration) -> Result<IntegrationRecord, Error> {
    let key = IntegrationKey::parse(input.unique_key)?;
    let scheme = auth::provider_scheme(&input.provider)?;
    let auth_mode = scheme.mode();
    check_display_name(&input.display_name)?;
    if input.provider == providers::CUSTOM_OAUTH2 && input.custom.is_none() {
        return Err(Error::invalid_body(
            "Provider 'custom-oauth2' needs a 'custom' block with authorization_url and token_url.",
        ));
    }
    if let Some(custom) = &input.custom {
        auth::oauth2::endpoints::validate_custom(custom, &input.provider)?;
    }
    check_allowed_hosts(input.allowed_hosts.as_deref().unwrap_or_default())?;
    // A redirect flow sends the browser to the provider with the integration's client id: without
    // one, no connect could ever start — said now (before any secret is sealed), not at the
    // end user's first connect.
    let no_client_id = input.credentials.as_ref().is_none_or(|c| c.client_id.is_none());
    // A GitHub App integration connects through its app (checked below), not a client id.
    // An MCP integration whose client Latchkey registers itself needs none either.
    let registers = auth::mcp::registers_own_client(&input.provider, auth_mode);
    if scheme.obtains() == auth::Obtain::Redirect && auth_mode != AuthMode::App && !registers && no_client_id {
        return Err(Error::invalid(
            ErrorCode::MissingClientId,
            format!(
                "Provider '{}' uses {}: send credentials.client_id (and client_secret), the app you registered at the provider.",
                input.provider,
                auth_mode.as_str()
            ),
        ));
    }
    let now = state.clock.now();
    let mut record = IntegrationRecord {
        key,
        provider: input.provider,
        display_name: input.display_name,
        auth_mode,
        client_id: None,
        client_secret: None,
        scopes: Vec::new(),
        custom: input.custom,
        allowed_hosts: input.allowed_hosts.unwrap_or_default(),
        app: None,
        aws_sigv4: None,
        created_at: now,
        updated_at: now,
        generation: String::new(),
    };
    if let Some(creds) = input.credentials {
        apply_credentials(state, &mut record, creds).await?;
    }
    if let Some(config) = input.integration_config {
        auth::aws_sigv4::settings::apply(state, &mut record, config).await?;
    }
    if auth_mode == AuthMode::AwsSigV4 && record.aws_sigv4.is_none() {
        return Err(auth::aws_sigv4::settings::missing(&record));
    }
    if auth_mode == AuthMode::McpOAuth2 {
        auth::mcp::prepare_integration(state, &mut record).await?;
    }
    if matches!(auth_mode, AuthMode::App | AuthMode::Custom) && record.app.is_none() {
        return Err(Error::invalid_body(format!(
            "Provider '{}' uses {}: send credentials.app_id, app_link and private_key, the GitHub App you registered.",
            record.provider, auth_mode
        )));
    }
    state.store.create_integration(&record).await.map_err(|e| match e {
        StoreError::Conflict => Error::conflict(
            ErrorCode::DuplicateIntegration,
            format!("An integration with unique key '{}' exists already.", record.key),
        ),
        other => other.into(),
    })?;
    Ok(record)
}

/// The endpoints of a `custom` block that receive what an integration holds, by field: the
/// token URL gets the client secret, the authorization URL the browser (and so the code), the
/// API base and the userinfo URL credentials. Empty = the catalog's.
fn endpoints_of(custom: Option<&CustomOAuth2>) -> [(&'static str, Option<&str>); 4] {
    fn field(v: Option<&str>) -> Option<&str> {
        v.filter(|u| !u.is_empty())
    }
    [
        ("custom.token_url", field(custom.map(|c| c.token_url.as_str()))),
        (
            "custom.authorization_url",
            field(custom.map(|c| c.authorization_url.as_str())),
        ),
        (
            "custom.proxy_base_url",
            field(custom.and_then(|c| c.proxy_base_url.as_deref())),
        ),
        (
            "custom.userinfo_url",
            field(custom.and_then(|c| c.userinfo_url.as_deref())),
        ),
    ]
}

/// What an update changes of where the integration's client secret (or what its users' flows
/// carry) may be sent, by field: each custom endpoint it moves, and `allowed_hosts` when the new
/// list (`[]`: the catalog's defaults) widens them (narrowing sends nothing anywhere new).
fn new_destinations(
    record: &IntegrationRecord,
    custom: Option<&CustomOAuth2>,
    hosts: Option<&[HostPattern]>,
) -> Vec<&'static str> {
    let mut changed: Vec<&'static str> = match custom {
        Some(custom) => {
            let (before, after) = (endpoints_of(record.custom.as_ref()), endpoints_of(Some(custom)));
            before
                .iter()
                .zip(after.iter())
                .filter(|(b, a)| b.1 != a.1)
                .map(|(b, _)| b.0)
                .collect()
        }
        None => Vec::new(),
    };
    if let Some(hosts) = hosts {
        // `[]` means the catalog's defaults, which may be wider than the operator's list.
        let before = auth::allowed_hosts(record);
        let after = auth::allowed_hosts(&IntegrationRecord {
            allowed_hosts: hosts.to_vec(),
            ..record.clone()
        });
        if after.patterns.iter().any(|h| !before.covers(h)) {
            changed.push("allowed_hosts");
        }
    }
    changed
}

/// The one rule for every change of where the client secret may go — a custom endpoint moved,
/// an allowed host added: an integration that holds a client secret takes the secret again in
/// the same request. Otherwise whoever holds only the secret key could point the token URL, or
/// allow a host, of theirs and have the next token request deliver a secret the API never
/// returns.
fn check_new_destinations(record: &IntegrationRecord, input: &UpdateIntegration) -> Result<(), Error> {
    let resent = input.credentials.as_ref().is_some_and(|c| c.client_secret.is_some());
    if record.client_secret.is_none() || resent {
        return Ok(());
    }
    let changed = new_destinations(record, input.custom.as_ref(), input.allowed_hosts.as_deref());
    if changed.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        ErrorCode::MissingClientSecret,
        format!(
            "Changing {} sends the integration's client secret (or its users' credentials) somewhere new: send \
             credentials.client_secret again in the same request.",
            changed.join(", ")
        ),
    ))
}

pub async fn update(
    state: &AppState,
    key: &IntegrationKey,
    input: UpdateIntegration,
) -> Result<IntegrationRecord, Error> {
    if input.unique_key.as_deref().is_some_and(|k| k != key.as_str()) {
        return Err(Error::invalid_body(
            "unique_key cannot be changed: connections are bound to it.",
        ));
    }
    let mut record = get(state, key).await?;
    check_display_name(&input.display_name)?;
    if let Some(custom) = &input.custom {
        auth::oauth2::endpoints::validate_custom(custom, &record.provider)?;
    }
    if let Some(hosts) = &input.allowed_hosts {
        check_allowed_hosts(hosts)?;
    }
    check_new_destinations(&record, &input)?;
    if let Some(name) = input.display_name {
        record.display_name = Some(name);
    }
    if let Some(custom) = input.custom {
        record.custom = Some(custom);
    }
    if let Some(hosts) = input.allowed_hosts {
        record.allowed_hosts = hosts;
    }
    if let Some(creds) = input.credentials {
        apply_credentials(state, &mut record, creds).await?;
    }
    if let Some(config) = input.integration_config {
        auth::aws_sigv4::settings::apply(state, &mut record, config).await?;
    }
    record.updated_at = state.clock.now();
    if !state.store.replace_integration(&record).await? {
        return Err(Error::unknown_integration(key.as_str()));
    }
    Ok(record)
}

pub async fn get(state: &AppState, key: &IntegrationKey) -> Result<IntegrationRecord, Error> {
    state
        .store
        .get_integration(key)
        .await?
        .ok_or_else(|| Error::unknown_integration(key.as_str()))
}

pub async fn list(state: &AppState) -> Result<Vec<IntegrationRecord>, Error> {
    Ok(state.store.list_integrations().await?)
}

/// Deletes the integration and every connection of it.
/// Deletes the integration at once; its connections are purged in the background
/// (`jobs::purge`), and none of them is read, listed or refreshed from this moment.
pub async fn delete(state: &AppState, key: &IntegrationKey) -> Result<(), Error> {
    if crate::jobs::purge::delete_integration(state, key).await? {
        Ok(())
    } else {
        Err(Error::unknown_integration(key.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_from_text_or_list() {
        assert_eq!(
            Scopes::Text("openid, email profile".into()).into_vec(),
            ["openid", "email", "profile"]
        );
        assert_eq!(Scopes::List(vec![" a ".into(), "".into()]).into_vec(), ["a"]);
    }
}
