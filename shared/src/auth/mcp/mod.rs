//! `MCP_OAUTH2`: OAuth 2.1 as an MCP server's authorization server speaks it (the MCP
//! authorization spec) — the OAuth2 mode's code grant and refresh (`oauth2::start_at`,
//! `finish_at`, `refresh_at` at the catalog's endpoints), with PKCE S256 always and the catalog's
//! resource indicator (RFC 8707 `resource`) in the authorization, token and refresh requests.
//! The OAuth client is, by the entry's `client_registration`:
//! - `static`: the operator's client id and secret, as for `OAUTH2`;
//! - `dynamic`: registered by Latchkey (RFC 7591, `registration`) when the operator creates the
//!   integration, at the catalog's `registration_url`; the answer's client id (and secret, when
//!   the server issued one, sealed) are the integration's;
//! - `cimd` (a client ID metadata document): not supported yet; such an integration is refused.
//!
//! `generic` is `MCP_OAUTH2_GENERIC`: the same dance at a server the end user names, found by
//! discovery (`discovery`), with a client registered per connection.
//!
//! Credentials are OAuth2-shaped (`type: OAUTH2` on the wire, as Nango returns them for MCP
//! connections); the connection record keeps the integration's mode, so refresh comes back here.

pub mod discovery;
pub mod generic;
pub mod registration;

use async_trait::async_trait;

use super::oauth2::endpoints::{self, OAuth2Endpoints};
use super::oauth2::{self, Client};
use super::{open_client_secret, AuthScheme, Callback, ModeContext, Obtain, Obtained, Redirect, RedirectStart};
use crate::credentials::Credentials;
use crate::domain::AuthMode;
use crate::error::{Error, ErrorCode};
use crate::outbound::Target;
use crate::store::IntegrationRecord;
use crate::AppState;
use registration::ClientMetadata;

pub struct McpOAuth2;

/// How an `MCP_OAUTH2` entry's client comes to be (`client_registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRegistration {
    Static,
    Dynamic,
    Cimd,
}

/// The catalog's `client_registration` of an `MCP_OAUTH2` entry (`static` when unset).
pub fn client_registration(provider: &str) -> Option<ClientRegistration> {
    let p = crate::providers::provider(provider)?;
    let registration = match p.client_registration.as_deref() {
        Some("dynamic") => ClientRegistration::Dynamic,
        Some("cimd") => ClientRegistration::Cimd,
        _ => ClientRegistration::Static,
    };
    (p.auth_mode == AuthMode::McpOAuth2).then_some(registration)
}

/// Whether an integration of `provider` connects without the operator's client id: Latchkey
/// registers its own client (dynamic registration at creation, or per connection for GENERIC).
pub fn registers_own_client(provider: &str, mode: AuthMode) -> bool {
    mode == AuthMode::McpOAuth2Generic || client_registration(provider) == Some(ClientRegistration::Dynamic)
}

/// MCP's rules over OAuth2 endpoints: PKCE S256 always, and the resource indicator of the
/// authorization request sent with the token and refresh requests too (RFC 8707 section 2.2).
pub fn apply_mcp_rules(e: &mut OAuth2Endpoints) {
    e.pkce = true;
    let resource = e
        .authorization_params
        .iter()
        .find(|(k, _)| k == "resource")
        .map(|(_, v)| v.clone());
    if let Some(resource) = resource {
        for params in [&mut e.token_params, &mut e.refresh_params] {
            if !params.iter().any(|(k, _)| k == "resource") {
                params.push(("resource".into(), resource.clone()));
            }
        }
    }
}

/// The endpoints of an `MCP_OAUTH2` integration for one connection.
fn endpoints_of(cx: &ModeContext<'_>) -> Result<OAuth2Endpoints, Error> {
    let mut e = endpoints::for_connection(cx.integration, cx.connection_config, cx.vouched_config)?;
    apply_mcp_rules(&mut e);
    Ok(e)
}

/// The integration's client: its id, and its secret when it has one (a client registered as
/// public has none: it is identified by its id alone).
async fn client_of(cx: &ModeContext<'_>) -> Result<Client, Error> {
    let id = oauth2::integration_client_id(cx)?;
    let secret = match &cx.integration.client_secret {
        Some(_) => Some(open_client_secret(cx.state, cx.integration).await?),
        None => None,
    };
    Ok(Client { id, secret })
}

/// What the operator's creation of an `MCP_OAUTH2` integration needs before it is stored: a
/// `dynamic` entry without the operator's own client registers Latchkey at the catalog's
/// `registration_url` (a failure is the creation's: nothing is stored). A `cimd` entry never
/// gets this far (`auth::provider_scheme` refuses it).
pub async fn prepare_integration(state: &AppState, record: &mut IntegrationRecord) -> Result<(), Error> {
    match client_registration(&record.provider) {
        Some(ClientRegistration::Dynamic) if record.client_id.is_none() => register_integration(state, record).await,
        _ => Ok(()),
    }
}

async fn register_integration(state: &AppState, record: &mut IntegrationRecord) -> Result<(), Error> {
    let p = crate::providers::provider(&record.provider)
        .ok_or_else(|| crate::providers::unknown_provider(&record.provider))?;
    let url = p
        .registration_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .ok_or_else(|| {
            Error::invalid(
                ErrorCode::InvalidIntegration,
                format!("Provider '{}' has no registration_url.", p.name),
            )
        })?;
    let settings = crate::environment::settings(state).await?;
    let redirect_uri = crate::environment::callback_url(state, &settings);
    let (grant_types, response_types) = registration::catalog_params(p.registration_params.as_ref());
    let client_name = format!("Latchkey - {} - {}", state.config.environment, p.display_name);
    let client = registration::register(
        &state.outbound,
        Target::catalog(url),
        &ClientMetadata {
            redirect_uri: &redirect_uri,
            client_name: &client_name,
            grant_types,
            response_types,
            scope: None,
        },
    )
    .await?;
    record.client_id = Some(client.client_id);
    record.client_secret = match &client.client_secret {
        Some(secret) => Some(super::seal_client_secret(state, &record.key, secret).await?),
        None => None,
    };
    Ok(())
}

#[async_trait]
impl AuthScheme for McpOAuth2 {
    fn mode(&self) -> AuthMode {
        AuthMode::McpOAuth2
    }

    fn obtains(&self) -> Obtain {
        Obtain::Redirect
    }

    async fn start(&self, cx: &ModeContext<'_>, start: &RedirectStart<'_>) -> Result<Redirect, Error> {
        let client_id = oauth2::integration_client_id(cx)?;
        oauth2::start_at(&endpoints_of(cx)?, &client_id, &cx.integration.scopes, start)
    }

    async fn finish(&self, cx: &ModeContext<'_>, callback: &Callback<'_>) -> Result<Obtained, Error> {
        let endpoints = endpoints_of(cx)?;
        let client = client_of(cx).await?;
        oauth2::finish_at(cx, &endpoints, &client, callback, cx.connection_config.clone()).await
    }

    async fn verify(&self, _cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        oauth2::check_imported(self.mode(), credentials)
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        oauth2::OAuth2.refresh_on_read(credentials, expiring, force)
    }

    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let refresh_token = oauth2::refresh_token_of(self.mode(), current)?;
        let endpoints = endpoints_of(cx)?;
        let client = client_of(cx).await?;
        oauth2::refresh_at(cx, &endpoints, &client, refresh_token).await
    }
}

#[cfg(test)]
mod tests;
