//! `MCP_OAUTH2_GENERIC`: OAuth at an MCP server the end user names (`mcp_server_url`). At the
//! start: discovery (`discovery::discover`), a client registered for this connection at the
//! discovered registration endpoint (RFC 7591, a public client), then the code grant with PKCE
//! S256 and the server's resource indicator. What was discovered and registered crosses the
//! redirect sealed in the flow's session (`Kept.values`); at the callback it is kept with the
//! connection — `oauth_metadata`, `oauth_client_info` (the client id) and `oauth_resource_url`
//! in its config, as Nango names them, and a client secret, when the server issued one, as the
//! sealed config field `oauth_client_secret` — so refresh needs no rediscovery.

use async_trait::async_trait;
use serde_json::Value;

use super::apply_mcp_rules;
use super::discovery::{self, McpMetadata};
use super::registration::{self, ClientMetadata, RegisteredClient};
use crate::auth::oauth2::endpoints::OAuth2Endpoints;
use crate::auth::oauth2::{self, Client};
use crate::auth::{AuthScheme, Callback, ModeContext, Obtain, Obtained, Redirect, RedirectStart};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, ClientSecret, ConnectionConfig, Secret};
use crate::error::{Error, ErrorCode};

pub struct McpOAuth2Generic;

/// The connection-config fields the mode writes.
pub const METADATA_FIELD: &str = "oauth_metadata";
pub const CLIENT_FIELD: &str = "oauth_client_info";
pub const RESOURCE_FIELD: &str = "oauth_resource_url";
/// Sealed at rest (`providers::secret_config_fields`).
pub const CLIENT_SECRET_FIELD: &str = crate::providers::MCP_CLIENT_SECRET_FIELD;

/// The name of what the start keeps for the callback (`Kept.values`).
const KEPT: &str = "mcp";

/// What the start found and registered, as it crosses the redirect.
#[derive(serde::Serialize, serde::Deserialize)]
struct Discovered {
    metadata: McpMetadata,
    client: RegisteredClient,
}

/// The OAuth2 endpoints of what discovery found, every URL re-checked and sent as a host the
/// end user chose.
fn endpoints_of(metadata: &McpMetadata) -> Result<OAuth2Endpoints, Error> {
    let target = |what: &str, u: &str| discovery::check_url(what, u).map(discovery::target);
    let mut e = OAuth2Endpoints::new(
        target("The authorization endpoint", &metadata.authorization_endpoint)?,
        target("The token endpoint", &metadata.token_endpoint)?,
    );
    e.default_scopes = metadata.scopes.clone();
    if let Some(resource) = &metadata.resource {
        e.authorization_params.push(("resource".into(), resource.clone()));
    }
    apply_mcp_rules(&mut e);
    Ok(e)
}

fn server_url(cx: &ModeContext<'_>) -> Result<String, Error> {
    cx.connection_config
        .get(discovery::SERVER_URL_FIELD)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::invalid(
                ErrorCode::MissingConnectionConfig,
                "The connection needs connection_config.mcp_server_url.",
            )
        })
}

fn client(registered: &RegisteredClient) -> Client {
    Client {
        id: registered.client_id.clone(),
        secret: registered.client_secret.clone(),
    }
}

/// The discovery and client kept with a connection, for its refresh.
fn kept_with(config: &ConnectionConfig) -> Result<(McpMetadata, RegisteredClient), Error> {
    let missing = || {
        Error::invalid(
            ErrorCode::InvalidConnectionConfig,
            "The connection lacks its MCP server's OAuth metadata; it must be authorized again.",
        )
    };
    let field = |k: &str| config.get(k).and_then(Value::as_str);
    let metadata: McpMetadata = field(METADATA_FIELD)
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(missing)?;
    let client_id = field(CLIENT_FIELD)
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|c| c.get("client_id").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(missing)?;
    let client_secret = field(CLIENT_SECRET_FIELD).map(ClientSecret::new);
    Ok((
        metadata,
        RegisteredClient {
            client_id,
            client_secret,
        },
    ))
}

#[async_trait]
impl AuthScheme for McpOAuth2Generic {
    fn mode(&self) -> AuthMode {
        AuthMode::McpOAuth2Generic
    }

    fn obtains(&self) -> Obtain {
        Obtain::Redirect
    }

    async fn start(&self, cx: &ModeContext<'_>, start: &RedirectStart<'_>) -> Result<Redirect, Error> {
        let server = server_url(cx)?;
        let metadata = discovery::discover(&cx.state.outbound, &server).await?;
        let endpoints = endpoints_of(&metadata)?;
        let registration_endpoint = metadata.registration_endpoint.as_deref().ok_or_else(|| {
            Error::invalid(
                ErrorCode::McpDiscoveryFailed,
                "The MCP server's authorization server offers no client registration.",
            )
        })?;
        let endpoint = discovery::target(discovery::check_url(
            "The registration endpoint",
            registration_endpoint,
        )?);
        let scope = metadata.scopes.join(" ");
        let client_name = cx
            .integration
            .display_name
            .clone()
            .unwrap_or_else(|| format!("Latchkey - {}", cx.state.config.environment));
        let registered = registration::register(
            &cx.state.outbound,
            endpoint,
            &ClientMetadata {
                redirect_uri: start.redirect_uri,
                client_name: &client_name,
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                response_types: vec!["code".into()],
                scope: Some(&scope),
            },
        )
        .await?;
        let mut redirect = oauth2::start_at(&endpoints, &registered.client_id, &cx.integration.scopes, start)?;
        let discovered = Discovered {
            metadata,
            client: registered,
        };
        let kept = serde_json::to_string(&discovered).map_err(|_| Error::internal())?;
        redirect.kept.values.insert(KEPT.into(), Secret::new(kept));
        Ok(redirect)
    }

    async fn finish(&self, cx: &ModeContext<'_>, callback: &Callback<'_>) -> Result<Obtained, Error> {
        let discovered: Discovered = callback
            .kept
            .values
            .get(KEPT)
            .and_then(|v| serde_json::from_str(v.expose()).ok())
            .ok_or_else(Error::internal)?;
        let endpoints = endpoints_of(&discovered.metadata)?;
        let mut config = cx.connection_config.clone();
        let metadata = serde_json::to_string(&discovered.metadata).map_err(|_| Error::internal())?;
        config.insert(METADATA_FIELD.into(), Value::String(metadata));
        let client_info = serde_json::json!({"client_id": discovered.client.client_id}).to_string();
        config.insert(CLIENT_FIELD.into(), Value::String(client_info));
        config.insert(
            RESOURCE_FIELD.into(),
            Value::String(discovered.metadata.resource.clone().unwrap_or_default()),
        );
        match &discovered.client.client_secret {
            Some(secret) => config.insert(CLIENT_SECRET_FIELD.into(), Value::String(secret.expose().to_owned())),
            None => config.remove(CLIENT_SECRET_FIELD),
        };
        oauth2::finish_at(cx, &endpoints, &client(&discovered.client), callback, config).await
    }

    async fn verify(&self, _cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        oauth2::check_imported(self.mode(), credentials)
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        oauth2::OAuth2.refresh_on_read(credentials, expiring, force)
    }

    /// At the token endpoint kept with the connection (checked again), as the client
    /// registered for it.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let refresh_token = oauth2::refresh_token_of(self.mode(), current)?;
        let (metadata, registered) = kept_with(cx.connection_config)?;
        let endpoints = endpoints_of(&metadata)?;
        oauth2::refresh_at(cx, &endpoints, &client(&registered), refresh_token).await
    }
}
