//! `SIGNATURE` (`emarsys`): the end user's username and API secret sign a WSSE UsernameToken,
//! the value of the `X-WSSE` header the catalog places as `${accessToken}`. The catalog's
//! `signature.protocol` names the scheme (`WSSE`, the only one) and `token.expires_in_ms` how
//! long a signed value is good for (Emarsys takes a `Created` within five minutes).
//!
//! The digest is the one Nango's server computes: `PasswordDigest` is the base64 of the
//! *hexadecimal* SHA-1 of `nonce + created + secret` (not of the raw digest bytes), the nonce
//! 32 hex characters of 16 random bytes, `Created` an ISO 8601 UTC time with milliseconds.
//!
//! Every request to the provider gets a value signed for it (its own nonce and time:
//! `template_values`); the credentials also keep one, with its expiry, for a backend that reads
//! them and calls the provider itself, signed again on a read that finds it about to expire.
//! The secret is sealed and never returned.

use async_trait::async_trait;
use base64::Engine;
use sha1::{Digest, Sha1};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::two_step::{entry, what};
use super::verification::{check_field, invalid_credentials, verify_with_provider};
use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, ProviderRequest, Submission};
use crate::credentials::Credentials;
use crate::domain::{AccessToken, AuthMode, Secret};
use crate::error::{Error, ErrorCode};
use crate::providers::schema::Provider;
use crate::providers::template::Vars;
use crate::store::IntegrationRecord;

pub struct Signature;

/// How long a signed value is good for when the catalog does not say (Emarsys' window).
const DEFAULT_LIFETIME_MS: i64 = 300_000;

/// The `X-WSSE` value for `username` and `secret` at `created`, with `nonce`.
pub fn wsse(username: &str, secret: &str, nonce: &str, created: &str) -> String {
    let hex_digest = hex::encode(Sha1::digest(format!("{nonce}{created}{secret}").as_bytes()));
    let digest = base64::engine::general_purpose::STANDARD.encode(hex_digest);
    format!(r#"UsernameToken Username="{username}", PasswordDigest="{digest}", Nonce="{nonce}", Created="{created}""#)
}

/// `Created`: UTC with milliseconds, as JavaScript's `toISOString` writes it.
fn created_at(now: OffsetDateTime) -> String {
    let ms = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    let text = ms.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default();
    // Rfc3339 drops trailing zeros of the fraction; the form is always three digits.
    let (seconds, _) = text
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((text.trim_end_matches('Z'), ""));
    format!("{seconds}.{:03}Z", ms.millisecond())
}

/// A value signed at `now` with a fresh nonce.
fn signed_now(username: &str, secret: &Secret, now: OffsetDateTime) -> String {
    let nonce = hex::encode(crate::crypto::random_bytes::<16>());
    wsse(username, secret.expose(), &nonce, &created_at(now))
}

/// The entry's protocol must be WSSE; its lifetime for a signed value.
fn lifetime_of(p: &Provider) -> Result<Duration, Error> {
    let protocol = p
        .signature
        .as_ref()
        .and_then(|s| s.get("protocol"))
        .and_then(|v| v.as_str());
    if protocol != Some("WSSE") {
        return Err(Error::invalid(
            ErrorCode::UnsupportedProviderTemplate,
            format!("{} signs with a protocol Latchkey does not support.", what(p)),
        ));
    }
    let ms = p
        .token
        .as_ref()
        .and_then(|t| t.get("expires_in_ms"))
        .and_then(|v| v.as_i64())
        .filter(|ms| *ms > 0)
        .unwrap_or(DEFAULT_LIFETIME_MS);
    Ok(Duration::milliseconds(ms))
}

/// The credentials with a value signed now.
fn signed(cx: &ModeContext<'_>, username: String, password: Secret) -> Result<Credentials, Error> {
    let lifetime = lifetime_of(entry(cx)?)?;
    let now = cx.state.clock.now();
    Ok(Credentials::Signature {
        token: AccessToken::new(signed_now(&username, &password, now)),
        expires_at: Some(now + lifetime),
        username,
        password,
    })
}

#[async_trait]
impl AuthScheme for Signature {
    fn mode(&self) -> AuthMode {
        AuthMode::Signature
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    fn form_fields(&self, _integration: &IntegrationRecord) -> Vec<&'static str> {
        vec!["username", "password"]
    }

    async fn submit(&self, cx: &ModeContext<'_>, mut submission: Submission) -> Result<Obtained, Error> {
        let credentials = Credentials::Signature {
            username: submission
                .take("username")
                .map(|u| u.expose().to_owned())
                .unwrap_or_default(),
            password: submission.take("password").unwrap_or_default(),
            token: AccessToken::default(),
            expires_at: None,
        };
        if let Some(extra) = submission.into_fields().into_keys().next() {
            return Err(invalid_credentials(format!(
                "Credential '{extra}' is not one this provider takes."
            )));
        }
        Ok(Obtained {
            credentials: self.verify(cx, credentials).await?,
            connection_config: cx.connection_config.clone(),
            note: super::ACCEPTED.into(),
        })
    }

    /// An import brings the username and secret; a value it brings is replaced by one signed now.
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::Signature { username, password, .. } = credentials else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        if username.is_empty() || password.is_empty() {
            return Err(invalid_credentials("username and password are required.".into()));
        }
        check_field(cx, "username", &username)?;
        check_field(cx, "password", password.expose())?;
        let credentials = signed(cx, username, password)?;
        verify_with_provider(cx, self, &credentials).await?;
        Ok(credentials)
    }

    /// Signs a value again from the sealed secret; the provider is not asked.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let Credentials::Signature { username, password, .. } = current else {
            return Err(wrong_credentials(self.mode(), current));
        };
        Ok(Obtained {
            credentials: signed(cx, username.clone(), password.clone())?,
            connection_config: cx.connection_config.clone(),
            note: "The WSSE value was signed again.".into(),
        })
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::Signature { .. }) && (expiring || force)
    }

    /// `${accessToken}`: a value signed for this request, at its moment, with its own nonce.
    fn template_values(&self, credentials: &Credentials, vars: &mut Vars<'_>) {
        if let Credentials::Signature { username, password, .. } = credentials {
            let value = signed_now(username, password, vars.moment.now());
            vars.secrets.insert("accessToken", value);
        }
    }

    /// The catalog's `x-wsse: ${accessToken}` carries the signature; nothing else is added.
    async fn apply(&self, _: &ModeContext<'_>, _: &Credentials, _: &mut ProviderRequest) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
