//! `TBA` (NetSuite token-based authentication, `netsuite-tba`): the end user submits a token id
//! and secret they created in NetSuite (`POST /auth/tba/{integration}`: `token_id`,
//! `token_secret`), for the account named by `connection_config.accountId`. The integration's
//! client id and secret are the consumer key and secret. Every request is signed OAuth 1.0a
//! HMAC-SHA256 with the token (`oauth1::signing`), with `realm` the account id as NetSuite
//! writes it (upper case, its first `-` an `_`). Tokens do not expire; connecting and every
//! re-test prove them with a signed request NetSuite checks: the catalog's verification if the
//! entry names one, else `GET {proxy base URL}/metadata-catalog`.

use async_trait::async_trait;
use serde_json::Value;

use super::oauth1::signing::{SignatureMethod, Signer};
use super::oauth1::{consumer, sign_request};
use super::verification::{check_field, invalid_credentials, verify_at};
use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, ProviderRequest, Submission};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, Secret};
use crate::error::Error;
use crate::providers::schema::Verification;
use crate::store::IntegrationRecord;

pub struct Tba;

const TOKEN_ID: &str = "token_id";
const TOKEN_SECRET: &str = "token_secret";
const ACCOUNT_ID: &str = "accountId";

/// The longest token id or secret taken (NetSuite's are 64 hex digits).
const MAX_VALUE: usize = 512;

/// NetSuite's realm for an account id: `tstdrv-231585` is `TSTDRV_231585`.
pub fn realm(account_id: &str) -> String {
    account_id.replacen('-', "_", 1).to_ascii_uppercase()
}

/// The request that proves a token: the catalog's verification, or a read of the account's
/// REST record metadata, which NetSuite answers only to a valid signature.
fn verification(cx: &ModeContext<'_>) -> Verification {
    crate::providers::provider(&cx.integration.provider)
        .and_then(|p| p.proxy.as_ref())
        .and_then(|proxy| proxy.verification.clone())
        .unwrap_or_else(|| Verification {
            method: Some("GET".into()),
            endpoints: vec!["/metadata-catalog".into()],
            ..Default::default()
        })
}

fn checked(cx: &ModeContext<'_>, name: &str, value: &Secret) -> Result<(), Error> {
    if value.is_empty() || value.expose().len() > MAX_VALUE {
        return Err(invalid_credentials(format!("{name} is required.")));
    }
    check_field(cx, name, value.expose())
}

#[async_trait]
impl AuthScheme for Tba {
    fn mode(&self) -> AuthMode {
        AuthMode::Tba
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    fn form_fields(&self, _integration: &IntegrationRecord) -> Vec<&'static str> {
        vec![TOKEN_ID, TOKEN_SECRET]
    }

    async fn submit(&self, cx: &ModeContext<'_>, mut submission: Submission) -> Result<Obtained, Error> {
        let credentials = Credentials::Tba {
            token_id: submission.take(TOKEN_ID).unwrap_or_default(),
            token_secret: submission.take(TOKEN_SECRET).unwrap_or_default(),
        };
        // Nango's per-connection consumer overrides are not taken: said, not ignored.
        if let Some(other) = submission.into_fields().into_keys().next() {
            return Err(Error::invalid_body(format!(
                "TBA takes token_id and token_secret only, not '{other}'."
            )));
        }
        let credentials = self.verify(cx, credentials).await?;
        Ok(Obtained {
            credentials,
            connection_config: cx.connection_config.clone(),
            note: super::ACCEPTED.into(),
        })
    }

    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::Tba { token_id, token_secret } = &credentials else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        checked(cx, TOKEN_ID, token_id)?;
        checked(cx, TOKEN_SECRET, token_secret)?;
        verify_at(cx, self, &credentials, &verification(cx)).await?;
        Ok(credentials)
    }

    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        if !matches!(current, Credentials::Tba { .. }) {
            return Err(wrong_credentials(self.mode(), current));
        }
        verify_at(cx, self, current, &verification(cx)).await?;
        Ok(Obtained {
            credentials: current.clone(),
            connection_config: cx.connection_config.clone(),
            note: super::STILL_ACCEPTED.into(),
        })
    }

    async fn apply(
        &self,
        cx: &ModeContext<'_>,
        credentials: &Credentials,
        request: &mut ProviderRequest,
    ) -> Result<(), Error> {
        let Credentials::Tba { token_id, token_secret } = credentials else {
            return Err(wrong_credentials(self.mode(), credentials));
        };
        let account = cx
            .connection_config
            .get(ACCOUNT_ID)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_credentials("connection_config.accountId is required.".into()))?;
        let realm = realm(account);
        let consumer = consumer(cx, SignatureMethod::HmacSha256).await?;
        let signer = Signer {
            method: SignatureMethod::HmacSha256,
            consumer_key: &consumer.key,
            consumer_secret: consumer.secret.expose(),
            token: Some(token_id.expose()),
            token_secret: token_secret.expose(),
            realm: Some(&realm),
        };
        sign_request(request, &signer, cx.state.clock.now().unix_timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_realm_is_the_account_id_as_netsuite_writes_it() {
        assert_eq!(realm("tstdrv231585"), "TSTDRV231585");
        assert_eq!(realm("1234567-sb1"), "1234567_SB1");
        assert_eq!(
            realm("a-b-c"),
            "A_B-C",
            "only the first dash, as NetSuite's account ids have one"
        );
    }

    #[test]
    fn tba_credentials_have_nangos_wire_shape_and_hide_the_secret() {
        let creds: Credentials =
            serde_json::from_value(serde_json::json!({"type": "TBA", "token_id": "tid", "token_secret": "ts-SECRET"}))
                .unwrap();
        assert_eq!(creds.auth_mode(), AuthMode::Tba);
        assert!(!format!("{creds:?}").contains("ts-SECRET"));
        assert_eq!(
            serde_json::to_value(&creds).unwrap(),
            serde_json::json!({"type": "TBA", "token_id": "tid", "token_secret": "ts-SECRET"})
        );
    }
}
