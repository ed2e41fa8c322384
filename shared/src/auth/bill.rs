//! `BILL` (`bill`, `bill-sandbox`): the end user's Bill login — username, password,
//! organization id and developer key, all four from the end user as Nango's `auth()` sends them
//! (`POST /auth/bill/{integration}`, snake_case) — is posted as JSON `{username, password,
//! organizationId, devKey}` to the catalog's `token_url` (an integration's `custom.token_url`
//! replaces it). Bill answers a `sessionId` (and the `userId`, `organizationId`); requests to
//! Bill's API carry it with the developer key, as the headers `sessionId` and `devKey`.
//!
//! Bill ends a session after 35 minutes without use and states no lifetime, so the session is
//! given 35 minutes (as Nango does) and renewed through the refresh path by logging in again
//! with the sealed password: on a read that finds it about to expire, and by the scheduler.
//! The password is never returned; a login Bill refuses stores nothing.

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use time::Duration;

use super::two_step::{entry, what};
use super::verification::{check_field, invalid_credentials};
use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, ProviderRequest, Submission};
use crate::credentials::Credentials;
use crate::domain::{AccessToken, AuthMode, Secret};
use crate::error::{Error, ErrorCode};
use crate::outbound::{Method, Target};
use crate::store::IntegrationRecord;

pub struct Bill;

/// How long Bill keeps an idle session.
const SESSION: Duration = Duration::minutes(35);

/// The end user is told one thing whatever Bill answered; the activity entry has the status.
const NOT_OPENED: &str = "The provider did not open a session for these credentials.";

fn not_opened(transient: bool, detail: String) -> Error {
    Error::provider(transient, ErrorCode::ConnectionTestFailed, NOT_OPENED).with_detail(detail)
}

/// The login the end user gave, checked.
struct Login {
    username: String,
    password: Secret,
    organization_id: String,
    dev_key: Secret,
}

impl Login {
    fn checked(self, cx: &ModeContext<'_>) -> Result<Self, Error> {
        for (name, value) in [
            ("username", self.username.as_str()),
            ("password", self.password.expose()),
            ("organization_id", self.organization_id.as_str()),
            ("dev_key", self.dev_key.expose()),
        ] {
            if value.is_empty() {
                return Err(invalid_credentials(format!("{name} is required.")));
            }
            check_field(cx, name, value)?;
        }
        Ok(self)
    }
}

/// Where the login goes: the operator's `custom.token_url`, or the catalog's.
fn login_target(cx: &ModeContext<'_>) -> Result<Target, Error> {
    let p = entry(cx)?;
    if let Some(custom) = cx.integration.custom.as_ref().filter(|c| !c.token_url.is_empty()) {
        let url = url::Url::parse(&custom.token_url)
            .map_err(|_| Error::invalid_body("custom.token_url is not an absolute URL."))?;
        return Ok(Target::operator(url));
    }
    let url = p
        .token_url_for(AuthMode::Bill)
        .and_then(|u| url::Url::parse(u).ok())
        .ok_or_else(|| {
            Error::invalid(
                ErrorCode::UnsupportedProviderTemplate,
                format!("{} names no login URL.", what(p)),
            )
        })?;
    Ok(Target::catalog(url))
}

/// Logs in and returns the session, with the login kept for the next one.
async fn log_in(cx: &ModeContext<'_>, login: Login) -> Result<Credentials, Error> {
    let target = login_target(cx)?;
    let body = json!({
        "username": login.username,
        "password": login.password.expose(),
        "organizationId": login.organization_id,
        "devKey": login.dev_key.expose(),
    });
    let request = ProviderRequest::new(Method::POST, target)
        .json(&body)
        .header("accept", "application/json");
    let reply = cx.state.outbound.send(request).await.map_err(|e| {
        if e.is_refused_host() {
            e.into_error(ErrorCode::ConnectionTestFailed, NOT_OPENED)
        } else {
            not_opened(e.is_transient(), format!("the login request failed: {e}"))
        }
    })?;
    if !reply.is_success() {
        let status = reply.status;
        return Err(not_opened(
            status >= 500 || status == 429,
            format!("the login answered HTTP {status}"),
        ));
    }
    let answer: Map<String, Value> = serde_json::from_slice(&reply.body)
        .map_err(|_| not_opened(false, "the login answer is not a JSON object".into()))?;
    let session_id = answer
        .get("sessionId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| not_opened(false, "the login answer has no sessionId".into()))?
        .to_owned();
    let text = |k: &str| answer.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Credentials::Bill {
        username: login.username,
        password: login.password,
        organization_id: text("organizationId").unwrap_or(login.organization_id),
        dev_key: login.dev_key,
        session_id: AccessToken::new(session_id),
        user_id: text("userId"),
        expires_at: Some(cx.state.clock.now() + SESSION),
        raw: answer.into(),
    })
}

fn login_of(credentials: &Credentials) -> Option<Login> {
    match credentials {
        Credentials::Bill {
            username,
            password,
            organization_id,
            dev_key,
            ..
        } => Some(Login {
            username: username.clone(),
            password: password.clone(),
            organization_id: organization_id.clone(),
            dev_key: dev_key.clone(),
        }),
        _ => None,
    }
}

#[async_trait]
impl AuthScheme for Bill {
    fn mode(&self) -> AuthMode {
        AuthMode::Bill
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    fn form_fields(&self, _integration: &IntegrationRecord) -> Vec<&'static str> {
        vec!["username", "password", "organization_id", "dev_key"]
    }

    async fn submit(&self, cx: &ModeContext<'_>, mut submission: Submission) -> Result<Obtained, Error> {
        let mut text = |name: &str| submission.take(name).unwrap_or_default();
        let login = Login {
            username: text("username").expose().to_owned(),
            password: text("password"),
            organization_id: text("organization_id").expose().to_owned(),
            dev_key: text("dev_key"),
        };
        if let Some(extra) = submission.into_fields().into_keys().next() {
            return Err(invalid_credentials(format!(
                "Credential '{extra}' is not one Bill takes."
            )));
        }
        Ok(Obtained {
            credentials: log_in(cx, login.checked(cx)?).await?,
            connection_config: cx.connection_config.clone(),
            note: super::ACCEPTED.into(),
        })
    }

    /// An import brings the login; the session is opened now (one it brings is replaced).
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let login = login_of(&credentials).ok_or_else(|| wrong_credentials(self.mode(), &credentials))?;
        log_in(cx, login.checked(cx)?).await
    }

    /// Logs in again with the sealed login.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let login = login_of(current).ok_or_else(|| wrong_credentials(self.mode(), current))?;
        Ok(Obtained {
            credentials: log_in(cx, login).await?,
            connection_config: cx.connection_config.clone(),
            note: "Bill opened a new session.".into(),
        })
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::Bill { .. }) && (expiring || force)
    }

    /// The headers Bill's API reads: `sessionId` and `devKey`.
    async fn apply(
        &self,
        _cx: &ModeContext<'_>,
        credentials: &Credentials,
        request: &mut ProviderRequest,
    ) -> Result<(), Error> {
        if let Credentials::Bill {
            session_id, dev_key, ..
        } = credentials
        {
            request
                .headers
                .insert("sessionid".into(), session_id.expose().to_owned());
            request.headers.insert("devkey".into(), dev_key.expose().to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
