//! `OAUTH2_CC`: a token fetched with the OAuth2 client-credentials grant, with the connection's
//! own client id and secret or the integration's, and fetched again (its refresh) when it
//! expires within the read margin, when forced, and ahead of reads of a hot connection.
//!
//! A provider that asks for mutual TLS (the catalog's `require_client_certificate`: ADP) gets
//! the connection's own TLS client certificate and key (`client_certificate`,
//! `client_private_key`, PEM) at its token endpoint and in every request to its API; they are
//! required for such a provider, sealed with the credentials, and the key is never returned.

use async_trait::async_trait;

use super::oauth2::token::Grant;
use super::oauth2::{endpoints, token_failure, token_grant};
use super::verification::invalid_credentials;
use super::{open_client_secret, wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, Submission};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, ClientSecret, Secret};
use crate::error::{Error, ErrorCode};
use crate::outbound::ClientIdentity;
use crate::store::IntegrationRecord;

pub struct ClientCredentials;

/// A connection's TLS client certificate and private key, as given (PEM).
type TlsClient = (String, Secret);

/// Whether the integration's provider asks for a TLS client certificate.
fn requires_certificate(integration: &IntegrationRecord) -> bool {
    crate::providers::provider(&integration.provider).is_some_and(|p| p.require_client_certificate == Some(true))
}

/// The identity to present: the connection's certificate and key, read and checked; required
/// where the provider asks for one.
fn identity_of(integration: &IntegrationRecord, tls: Option<&TlsClient>) -> Result<Option<ClientIdentity>, Error> {
    match tls {
        Some((certificate, key)) => ClientIdentity::from_pem(certificate, key.expose())
            .map(Some)
            .map_err(|e| invalid_credentials(format!("{e}."))),
        None if requires_certificate(integration) => Err(invalid_credentials(format!(
            "Provider '{}' requires mutual TLS: send client_certificate and client_private_key (PEM).",
            integration.provider
        ))),
        None => Ok(None),
    }
}

