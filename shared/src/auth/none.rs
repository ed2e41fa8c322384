//! `NONE` (`youcanbook-me-public`): the provider's API takes no credentials. A connection holds
//! only its connection config (the entry's fields, e.g. a subdomain); connecting stores it, with
//! nothing to verify, refresh or apply.

use async_trait::async_trait;

use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, Submission};
use crate::credentials::Credentials;
use crate::domain::AuthMode;
use crate::error::Error;

pub struct Unauthenticated;

fn obtained(cx: &ModeContext<'_>) -> Obtained {
    Obtained {
        credentials: Credentials::Unauthenticated,
        connection_config: cx.connection_config.clone(),
        note: "The provider takes no credentials.".into(),
    }
}

#[async_trait]
impl AuthScheme for Unauthenticated {
    fn mode(&self) -> AuthMode {
        AuthMode::None
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    /// Nothing is submitted: a field would be a credential the provider does not take.
    async fn submit(&self, cx: &ModeContext<'_>, submission: Submission) -> Result<Obtained, Error> {
        let fields = submission.into_fields();
        if let Some(name) = fields.keys().next() {
            return Err(Error::invalid_body(format!(
                "Integration '{}' uses NONE, which takes no credential '{name}'.",
                cx.integration.key
            )));
        }
        Ok(obtained(cx))
    }

    async fn verify(&self, _cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        match credentials {
            Credentials::Unauthenticated => Ok(credentials),
            other => Err(wrong_credentials(self.mode(), &other)),
        }
    }

    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        match current {
            Credentials::Unauthenticated => Ok(obtained(cx)),
            other => Err(wrong_credentials(self.mode(), other)),
        }
    }
}
