//! `BASIC`: a username and password the end user submits, with the catalog's defaults applied
//! and each checked against its field spec, then proven with the provider's verification
//! request. Sent as HTTP Basic unless the catalog's templates set the Authorization header.

use async_trait::async_trait;
use base64::Engine;

use super::verification::{check_field, invalid_credentials, retest, verify_with_provider};
use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, ProviderRequest, Submission};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, Secret};
use crate::error::Error;
use crate::providers::template::Vars;
use crate::store::IntegrationRecord;

pub struct Basic;

/// The catalog's default of a credential field (a fixed username, an empty password).
fn default_of(cx: &ModeContext<'_>, field: &str) -> Option<String> {
    crate::providers::provider(&cx.integration.provider)
        .and_then(|p| p.credentials.as_ref())
        .and_then(|specs| specs.get(field))
        .and_then(|spec| spec.default_value.clone())
}

#[async_trait]
impl AuthScheme for Basic {
    fn mode(&self) -> AuthMode {
        AuthMode::Basic
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    fn form_fields(&self, _integration: &IntegrationRecord) -> Vec<&'static str> {
        vec!["username", "password"]
    }

    async fn submit(&self, cx: &ModeContext<'_>, mut submission: Submission) -> Result<Obtained, Error> {
        let credentials = Credentials::Basic {
            username: submission
                .take("username")
                .map(|u| u.expose().to_owned())
                .unwrap_or_default(),
            password: submission.take("password").unwrap_or_default(),
        };
        let credentials = self.verify(cx, credentials).await?;
        Ok(Obtained {
            credentials,
            connection_config: cx.connection_config.clone(),
            note: super::ACCEPTED.into(),
        })
    }

    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::Basic { username, password } = credentials else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        let username = if username.is_empty() {
            default_of(cx, "username").unwrap_or_default()
        } else {
            username
        };
        let password = if password.is_empty() {
            Secret::new(default_of(cx, "password").unwrap_or_default())
        } else {
            password
        };
        if username.is_empty() {
            return Err(invalid_credentials("username is required.".into()));
        }
        check_field(cx, "username", &username)?;
        if !password.is_empty() {
            check_field(cx, "password", password.expose())?;
        }
        let credentials = Credentials::Basic { username, password };
        verify_with_provider(cx, self, &credentials).await?;
        Ok(credentials)
    }

    /// A password does not expire: its refresh is a re-test with the provider.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        retest(cx, self, current).await
    }

    fn template_values(&self, credentials: &Credentials, vars: &mut Vars<'_>) {
        if let Credentials::Basic { username, password } = credentials {
            vars.credentials.insert("username".into(), username.clone());
            vars.credentials.insert("password".into(), password.expose().to_owned());
        }
    }

    async fn apply(
        &self,
        _cx: &ModeContext<'_>,
        credentials: &Credentials,
        request: &mut ProviderRequest,
    ) -> Result<(), Error> {
        if let Credentials::Basic { username, password } = credentials {
            request.headers.entry("authorization".into()).or_insert_with(|| {
                let pair = format!("{username}:{}", password.expose());
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
            });
        }
        Ok(())
    }
}
