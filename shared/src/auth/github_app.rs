//! `APP` (`github-app`): a GitHub App installation. The integration holds the app (its id, its
//! public link `https://github.com/apps/<slug>` and its private key, sealed: `GitHubApp`). The
//! browser goes to the catalog's installation page (`${connectionConfig.appPublicLink}/installations/new`,
//! the app link being the integration's, never the end user's), and GitHub sends it back to the
//! callback (the app's Setup URL) with `installation_id`, `setup_action` and `state`. The
//! connection's token is an installation access token: an app JWT (RS256, `iss` the app id,
//! `iat` a minute in the past against clock drift, `exp` nine minutes ahead: GitHub refuses more
//! than ten) sent as `Authorization: Bearer` to the catalog's token URL,
//! `POST https://api.github.com/app/installations/{installation_id}/access_tokens`. Tokens last an
//! hour; a read that finds one expiring mints another the same way (nothing but the app's key is
//! needed). `installation_id` is digits only before it reaches the URL's path.

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use url::Url;

use super::jws::{self, HmacSecret, JwtSpec};
use super::verification::invalid_credentials;
use super::{wrong_credentials, AuthScheme, Callback, Kept, ModeContext, Obtain, Obtained, Redirect, RedirectStart};
use crate::credentials::{Credentials, RawResponse};
use crate::domain::{AccessToken, AuthMode, ConnectionConfig, Secret, VouchedKeys};
use crate::error::{Error, ErrorCode};
use crate::outbound::{Method, Request};
use crate::providers::template::{render_url_traced, Vars};
use crate::store::{GitHubApp, IntegrationRecord, Sealed};
use crate::AppState;

pub struct App;

/// The connection config keys this mode fills (the catalog's `automated` ones).
pub const INSTALLATION_ID: &str = "installation_id";
pub const APP_PUBLIC_LINK: &str = "appPublicLink";

/// GitHub refuses an app JWT that expires more than ten minutes after it was issued.
const JWT_BACKDATE_SECONDS: i64 = 60;
const JWT_LIFETIME_SECONDS: i64 = 600;

/// An installation id as GitHub issues it: 1 to 20 digits (it becomes a segment of the token
/// URL's path, so nothing else may reach it).
pub fn installation_id(value: Option<&str>) -> Result<&str, Error> {
    match value {
        Some(id) if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ => Err(invalid_credentials(
            "installation_id must be the numeric id GitHub gave the installation.".into(),
        )),
    }
}

/// A GitHub App id: 1 to 20 digits.
pub fn check_app_id(value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_body("credentials.app_id must be the app's numeric id."));
    }
    Ok(())
}

/// A GitHub App's public link: an https URL without query or fragment (the installation page
/// is under it).
pub fn check_app_link(value: &str) -> Result<(), Error> {
    let bad = || {
        Error::invalid_body(
            "credentials.app_link must be the app's public https link (https://github.com/apps/<slug>).",
        )
    };
    let url = Url::parse(value).map_err(|_| bad())?;
    if url.scheme() != "https" || url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(bad());
    }
    if !url.username().is_empty() || url.password().is_some() || value.len() > 2048 {
        return Err(bad());
    }
    Ok(())
}

/// A private key GitHub issued for an app: an RSA key (PEM) that signs RS256.
pub fn check_private_key(pem: &Secret) -> Result<(), Error> {
    if pem.expose().len() > 16 * 1024 {
        return Err(Error::invalid_body("credentials.private_key is too long."));
    }
    app_jwt("1", pem.expose(), 0)
        .map(|_| ())
        .map_err(|_| Error::invalid_body("credentials.private_key must be the app's RSA private key (PEM)."))
}

/// Seals an app's private key, bound to the integration (as its client secret is).
pub async fn seal_private_key(state: &AppState, record: &IntegrationRecord, pem: &Secret) -> Result<Sealed, Error> {
    super::seal_secret(state, &record.key, pem).await
}

fn app_of(integration: &IntegrationRecord) -> Result<&GitHubApp, Error> {
    integration.app.as_ref().ok_or_else(|| {
        Error::invalid(
            ErrorCode::InvalidIntegration,
            format!(
                "Integration '{}' has no GitHub App: set credentials.app_id, app_link and private_key.",
                integration.key
            ),
        )
    })
}

