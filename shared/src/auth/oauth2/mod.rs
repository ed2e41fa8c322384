//! `OAUTH2`: the authorization-code grant through a browser redirect (PKCE S256 unless the
//! provider refuses it), and the refresh-token grant. The pieces are shared with the
//! client-credentials mode: `endpoints` (where and how, from the catalog or the integration),
//! `authorize` (the authorization URL), `token` (the one token request, and reading answers).

pub mod authorize;
pub mod endpoints;
pub mod token;

use async_trait::async_trait;

use super::{
    open_client_secret, pkce, wrong_credentials, AuthScheme, Callback, Kept, ModeContext, Obtain, Obtained, Redirect,
    RedirectStart,
};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, ClientSecret, RefreshToken};
use crate::error::{Error, ErrorCode};
use authorize::AuthorizationRequest;
use endpoints::OAuth2Endpoints;
use token::{Grant, TokenError, TokenRequest, TokenResponse};

pub struct OAuth2;

/// The token request of the OAuth2 modes: `grant` at the endpoints, through the guarded client
/// (`token::request_token` builds and sends it).
pub async fn token_grant(
    cx: &ModeContext<'_>,
    endpoints: &OAuth2Endpoints,
    client_id: &str,
    client_secret: Option<&ClientSecret>,
    grant: Grant<'_>,
) -> Result<TokenResponse, TokenError> {
    token::request_token(
        &cx.state.outbound,
        &TokenRequest {
            endpoints,
            client_id,
            client_secret,
            grant,
        },
    )
    .await
}

/// A failed token request as the caller sees it: retrying helps when the endpoint did not
/// answer or failed on its side, not when it refused; a host the integration does not allow is
/// the caller's. The message never holds the body, a status, a host or the provider's own words
/// (its `error_description`): the operator's activity entry has them. It may name the
/// provider's OAuth error code (`invalid_grant`, printable and bounded: `cause`).
pub fn token_failure(code: ErrorCode, what: &str, e: TokenError) -> Error {
    let short = e.code();
    let cause = e.cause();
    let error = match e {
        TokenError::Provider { description, .. } => {
            let refused = Error::provider(
                false,
                code,
                format!("{what}: the provider refused the token request: {cause} [{short}]"),
            );
            match description {
                Some(said) => refused.with_detail(format!("the provider said: {said}")),
                None => refused,
            }
        }
        TokenError::Outbound(o) => {
            let error = o.into_error(code, what);
            let detail = format!("{} [{short}]", error.detail.clone().unwrap_or_default());
            error.with_detail(detail)
        }
        TokenError::Status(status) => Error::provider(e.is_transient(), code, format!("{what}: {e} [{short}]"))
            .with_detail(format!("HTTP {status}")),
        other => Error::provider(other.is_transient(), code, format!("{what}: {other} [{short}]")),
    };
    error.with_cause(cause)
}

/// For the activity log: what the provider issued, without any of it.
fn token_note(token: &TokenResponse) -> String {
    let expires = token
        .expires_in
        .map(|s| format!(", expires in {s} s"))
        .unwrap_or_default();
    let refresh = if token.refresh_token.is_some() {
        ", with a refresh token"
    } else {
        ""
    };
    format!("Token received{expires}{refresh}.")
}

#[async_trait]
impl AuthScheme for OAuth2 {
    fn mode(&self) -> AuthMode {
        AuthMode::OAuth2
    }

    fn obtains(&self) -> Obtain {
        Obtain::Redirect
    }

    async fn start(&self, cx: &ModeContext<'_>, start: &RedirectStart<'_>) -> Result<Redirect, Error> {
        let client_id = integration_client_id(cx)?;
        let endpoints = endpoints::for_connection(cx.integration, cx.connection_config, cx.vouched_config)?;
        start_at(&endpoints, &client_id, &cx.integration.scopes, start)
    }

    async fn finish(&self, cx: &ModeContext<'_>, callback: &Callback<'_>) -> Result<Obtained, Error> {
        let endpoints = endpoints::for_connection(cx.integration, cx.connection_config, cx.vouched_config)?;
        let client = Client {
            id: cx.integration.client_id.clone().unwrap_or_default(),
            secret: Some(open_client_secret(cx.state, cx.integration).await?),
        };
        finish_at(cx, &endpoints, &client, callback, cx.connection_config.clone()).await
    }

    async fn verify(&self, _cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        check_imported(self.mode(), credentials)
    }

    /// A token with a refresh token is refreshed on read when it expires within the margin, or
    /// when forced. Without one nothing can be done but authorize again: it is answered as is.
    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(
            credentials,
            Credentials::OAuth2 {
                refresh_token: Some(_),
                ..
            }
        ) && (expiring || force)
    }

    /// The refresh-token grant at the provider's refresh (or token) URL. A response without a
    /// refresh token keeps the one the connection has: most providers do not rotate it.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let refresh_token = refresh_token_of(self.mode(), current)?;
        let endpoints = endpoints::for_connection(cx.integration, cx.connection_config, cx.vouched_config)?;
        let client = Client {
            id: cx.integration.client_id.clone().unwrap_or_default(),
            secret: Some(open_client_secret(cx.state, cx.integration).await?),
        };
        refresh_at(cx, &endpoints, &client, refresh_token).await
    }
}