/// Fetches a token. `own` is the connection's client id and secret, if it brought them; only
/// then are they kept with the credentials (otherwise the integration's serve every re-fetch).
/// `tls` is the connection's TLS client certificate and key, kept when given.
async fn fetch(
    cx: &ModeContext<'_>,
    own: Option<(String, ClientSecret)>,
    tls: Option<TlsClient>,
) -> Result<Obtained, Error> {
    let integration = cx.integration;
    let mut endpoints = endpoints::for_connection(integration, cx.connection_config, cx.vouched_config)?;
    endpoints.client_identity = identity_of(integration, tls.as_ref())?;
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
    let token = token_grant(cx, &endpoints, &client_id, Some(&client_secret), grant)
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
            client_certificate: tls.as_ref().map(|(c, _)| c.clone()),
            client_private_key: tls.map(|(_, k)| k),
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

    /// None when the integration has its own client: the end user then only confirms. A
    /// provider asking for mutual TLS asks for the connection's certificate and key too.
    fn form_fields(&self, integration: &IntegrationRecord) -> Vec<&'static str> {
        let mut fields = if integration.client_id.is_some() && integration.client_secret.is_some() {
            Vec::new()
        } else {
            vec!["client_id", "client_secret"]
        };
        if requires_certificate(integration) {
            fields.extend(["client_certificate", "client_private_key"]);
        }
        fields
    }

    /// `client_id` and `client_secret` when the connection brings its own (the edge checked
    /// that both or neither came), else the integration's; `client_certificate` and
    /// `client_private_key` likewise.
    async fn submit(&self, cx: &ModeContext<'_>, mut submission: Submission) -> Result<Obtained, Error> {
        let own = submission
            .take("client_id")
            .zip(submission.take("client_secret"))
            .map(|(id, secret)| (id.expose().to_owned(), ClientSecret::new(secret.expose())));
        let tls = submission
            .take("client_certificate")
            .zip(submission.take("client_private_key"))
            .map(|(certificate, key)| (certificate.expose().to_owned(), key));
        fetch(cx, own, tls).await
    }

    /// An imported token is kept as given; a TLS client certificate it brings must be usable,
    /// and one is needed where the provider asks for mutual TLS (its re-fetch presents it).
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        match &credentials {
            Credentials::OAuth2Cc { token, .. } if token.is_empty() => {
                Err(Error::invalid_body("credentials.token must not be empty."))
            }
            Credentials::OAuth2Cc {
                client_certificate,
                client_private_key,
                ..
            } => {
                let tls = client_certificate.clone().zip(client_private_key.clone());
                if tls.is_none() && (client_certificate.is_some() || client_private_key.is_some()) {
                    return Err(Error::invalid_body(
                        "Send both credentials.client_certificate and credentials.client_private_key, or neither.",
                    ));
                }
                identity_of(cx.integration, tls.as_ref())?;
                Ok(credentials)
            }
            other => Err(wrong_credentials(self.mode(), other)),
        }
    }

    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let Credentials::OAuth2Cc {
            client_id,
            client_secret,
            client_certificate,
            client_private_key,
            ..
        } = current
        else {
            return Err(wrong_credentials(self.mode(), current));
        };
        let tls = client_certificate.clone().zip(client_private_key.clone());
        fetch(cx, client_id.clone().zip(client_secret.clone()), tls).await
    }

    /// The token, and the connection's TLS client certificate where it has one.
    async fn apply(
        &self,
        _cx: &ModeContext<'_>,
        credentials: &Credentials,
        request: &mut super::ProviderRequest,
    ) -> Result<(), Error> {
        let Credentials::OAuth2Cc {
            client_certificate,
            client_private_key,
            ..
        } = credentials
        else {
            return Err(wrong_credentials(self.mode(), credentials));
        };
        super::bearer(credentials, request);
        if let Some((certificate, key)) = client_certificate.as_ref().zip(client_private_key.as_ref()) {
            request.client_identity = Some(
                ClientIdentity::from_pem(certificate, key.expose())
                    .map_err(|e| invalid_credentials(format!("{e}.")))?,
            );
        }
        Ok(())
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::OAuth2Cc { .. }) && (expiring || force)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccessToken, ConnectionConfig, IntegrationKey, VouchedKeys};
    use crate::outbound::{Method, Target};

    /// What `apply` puts on a request to ADP's API: the token, and the connection's certificate.
    #[tokio::test]
    async fn requests_present_the_connections_certificate() {
        let state = crate::AppState::for_tests();
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let integration = IntegrationRecord {
            key: IntegrationKey::parse("adp").unwrap(),
            provider: "adp".into(),
            display_name: None,
            auth_mode: AuthMode::OAuth2Cc,
            client_id: None,
            client_secret: None,
            scopes: vec![],
            custom: None,
            allowed_hosts: vec![],
            created_at: now,
            updated_at: now,
            generation: String::new(),
            app: None,
            aws_sigv4: None,
        };
        assert_eq!(
            ClientCredentials.form_fields(&integration),
            ["client_id", "client_secret", "client_certificate", "client_private_key"]
        );
        let config = ConnectionConfig::default();
        let cx = ModeContext {
            state: &state,
            integration: &integration,
            connection_config: &config,
            vouched_config: &VouchedKeys::new(),
        };
        let credentials = |key: Option<&str>| Credentials::OAuth2Cc {
            token: AccessToken::new("adp-1"),
            expires_at: None,
            client_id: None,
            client_secret: None,
            client_certificate: key.map(|_| include_str!("../outbound/testdata/client-cert.pem").to_owned()),
            client_private_key: key.map(Secret::new),
            raw: Default::default(),
        };
        let request = || {
            super::super::ProviderRequest::new(
                Method::GET,
                Target::catalog(url::Url::parse("https://api.adp.com/hr/v2/workers").unwrap()),
            )
        };
        let mut with = request();
        let key = include_str!("../outbound/testdata/client-key.pem");
        ClientCredentials
            .apply(&cx, &credentials(Some(key)), &mut with)
            .await
            .unwrap();
        assert_eq!(with.headers["authorization"], "Bearer adp-1");
        assert!(with.client_identity.is_some());
        let mut without = request();
        ClientCredentials
            .apply(&cx, &credentials(None), &mut without)
            .await
            .unwrap();
        assert!(without.client_identity.is_none());
        let mut broken = request();
        let e = ClientCredentials
            .apply(&cx, &credentials(Some("not a key")), &mut broken)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidCredentials);
    }
}