async fn open_private_key(state: &AppState, integration: &IntegrationRecord, app: &GitHubApp) -> Result<Secret, Error> {
    super::open_secret(state, integration, &app.private_key).await
}

/// The app's JWT at unix time `now`: RS256, `iss` the app id, issued a minute ago, expiring
/// nine minutes ahead.
pub fn app_jwt(app_id: &str, private_key: &str, now: i64) -> Result<String, Error> {
    let header: Map<String, Value> = [("alg".to_owned(), json!("RS256")), ("typ".to_owned(), json!("JWT"))]
        .into_iter()
        .collect();
    let payload: Map<String, Value> = [("iss".to_owned(), json!(app_id))].into_iter().collect();
    let spec = JwtSpec {
        header: &header,
        payload: &payload,
        key: "${privateKey}",
        lifetime_seconds: JWT_LIFETIME_SECONDS,
        hmac_secret: HmacSecret::Hex,
    };
    let render = |t: &str| {
        Ok(Some(if t == "${privateKey}" {
            private_key.to_owned()
        } else {
            t.to_owned()
        }))
    };
    jws::sign(&spec, now - JWT_BACKDATE_SECONDS, &render).map_err(|e| e.into_error("The GitHub App"))
}

/// A catalog URL template of the integration's entry, rendered with `config`.
fn catalog_url(
    integration: &IntegrationRecord,
    template: Option<&str>,
    config: &ConnectionConfig,
) -> Result<crate::outbound::Target, Error> {
    let what = format!("Provider '{}'", integration.provider);
    let p = crate::providers::provider(&integration.provider)
        .ok_or_else(|| crate::providers::unknown_provider(&integration.provider))?;
    let template = template.ok_or_else(|| {
        Error::invalid(
            ErrorCode::InvalidIntegration,
            format!("{what} names no URL for a GitHub App."),
        )
    })?;
    let vars = Vars::config(config, p.connection_config.as_ref());
    let rendered = render_url_traced(template, &vars).map_err(|e| e.into_error(&what))?;
    // The values are the integration's (the app link) or checked digits (the installation id):
    // no end user chose a host.
    Ok(super::target_of(
        integration,
        &VouchedKeys::from_iter([APP_PUBLIC_LINK.to_owned()]),
        rendered,
    ))
}

/// Where the browser installs the app: the catalog's installation page under the integration's
/// app link, with the flow's state.
pub fn installation_url(integration: &IntegrationRecord, state: &str) -> Result<Url, Error> {
    let app = app_of(integration)?;
    let p = crate::providers::provider(&integration.provider)
        .ok_or_else(|| crate::providers::unknown_provider(&integration.provider))?;
    let config: ConnectionConfig = [(APP_PUBLIC_LINK.to_owned(), json!(app.app_link.trim_end_matches('/')))]
        .into_iter()
        .collect();
    let mut url = catalog_url(integration, p.authorization_url.as_deref(), &config)?
        .url()
        .clone();
    url.query_pairs_mut().append_pair("state", state);
    Ok(url)
}

/// The catalog's installation token URL for a checked installation id.
pub fn token_url(integration: &IntegrationRecord, installation_id: &str) -> Result<crate::outbound::Target, Error> {
    let p = crate::providers::provider(&integration.provider)
        .ok_or_else(|| crate::providers::unknown_provider(&integration.provider))?;
    let config: ConnectionConfig = [(INSTALLATION_ID.to_owned(), json!(installation_id))]
        .into_iter()
        .collect();
    catalog_url(integration, p.token_url_for(AuthMode::App), &config)
}

/// GitHub's answer to an installation token request, read as credentials.
pub fn read_installation_token(status: u16, body: &[u8]) -> Result<Credentials, Error> {
    const WHAT: &str = "The installation token request failed";
    if !(200..300).contains(&status) {
        let (transient, why) = match status {
            401 => (
                false,
                "GitHub did not accept the app's JWT (check the app id and private key)",
            ),
            403 | 404 | 422 => (false, "GitHub refused a token for this installation of the app"),
            500.. => (true, "GitHub failed on its side"),
            _ => (false, "GitHub answered with an error"),
        };
        return Err(
            Error::provider(transient, ErrorCode::TokenErr, format!("{WHAT}: {why}."))
                .with_detail(format!("HTTP {status}")),
        );
    }
    let bad = || {
        Error::provider(
            false,
            ErrorCode::TokenErr,
            format!("{WHAT}: GitHub's answer holds no token."),
        )
    };
    let raw: Map<String, Value> = serde_json::from_slice(body).map_err(|_| bad())?;
    let token = raw
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(bad)?;
    let expires_at = raw
        .get("expires_at")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    Ok(Credentials::App {
        access_token: AccessToken::new(token),
        expires_at,
        raw: RawResponse(raw),
    })
}

