//! OAuth2 client credentials (`OAUTH2_CC`): fetch a token with the connection's own client id
//! and secret, or the integration's, and fetch again when a read finds it expired.

use crate::auth::oauth2::{self, Grant, TokenRequest};
use crate::credentials::Credentials;
use crate::domain::{ConnectionConfig, Secret};
use crate::error::{Error, ErrorCode};
use crate::integrations::open_client_secret;
use crate::providers;
use crate::store::IntegrationRecord;
use crate::AppState;

/// A token is re-fetched on read when it expires within this margin.
pub const REFRESH_MARGIN: time::Duration = time::Duration::seconds(60);

/// Fetches a token. `own` is the connection's client id and secret, if it brought them.
pub async fn fetch(
    state: &AppState,
    integration: &IntegrationRecord,
    config: &ConnectionConfig,
    own: Option<(String, Secret)>,
) -> Result<(Credentials, serde_json::Map<String, serde_json::Value>), Error> {
    let endpoints = providers::oauth2_endpoints(integration, config)?;
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
            (id, open_client_secret(state, integration).await?, false)
        }
    };
    let token = oauth2::request_token(
        &state.http,
        state.config.provider_timeout,
        &TokenRequest {
            endpoints: &endpoints,
            client_id: &client_id,
            client_secret: &client_secret,
            grant: Grant::ClientCredentials {
                scopes: &integration.scopes,
            },
        },
    )
    .await
    .map_err(|e| {
        Error::invalid(
            ErrorCode::ConnectionTestFailed,
            format!(
                "The provider did not issue a client-credentials token: {e} [{}]",
                e.code()
            ),
        )
    })?;
    let now = state.clock.now();
    let metadata = token.metadata.clone();
    let expires_at = token.expires_at(now);
    Ok((
        Credentials::OAuth2Cc {
            token: token.access_token,
            expires_at,
            client_id: keep.then_some(client_id),
            client_secret: keep.then_some(client_secret),
            raw: token.raw,
        },
        metadata,
    ))
}

/// Whether a read must fetch a new token first.
pub fn needs_refetch(credentials: &Credentials, now: time::OffsetDateTime, force: bool) -> bool {
    match credentials {
        Credentials::OAuth2Cc { expires_at, .. } => force || expires_at.is_some_and(|t| t - REFRESH_MARGIN <= now),
        _ => false,
    }
}
