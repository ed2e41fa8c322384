//! `JWT` (`apple-app-store`, `ghost-admin`, `heymarket`, `snowflake-jwt`): the connection
//! signs its own short-lived token as the catalog's `token` block says — the header and payload
//! templates over the end user's fields (`iat` and `exp` from the entry's `expires_in_ms`), the
//! algorithm of the header's `alg` (`ES256`, `RS256`, or `HS256` with the secret hex-decoded
//! unless `signature.hmac_secret_encoding` is `utf8`), and the key the `signing_key` template
//! names. No catalog entry of this mode has a token endpoint: the token is what the provider's
//! API takes (`${accessToken}`, or `Authorization: Bearer`).
//!
//! The fields are checked against the catalog like a two-step entry's (`two_step::checked_fields`),
//! the token is proven with the entry's verification request where it has one, and the fields are
//! kept sealed and never returned, so the token is signed again on a read that finds it about to
//! expire (and by the scheduler), without a provider call.
//!
//! Two readings of the catalog: a field `id:secret` (Ghost's Admin API key) is also read as its
//! halves `${credentials.x.id}` and `${credentials.x.secret}`, as Ghost's documentation splits it;
//! and Heymarket's `${credentials.apiSecretId}||${credentials.apiSecretKey}` is the two values
//! joined by `||`, as written — read as a template fallback (`A` when present), it would sign
//! with the public id the token also names as its issuer.

use std::collections::BTreeMap;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::jws::{self, HmacSecret, JwtSpec};
use super::two_step::{checked_fields, entry, render_optional, what};
use super::verification::{invalid_credentials, verify_with_provider};
use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, Submission};
use crate::credentials::Credentials;
use crate::domain::{AccessToken, AuthMode, Secret};
use crate::error::{Error, ErrorCode};
use crate::providers::schema::Provider;
use crate::providers::template::{Moment, Slot, Vars};
use crate::store::IntegrationRecord;

pub struct Jwt;

const SIGNED_AGAIN: &str = "The token was signed again.";

fn spec_of(p: &Provider) -> Result<JwtSpec<'_>, Error> {
    let unsupported = || {
        Error::invalid(
            ErrorCode::UnsupportedProviderTemplate,
            format!("{} describes no token Latchkey can sign.", what(p)),
        )
    };
    let mut spec = p
        .token
        .as_ref()
        .and_then(JwtSpec::token)
        .ok_or_else(unsupported)?
        .map_err(|e| e.into_error(&what(p)))?;
    spec.hmac_secret = HmacSecret::of(p.signature.as_ref());
    Ok(spec)
}

/// The values the token's templates read: the fields (a PEM key with escaped line breaks, as
/// `crypto::keys::pem` reads it), and the halves of an `id:secret` field. The fields were
/// held to their specs as given (`checked_fields`), so their specs are not applied again to
/// the escaped form.
fn vars_for<'a>(cx: &ModeContext<'a>, p: &'a Provider, fields: &BTreeMap<String, Secret>) -> Vars<'a> {
    let mut vars = Vars {
        credential_specs: None,
        moment: Moment::at(cx.state.clock.now()),
        ..Vars::config(cx.connection_config, p.connection_config.as_ref())
    };
    for (name, value) in fields {
        let value = value.expose();
        if !value.contains("-----BEGIN") {
            if let Some((id, secret)) = value.split_once(':') {
                vars.credentials.insert(format!("{name}.id"), id.to_owned());
                vars.credentials.insert(format!("{name}.secret"), secret.to_owned());
            }
        }
        let value = value.replace("\r\n", "\\n").replace('\n', "\\n");
        vars.credentials.insert(name.clone(), value);
    }
    vars
}

/// Signs the connection's token now.
fn signed(cx: &ModeContext<'_>, p: &Provider, fields: BTreeMap<String, Secret>) -> Result<Credentials, Error> {
    let spec = spec_of(p)?;
    let vars = vars_for(cx, p, &fields);
    let now = vars.moment.now().unix_timestamp();
    let key_template = spec.key;
    let render = |t: &str| {
        if t == key_template && t.contains("||") {
            // Heymarket's key: its parts joined as written (the module's note), not a fallback.
            let parts: Option<Vec<String>> = t
                .split("||")
                .map(|part| render_optional(p, part, &vars, Slot::Param))
                .collect::<Result<_, _>>()?;
            return Ok(parts.map(|parts| parts.join("||")));
        }
        render_optional(p, t, &vars, Slot::Param)
    };
    let token = jws::sign(&spec, now, &render).map_err(|e| e.into_error(&what(p)))?;
    Ok(Credentials::Jwt {
        token: AccessToken::new(token),
        expires_at: OffsetDateTime::from_unix_timestamp(now + spec.lifetime_seconds).ok(),
        fields,
    })
}

/// Signs a token from checked fields and proves it with the provider where the entry can.
async fn connect(cx: &ModeContext<'_>, fields: BTreeMap<String, Secret>) -> Result<Obtained, Error> {
    let p = entry(cx)?;
    let credentials = signed(cx, p, checked_fields(cx, p, fields)?)?;
    verify_with_provider(cx, &Jwt, &credentials).await?;
    let verifies = p.proxy.as_ref().is_some_and(|proxy| proxy.verification.is_some());
    Ok(Obtained {
        credentials,
        connection_config: cx.connection_config.clone(),
        note: if verifies {
            super::ACCEPTED.into()
        } else {
            "The token was signed; the provider names no request to verify it with.".into()
        },
    })
}

#[async_trait]
impl AuthScheme for Jwt {
    fn mode(&self) -> AuthMode {
        AuthMode::Jwt
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    fn form_fields(&self, integration: &IntegrationRecord) -> Vec<&'static str> {
        crate::providers::provider(&integration.provider)
            .and_then(|p| p.credentials.as_ref())
            .map(|specs| specs.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    async fn submit(&self, cx: &ModeContext<'_>, submission: Submission) -> Result<Obtained, Error> {
        connect(cx, submission.into_fields()).await
    }

    /// An import brings the credential fields (a token it brings is replaced by one signed now).
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::Jwt { fields, .. } = credentials else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        if fields.is_empty() {
            return Err(invalid_credentials(
                "A JWT connection is imported with its credential fields: the token is signed from them.".into(),
            ));
        }
        Ok(connect(cx, fields).await?.credentials)
    }

    /// Signs the token again from the sealed fields; the provider is not asked.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let Credentials::Jwt { fields, .. } = current else {
            return Err(wrong_credentials(self.mode(), current));
        };
        Ok(Obtained {
            credentials: signed(cx, entry(cx)?, fields.clone())?,
            connection_config: cx.connection_config.clone(),
            note: SIGNED_AGAIN.into(),
        })
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::Jwt { .. }) && (expiring || force)
    }
}

#[cfg(test)]
mod tests;
