//! `OAUTH1` (OAuth 1.0a, RFC 5849): `garmin`, `trello`, `twitter`, `smugmug`. The integration's
//! client id and secret are the consumer key and secret. `start` asks the catalog's
//! `request_url` for a request token (signed by the consumer, with `oauth_callback` our callback
//! URL carrying the flow's `state`, so the one callback route finds the flow; the catalog's
//! `request_params` in the signed form body), keeps the request token and its secret sealed with
//! the flow (`Kept.values`) and sends the browser to `authorization_url?oauth_token=…`. The
//! provider sends it back with `oauth_token` and `oauth_verifier`: `finish` refuses a token other
//! than the one it was given, and exchanges it at `token_url` (signed with the request token's
//! secret, `oauth_verifier` in the header) for the connection's `oauth_token` and
//! `oauth_token_secret`. Every provider request is then signed with them (`apply`). Tokens do not
//! expire: a refresh re-tests them with the catalog's verification request, when it names one.
//!
//! The signature method is the catalog's `signature_method` (HMAC-SHA1 unless it says
//! otherwise); an integration whose client secret is an RSA private key (PEM) signs RSA-SHA1
//! with it, as providers that register a consumer's public key expect.

pub mod signing;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};
use url::Url;

use self::signing::{Freshness, SignatureMethod, Signer, ToSign};
use super::verification::{invalid_credentials, retest, verify_with_provider};
use super::{wrong_credentials, AuthScheme, Callback, Kept, ModeContext, Obtain, Obtained, ProviderRequest, Redirect};
use crate::credentials::{Credentials, RawResponse};
use crate::domain::{AuthMode, Secret};
use crate::error::{Error, ErrorCode};
use crate::outbound::{Method, Request, Target};
use crate::providers::schema::Provider;
use crate::providers::template::{render_url_traced, Vars};
use crate::signing::constant_time_eq;

pub struct OAuth1;

/// The names the provider gives its tokens, and under which the flow keeps the request token.
const TOKEN: &str = "oauth_token";
const TOKEN_SECRET: &str = "oauth_token_secret";
const VERIFIER: &str = "oauth_verifier";

/// The longest token, secret or verifier taken from a callback or a provider's answer.
const MAX_VALUE: usize = 4096;

/// The consumer: the integration's client id and secret, and how it signs.
pub struct Consumer {
    pub key: String,
    pub secret: Secret,
    pub method: SignatureMethod,
}

/// The integration's consumer, signing with `method` unless its secret is an RSA key.
pub async fn consumer(cx: &ModeContext<'_>, method: SignatureMethod) -> Result<Consumer, Error> {
    let key = cx.integration.client_id.clone().ok_or_else(|| {
        Error::invalid(
            ErrorCode::MissingClientId,
            format!(
                "Integration '{}' has no client id (the consumer key).",
                cx.integration.key
            ),
        )
    })?;
    let secret = super::open_client_secret(cx.state, cx.integration).await?;
    let method = if secret.expose().contains("-----BEGIN ") {
        SignatureMethod::RsaSha1
    } else {
        method
    };
    Ok(Consumer {
        key,
        secret: Secret::new(secret.expose()),
        method,
    })
}

