//! `API_KEY`: a key the end user submits (`{"apiKey": …}`), checked against the catalog's field
//! spec and proven with the provider's verification request before anything is stored. The
//! catalog's header and query templates (`${apiKey}`) carry it to the provider.

use async_trait::async_trait;

use super::verification::{check_field, invalid_credentials, retest, verify_with_provider};
use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, ProviderRequest, Submission};
use crate::credentials::Credentials;
use crate::domain::AuthMode;
use crate::error::Error;
use crate::providers::template::Vars;
use crate::store::IntegrationRecord;

pub struct ApiKey;

#[async_trait]
impl AuthScheme for ApiKey {
    fn mode(&self) -> AuthMode {
        AuthMode::ApiKey
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    fn form_fields(&self, _integration: &IntegrationRecord) -> Vec<&'static str> {
        vec!["apiKey"]
    }

    async fn submit(&self, cx: &ModeContext<'_>, mut submission: Submission) -> Result<Obtained, Error> {
        let api_key = submission.take("apiKey").unwrap_or_default();
        let credentials = self.verify(cx, Credentials::ApiKey { api_key }).await?;
        Ok(Obtained {
            credentials,
            connection_config: cx.connection_config.clone(),
            note: super::ACCEPTED.into(),
        })
    }

    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::ApiKey { api_key } = &credentials else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        if api_key.is_empty() || api_key.expose().len() > 8192 {
            return Err(invalid_credentials("apiKey must be 1 to 8192 characters.".into()));
        }
        check_field(cx, "apiKey", api_key.expose())?;
        verify_with_provider(cx, self, &credentials).await?;
        Ok(credentials)
    }

    /// A key does not expire: its refresh is a re-test with the provider.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        retest(cx, self, current).await
    }

    fn template_values(&self, credentials: &Credentials, vars: &mut Vars<'_>) {
        if let Credentials::ApiKey { api_key } = credentials {
            vars.secrets.insert("apiKey", api_key.expose().to_owned());
            vars.credentials.insert("apiKey".into(), api_key.expose().to_owned());
        }
    }

    /// The catalog's templates place the key; there is no header of its own to add.
    async fn apply(
        &self,
        _cx: &ModeContext<'_>,
        _credentials: &Credentials,
        _request: &mut ProviderRequest,
    ) -> Result<(), Error> {
        Ok(())
    }
}