/// Mints an installation access token with the app's JWT.
pub async fn mint(cx: &ModeContext<'_>, installation_id: &str) -> Result<Credentials, Error> {
    let app = app_of(cx.integration)?;
    let key = open_private_key(cx.state, cx.integration, app).await?;
    let jwt = app_jwt(&app.app_id, key.expose(), cx.state.clock.now().unix_timestamp())?;
    let request = Request::new(Method::POST, token_url(cx.integration, installation_id)?)
        .header("authorization", format!("Bearer {jwt}"))
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28");
    let reply = cx
        .state
        .outbound
        .send(request)
        .await
        .map_err(|e| e.into_error(ErrorCode::TokenErr, "The installation token request failed"))?;
    read_installation_token(reply.status, &reply.body)
}

/// The installation id of a connection's config (a string of digits).
fn configured_installation(config: &ConnectionConfig) -> Result<&str, Error> {
    installation_id(config.get(INSTALLATION_ID).and_then(Value::as_str))
}

fn minted_note(credentials: &Credentials, now: OffsetDateTime) -> String {
    match credentials.expires_at() {
        Some(at) => format!(
            "Installation token minted, expires in {} s.",
            (at - now).whole_seconds()
        ),
        None => "Installation token minted.".into(),
    }
}

/// The connection config after an installation: the id, and the app's link.
pub fn installed_config(cx: &ModeContext<'_>, id: &str) -> Result<ConnectionConfig, Error> {
    let app = app_of(cx.integration)?;
    let mut config = cx.connection_config.clone();
    config.insert(INSTALLATION_ID.into(), json!(id));
    config.insert(APP_PUBLIC_LINK.into(), json!(app.app_link));
    Ok(config)
}

/// The installation a callback names, refused when GitHub says it awaits approval.
pub fn callback_installation<'c>(callback: &'c Callback<'_>) -> Result<&'c str, Error> {
    if callback.params.get("setup_action").map(String::as_str) == Some("request") {
        return Err(Error::invalid(
            ErrorCode::AccessDenied,
            "The installation awaits an organization owner's approval; connect again once it is approved.",
        ));
    }
    installation_id(callback.params.get(INSTALLATION_ID).map(String::as_str))
}

#[async_trait]
impl AuthScheme for App {
    fn mode(&self) -> AuthMode {
        AuthMode::App
    }

    fn obtains(&self) -> Obtain {
        Obtain::Redirect
    }

    async fn start(&self, cx: &ModeContext<'_>, start: &RedirectStart<'_>) -> Result<Redirect, Error> {
        Ok(Redirect {
            url: installation_url(cx.integration, start.state.expose())?,
            kept: Kept::default(),
        })
    }

    async fn finish(&self, cx: &ModeContext<'_>, callback: &Callback<'_>) -> Result<Obtained, Error> {
        let id = callback_installation(callback)?;
        let credentials = mint(cx, id).await?;
        Ok(Obtained {
            note: minted_note(&credentials, cx.state.clock.now()),
            credentials,
            connection_config: installed_config(cx, id)?,
        })
    }

    /// An import names the installation (`connection_config.installation_id`); its token is
    /// minted now (a token it brings is replaced).
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        if !matches!(credentials, Credentials::App { .. }) {
            return Err(wrong_credentials(self.mode(), &credentials));
        }
        mint(cx, configured_installation(cx.connection_config)?).await
    }

    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        if !matches!(current, Credentials::App { .. }) {
            return Err(wrong_credentials(self.mode(), current));
        }
        let credentials = mint(cx, configured_installation(cx.connection_config)?).await?;
        Ok(Obtained {
            note: minted_note(&credentials, cx.state.clock.now()),
            credentials,
            connection_config: cx.connection_config.clone(),
        })
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::App { .. }) && (expiring || force)
    }
}

#[cfg(test)]
mod tests;