fn provider_of(cx: &ModeContext<'_>) -> Result<&'static Provider, Error> {
    crate::providers::provider(&cx.integration.provider)
        .ok_or_else(|| crate::providers::unknown_provider(&cx.integration.provider))
}

/// The catalog's signature method for an `OAUTH1` entry.
fn catalog_method(p: &Provider) -> Result<SignatureMethod, Error> {
    match p.signature_method.as_deref() {
        None => Ok(SignatureMethod::HmacSha1),
        Some(name) => SignatureMethod::parse(name).ok_or_else(|| {
            Error::invalid(
                ErrorCode::InvalidIntegration,
                format!(
                    "Provider '{}' signs with {name}, which Latchkey does not support.",
                    p.name
                ),
            )
        }),
    }
}

/// A catalog URL of the entry, rendered with the connection's config.
fn catalog_url(cx: &ModeContext<'_>, p: &Provider, template: Option<&str>, which: &str) -> Result<Target, Error> {
    let what = format!("Provider '{}'", p.name);
    let template = template.ok_or_else(|| {
        Error::invalid(
            ErrorCode::InvalidIntegration,
            format!("{what} names no {which} for OAuth 1.0a."),
        )
    })?;
    let vars = Vars::config(cx.connection_config, p.connection_config.as_ref());
    let rendered = render_url_traced(template, &vars).map_err(|e| e.into_error(&what))?;
    Ok(super::target_of(cx.integration, cx.vouched_config, rendered))
}

/// A catalog object of parameters (`request_params`, `token_params`) as form pairs.
fn params_of(value: Option<&Map<String, Value>>) -> Vec<(String, String)> {
    value
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// Signs `request` (method, URL with its query, and a form body) into its `Authorization`
/// header, at unix time `now`.
pub fn sign_request(request: &mut ProviderRequest, signer: &Signer<'_>, now: i64) -> Result<(), Error> {
    let is_form = request
        .headers
        .get("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let form: Vec<(String, String)> = if is_form {
        form_urlencoded::parse(&request.body).into_owned().collect()
    } else {
        Vec::new()
    };
    let url = request.target.url().clone();
    let header = signing::authorization(
        signer,
        &ToSign {
            method: request.method.as_str(),
            url: &url,
            form: &form,
            extra: &[],
        },
        &Freshness::at(now),
    )
    .map_err(|_| unusable_key())?;
    request.headers.insert("authorization".into(), header);
    Ok(())
}

fn unusable_key() -> Error {
    Error::invalid(
        ErrorCode::InvalidIntegration,
        "The integration's client secret is not an RSA private key RSA-SHA1 can sign with.",
    )
}

/// A token request (request token, access token): a signed form POST whose answer is a form of
/// at least `oauth_token` and `oauth_token_secret`.
async fn token_request(
    cx: &ModeContext<'_>,
    consumer: &Consumer,
    target: Target,
    token: Option<(&str, &str)>,
    extra: &[(&str, &str)],
    form: Vec<(String, String)>,
    what: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let signer = Signer {
        method: consumer.method,
        consumer_key: &consumer.key,
        consumer_secret: consumer.secret.expose(),
        token: token.map(|(t, _)| t),
        token_secret: token.map(|(_, s)| s).unwrap_or_default(),
        realm: None,
    };
    let url = target.url().clone();
    let header = signing::authorization(
        &signer,
        &ToSign {
            method: "POST",
            url: &url,
            form: &form,
            extra,
        },
        &Freshness::at(cx.state.clock.now().unix_timestamp()),
    )
    .map_err(|_| unusable_key())?;
    let request = Request::new(Method::POST, target)
        .form(&form)
        .header("authorization", header);
    let reply = cx
        .state
        .outbound
        .send(request)
        .await
        .map_err(|e| e.into_error(ErrorCode::TokenErr, what))?;
    if !reply.is_success() {
        let transient = reply.status >= 500 || reply.status == 429;
        return Err(Error::provider(
            transient,
            ErrorCode::TokenErr,
            format!("{what}: the provider refused it."),
        )
        .with_detail(format!("HTTP {}", reply.status)));
    }
    let answer: BTreeMap<String, String> = form_urlencoded::parse(&reply.body).into_owned().collect();
    let ok = |k: &str| answer.get(k).is_some_and(|v| !v.is_empty() && v.len() <= MAX_VALUE);
    if !ok(TOKEN) || !ok(TOKEN_SECRET) {
        return Err(Error::provider(
            false,
            ErrorCode::TokenErr,
            format!("{what}: the provider's answer holds no token."),
        ));
    }
    Ok(answer)
}

/// Our callback URL with the flow's state, as `oauth_callback`.
fn callback_with_state(redirect_uri: &str, state: &str) -> Result<Url, Error> {
    let mut url = Url::parse(redirect_uri).map_err(|_| Error::internal())?;
    url.query_pairs_mut().append_pair("state", state);
    Ok(url)
}

/// A callback parameter: present, not empty, bounded.
fn callback_value<'c>(callback: &'c Callback<'_>, name: &str) -> Result<&'c str, Error> {
    callback
        .params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty() && v.len() <= MAX_VALUE)
        .ok_or_else(|| {
            Error::invalid(
                ErrorCode::ProviderErr,
                format!("The provider's callback has no valid {name}."),
            )
        })
}

#[async_trait]
impl AuthScheme for OAuth1 {
    fn mode(&self) -> AuthMode {
        AuthMode::OAuth1
    }

    fn obtains(&self) -> Obtain {
        Obtain::Redirect
    }

    async fn start(&self, cx: &ModeContext<'_>, start: &super::RedirectStart<'_>) -> Result<Redirect, Error> {
        let p = provider_of(cx)?;
        let consumer = consumer(cx, catalog_method(p)?).await?;
        let callback = callback_with_state(start.redirect_uri, start.state.expose())?;
        let request_params = p.request_params.as_ref().and_then(Value::as_object);
        let answer = token_request(
            cx,
            &consumer,
            catalog_url(cx, p, p.request_url.as_deref(), "request_url")?,
            None,
            &[("oauth_callback", callback.as_str())],
            params_of(request_params),
            "The request token request failed",
        )
        .await?;
        let mut url = catalog_url(cx, p, p.authorization_url.as_deref(), "authorization_url")?
            .url()
            .clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair(TOKEN, &answer[TOKEN]);
            if !cx.integration.scopes.is_empty() {
                query.append_pair(
                    "scope",
                    &cx.integration.scopes.join(p.scope_separator.as_deref().unwrap_or(" ")),
                );
            }
            // The connect URL's extras may not replace the protocol's own parameters.
            let extras = params_of(p.authorization_params.as_ref())
                .into_iter()
                .chain(start.authorization_params.iter().cloned())
                .filter(|(k, _)| !k.starts_with("oauth_"));
            for (k, v) in extras {
                query.append_pair(&k, &v);
            }
            query.append_pair("oauth_callback", callback.as_str());
        }
        let values = BTreeMap::from([
            (TOKEN.to_owned(), Secret::new(&answer[TOKEN])),
            (TOKEN_SECRET.to_owned(), Secret::new(&answer[TOKEN_SECRET])),
        ]);
        Ok(Redirect {
            url,
            kept: Kept {
                values,
                ..Default::default()
            },
        })
    }

    async fn finish(&self, cx: &ModeContext<'_>, callback: &Callback<'_>) -> Result<Obtained, Error> {
        let token = callback_value(callback, TOKEN)?;
        let verifier = callback_value(callback, VERIFIER)?;
        let (Some(kept_token), Some(kept_secret)) =
            (callback.kept.values.get(TOKEN), callback.kept.values.get(TOKEN_SECRET))
        else {
            return Err(Error::internal());
        };
        if !constant_time_eq(token, kept_token.expose()) {
            return Err(Error::invalid(
                ErrorCode::StateErr,
                "The callback's oauth_token is not the request token this authorization was given.",
            ));
        }
        let p = provider_of(cx)?;
        let consumer = consumer(cx, catalog_method(p)?).await?;
        let answer = token_request(
            cx,
            &consumer,
            catalog_url(cx, p, p.token_url_for(AuthMode::OAuth1), "token_url")?,
            Some((kept_token.expose(), kept_secret.expose())),
            &[(VERIFIER, verifier)],
            params_of(p.token_params.as_ref()),
            "The access token request failed",
        )
        .await?;
        Ok(Obtained {
            credentials: Credentials::OAuth1 {
                oauth_token: Secret::new(&answer[TOKEN]),
                oauth_token_secret: Secret::new(&answer[TOKEN_SECRET]),
                raw: RawResponse(answer.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
            },
            connection_config: cx.connection_config.clone(),
            note: "Access token received.".into(),
        })
    }

    /// An import brings the token and its secret; they are proven with the catalog's
    /// verification request, when it names one.
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::OAuth1 {
            oauth_token,
            oauth_token_secret,
            ..
        } = &credentials
        else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        for (name, value) in [(TOKEN, oauth_token), (TOKEN_SECRET, oauth_token_secret)] {
            let v = value.expose();
            if v.is_empty() || v.len() > MAX_VALUE || v.chars().any(char::is_control) {
                return Err(invalid_credentials(format!(
                    "credentials.{name} must be the provider's {name}."
                )));
            }
        }
        verify_with_provider(cx, self, &credentials).await?;
        Ok(credentials)
    }

    /// OAuth 1.0a tokens do not expire: a refresh is a re-test with the provider.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        if !matches!(current, Credentials::OAuth1 { .. }) {
            return Err(wrong_credentials(self.mode(), current));
        }
        retest(cx, self, current).await
    }

    async fn apply(
        &self,
        cx: &ModeContext<'_>,
        credentials: &Credentials,
        request: &mut ProviderRequest,
    ) -> Result<(), Error> {
        let Credentials::OAuth1 {
            oauth_token,
            oauth_token_secret,
            ..
        } = credentials
        else {
            return Err(wrong_credentials(self.mode(), credentials));
        };
        let consumer = consumer(cx, catalog_method(provider_of(cx)?)?).await?;
        let signer = Signer {
            method: consumer.method,
            consumer_key: &consumer.key,
            consumer_secret: consumer.secret.expose(),
            token: Some(oauth_token.expose()),
            token_secret: oauth_token_secret.expose(),
            realm: None,
        };
        sign_request(request, &signer, cx.state.clock.now().unix_timestamp())
    }
}

#[cfg(test)]
mod tests;