/// Imported OAuth2-shaped credentials (`type: OAUTH2`): a token is all that is checked.
pub fn check_imported(mode: AuthMode, credentials: Credentials) -> Result<Credentials, Error> {
    match &credentials {
        Credentials::OAuth2 { access_token, .. } if access_token.is_empty() => {
            Err(Error::invalid_body("credentials.access_token must not be empty."))
        }
        Credentials::OAuth2 { .. } => Ok(credentials),
        other => Err(wrong_credentials(mode, other)),
    }
}

/// The integration's client id, which a redirect needs.
pub fn integration_client_id(cx: &ModeContext<'_>) -> Result<String, Error> {
    cx.integration.client_id.clone().ok_or_else(|| {
        Error::invalid(
            ErrorCode::MissingClientId,
            format!("Integration '{}' has no client id configured.", cx.integration.key),
        )
    })
}

/// The OAuth client a token request authenticates as: without a secret, a public client (its
/// id in the body, RFC 6749 section 2.3; an MCP server's dynamically registered client).
pub struct Client {
    pub id: String,
    pub secret: Option<ClientSecret>,
}

/// The authorization redirect of the code grant at `endpoints` (the OAuth2 modes and MCP's).
pub fn start_at(
    endpoints: &OAuth2Endpoints,
    client_id: &str,
    scopes: &[String],
    start: &RedirectStart<'_>,
) -> Result<Redirect, Error> {
    // Decided now: no browser is sent to, and no code later exchanged at, a host the
    // integration does not allow.
    endpoints.check_hosts()?;
    let verifier = endpoints.pkce.then(pkce::new_verifier);
    let user_scope: Option<Vec<String>> = start.user_scope.map(|u| {
        u.split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let challenge = verifier.as_ref().map(pkce::s256_challenge);
    let url = authorize::authorization_url(
        endpoints,
        &AuthorizationRequest {
            client_id,
            redirect_uri: start.redirect_uri,
            scopes,
            state: start.state,
            code_challenge: challenge.as_deref(),
            extra_params: start.authorization_params,
            user_scope: user_scope.as_deref(),
        },
    )?;
    Ok(Redirect {
        url,
        kept: Kept {
            code_verifier: verifier,
            ..Default::default()
        },
    })
}

/// The callback's code exchanged at `endpoints`; `config` is the connection config the
/// credentials come with (the provider's metadata is added to it).
pub async fn finish_at(
    cx: &ModeContext<'_>,
    endpoints: &OAuth2Endpoints,
    client: &Client,
    callback: &Callback<'_>,
    config: crate::domain::ConnectionConfig,
) -> Result<Obtained, Error> {
    let code = callback
        .params
        .get(&endpoints.code_param)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::invalid(ErrorCode::TokenErr, "The provider sent no authorization code."))?;
    let grant = Grant::AuthorizationCode {
        code,
        redirect_uri: callback.redirect_uri,
        code_verifier: callback.kept.code_verifier.as_ref(),
    };
    let token = token_grant(cx, endpoints, &client.id, client.secret.as_ref(), grant)
        .await
        .map_err(|e| token_failure(ErrorCode::TokenErr, "Token exchange failed", e))?;
    let callback_values: Vec<(String, String)> = endpoints
        .redirect_uri_metadata
        .iter()
        .filter_map(|k| callback.params.get(k).map(|v| (k.clone(), v.clone())))
        .collect();
    let connection_config =
        crate::providers::config_from_provider(&cx.integration.provider, config, &token.metadata, &callback_values);
    Ok(Obtained {
        note: token_note(&token),
        credentials: token.into_credentials(cx.state.clock.now()),
        connection_config,
    })
}

/// The refresh token of OAuth2-shaped credentials, which a refresh needs.
pub fn refresh_token_of(mode: AuthMode, current: &Credentials) -> Result<&RefreshToken, Error> {
    let Credentials::OAuth2 { refresh_token, .. } = current else {
        return Err(wrong_credentials(mode, current));
    };
    refresh_token.as_ref().ok_or_else(|| {
        Error::invalid(
            ErrorCode::InvalidCredentials,
            "The connection has no refresh token; it must be authorized again.",
        )
    })
}

/// The refresh-token grant at the provider's refresh (or token) URL. A response without a
/// refresh token keeps the one the connection has: most providers do not rotate it.
pub async fn refresh_at(
    cx: &ModeContext<'_>,
    endpoints: &OAuth2Endpoints,
    client: &Client,
    refresh_token: &RefreshToken,
) -> Result<Obtained, Error> {
    let token = token_grant(
        cx,
        endpoints,
        &client.id,
        client.secret.as_ref(),
        Grant::RefreshToken { refresh_token },
    )
    .await
    .map_err(|e| token_failure(ErrorCode::TokenErr, "Token refresh failed", e))?;
    let note = token_note(&token);
    let connection_config = crate::providers::config_from_provider(
        &cx.integration.provider,
        cx.connection_config.clone(),
        &token.metadata,
        &[],
    );
    let mut credentials = token.into_credentials(cx.state.clock.now());
    if let Credentials::OAuth2 {
        refresh_token: kept @ None,
        ..
    } = &mut credentials
    {
        *kept = Some(refresh_token.clone());
    }
    Ok(Obtained {
        credentials,
        connection_config,
        note,
    })
}

#[cfg(test)]
mod quirk_tests;
#[cfg(test)]
mod refresh_tests;
#[cfg(test)]
mod token_props;
