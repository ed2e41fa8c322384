//! `OAUTH2_CC`: a token fetched with the OAuth2 client-credentials grant, with the connection's
//! own client id and secret or the integration's, and fetched again (its refresh) when it
//! expires within the read margin, when forced, and ahead of reads of a hot connection.

use async_trait::async_trait;

use super::oauth2::token::Grant;
use super::oauth2::{endpoints, token_failure, token_grant};
use super::{open_client_secret, wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, Submission};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, ClientSecret};
use crate::error::{Error, ErrorCode};
use crate::store::IntegrationRecord;

pub struct ClientCredentials;

/// Fetches a token. `own` is the connection's client id and secret, if it brought them; only
/// then are they kept with the credentials (otherwise the integration's serve every re-fetch).
async fn fetch(cx: &ModeContext<'_>, own: Option<(String, ClientSecret)>) -> Result<Obtained, Error> {
    let integration = cx.integration;
    let endpoints = endpoints::for_connection(integration, cx.connection_config, cx.vouched_config)?;
    // Before any secret is opened: the token URL's host must be one the integration allows.
    endpoints.check_hosts()?;
    let (client_id, client_secret, keep) = match own {
        Some((id, secret)) => (id, secret, true),
        None => {
            let id = integration.client_id.clone().ok_or_else(|| {
                Error::invalid(
                    ErrorCode::MissingClientId,
                    format!(
                        "Integration '{}' has no client id; send client_id and client_secret.",
                        integration.key
                    ),
                )
            })?;
            (id, open_client_secret(cx.state, integration).await?, false)
        }
    };
    let grant = Grant::ClientCredentials {
        scopes: &integration.scopes,
    };
    let token = token_grant(cx, &endpoints, &client_id, &client_secret, grant)
        .await
        .map_err(|e| {
            token_failure(
                ErrorCode::ConnectionTestFailed,
                "The provider did not issue a client-credentials token",
                e,
            )
        })?;
    let connection_config = crate::providers::config_from_provider(
        &integration.provider,
        cx.connection_config.clone(),
        &token.metadata,
        &[],
    );
    let expires_at = token.expires_at(cx.state.clock.now());
    Ok(Obtained {
        credentials: Credentials::OAuth2Cc {
            token: token.access_token,
            expires_at,
            client_id: keep.then_some(client_id),
            client_secret: keep.then_some(client_secret),
            raw: token.raw,
        },
        connection_config,
        note: super::ACCEPTED.into(),
    })
}

#[async_trait]
impl AuthScheme for ClientCredentials {
    fn mode(&self) -> AuthMode {
        AuthMode::OAuth2Cc
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    /// None when the integration has its own client: the end user then only confirms.
    fn form_fields(&self, integration: &IntegrationRecord) -> Vec<&'static str> {
        if integration.client_id.is_some() && integration.client_secret.is_some() {
            Vec::new()
        } else {
            vec!["client_id", "client_secret"]
        }
    }

    /// `client_id` and `client_secret` when the connection brings its own (the edge checked
    /// that both or neither came), else the integration's.
    async fn submit(&self, cx: &ModeContext<'_>, mut submission: Submission) -> Result<Obtained, Error> {
        let own = submission
            .take("client_id")
            .zip(submission.take("client_secret"))
            .map(|(id, secret)| (id.expose().to_owned(), ClientSecret::new(secret.expose())));
        fetch(cx, own).await
    }

    async fn verify(&self, _cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        match &credentials {
            Credentials::OAuth2Cc { token, .. } if token.is_empty() => {
                Err(Error::invalid_body("credentials.token must not be empty."))
            }
            Credentials::OAuth2Cc { .. } => Ok(credentials),
            other => Err(wrong_credentials(self.mode(), other)),
        }
    }

    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let Credentials::OAuth2Cc {
            client_id,
            client_secret,
            ..
        } = current
        else {
            return Err(wrong_credentials(self.mode(), current));
        };
        fetch(cx, client_id.clone().zip(client_secret.clone())).await
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::OAuth2Cc { .. }) && (expiring || force)
    }
}
