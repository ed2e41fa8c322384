//! `CUSTOM` (`github-app-oauth`): a GitHub App that also authorizes the user who installs it
//! ("Request user authorization (OAuth) during installation" in the app's settings). The
//! integration holds the app (`GitHubApp`, as `APP` does) and the app's OAuth client id and
//! secret. The browser goes to the app's installation page (`github_app::installation_url`);
//! GitHub sends it back to the callback with `installation_id`, `setup_action` and the user's
//! `code`. The connection then holds both tokens, in Nango's shape (`Credentials::Custom`):
//! the installation token (minted with the app's JWT, as `APP` mints it) and the user's token
//! (the code exchanged at the catalog's OAUTH2 token URL, as `OAUTH2` exchanges it). A
//! callback without a code is an installation whose permissions changed (`setup_action=update`):
//! the connection holds the installation token only (`user: null`). Refreshing mints a new
//! installation token and refreshes the user's token when it has a refresh token and expires
//! before the new installation token does. Requests carry the installation token.

use async_trait::async_trait;
use time::Duration;

use super::github_app::{callback_installation, installation_id, installation_url, installed_config, mint};
use super::oauth2::OAuth2;
use super::{wrong_credentials, AuthScheme, Callback, Kept, ModeContext, Obtain, Obtained, Redirect, RedirectStart};
use crate::credentials::{Credentials, RawResponse};
use crate::domain::{AuthMode, ConnectionConfig};
use crate::error::Error;

pub struct AppOAuth;

/// The installation token and the installation's answer, for `Credentials::Custom`.
fn combined(app: Credentials, user: Option<Credentials>) -> Credentials {
    let raw = match &app {
        Credentials::App { raw, .. } => raw.clone(),
        _ => RawResponse::default(),
    };
    Credentials::Custom {
        app: Box::new(app),
        user: user.map(Box::new),
        raw,
    }
}

fn installation_of(config: &ConnectionConfig) -> Result<&str, Error> {
    installation_id(
        config
            .get(super::github_app::INSTALLATION_ID)
            .and_then(serde_json::Value::as_str),
    )
}

fn note(user: &Option<Credentials>) -> String {
    match user {
        Some(_) => "Installation token minted and the installing user's token received.".into(),
        None => "Installation token minted (the callback brought no user authorization).".into(),
    }
}

/// The user's token of a combined credential, checked as `OAUTH2` checks one.
fn user_of(user: &Option<Box<Credentials>>) -> Result<Option<&Credentials>, Error> {
    match user.as_deref() {
        None => Ok(None),
        Some(u @ Credentials::OAuth2 { access_token, .. }) if !access_token.is_empty() => Ok(Some(u)),
        Some(Credentials::OAuth2 { .. }) => {
            Err(Error::invalid_body("credentials.user.access_token must not be empty."))
        }
        Some(other) => Err(wrong_credentials(AuthMode::OAuth2, other)),
    }
}

#[async_trait]
impl AuthScheme for AppOAuth {
    fn mode(&self) -> AuthMode {
        AuthMode::Custom
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
        let has_code = callback.params.get("code").is_some_and(|c| !c.is_empty());
        let user = match (has_code, callback.params.get("setup_action").map(String::as_str)) {
            (true, _) => Some(OAuth2.finish(cx, callback).await?),
            (false, Some("update")) => None,
            (false, _) => {
                return Err(Error::invalid(
                    crate::error::ErrorCode::TokenErr,
                    "GitHub sent no user authorization code: turn on \"Request user authorization (OAuth) during installation\" in the app's settings.",
                ))
            }
        };
        let app = mint(cx, id).await?;
        let mut connection_config = installed_config(cx, id)?;
        if let Some(user) = &user {
            for (k, v) in &user.connection_config {
                connection_config.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let user = user.map(|u| u.credentials);
        Ok(Obtained {
            note: note(&user),
            credentials: combined(app, user),
            connection_config,
        })
    }

    /// An import names the installation (`connection_config.installation_id`): its token is
    /// minted now; a user token it brings is kept as given.
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::Custom { user, .. } = &credentials else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        let user = user_of(user)?.cloned();
        let app = mint(cx, installation_of(cx.connection_config)?).await?;
        Ok(combined(app, user))
    }

    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let Credentials::Custom { user, .. } = current else {
            return Err(wrong_credentials(self.mode(), current));
        };
        let app = mint(cx, installation_of(cx.connection_config)?).await?;
        let user = match user_of(user)? {
            Some(u) if u.refresh_token().is_some() && expires_before(u, &app) => {
                Some(OAuth2.refresh(cx, u).await?.credentials)
            }
            kept => kept.cloned(),
        };
        Ok(Obtained {
            note: note(&user),
            credentials: combined(app, user),
            connection_config: cx.connection_config.clone(),
        })
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::Custom { .. }) && (expiring || force)
    }
}

/// Whether the user's token expires before the installation token does (with a minute's
/// margin): refreshing it now saves a second refresh within the hour.
fn expires_before(user: &Credentials, app: &Credentials) -> bool {
    match (user.expires_at(), app.expires_at()) {
        (Some(u), Some(a)) => u <= a + Duration::minutes(1),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccessToken, RefreshToken};
    use time::OffsetDateTime;

    fn app_token(expires_in_minutes: i64) -> Credentials {
        Credentials::App {
            access_token: AccessToken::new("ghs_1"),
            expires_at: Some(OffsetDateTime::UNIX_EPOCH + Duration::minutes(expires_in_minutes)),
            raw: Default::default(),
        }
    }

    fn user_token(expires_in_minutes: Option<i64>) -> Credentials {
        Credentials::OAuth2 {
            access_token: AccessToken::new("ghu_1"),
            refresh_token: Some(RefreshToken::new("ghr_1")),
            expires_at: expires_in_minutes.map(|m| OffsetDateTime::UNIX_EPOCH + Duration::minutes(m)),
            raw: Default::default(),
        }
    }

    #[test]
    fn the_wire_shape_is_nangos_and_the_sooner_expiry_counts() {
        let creds = combined(app_token(60), Some(user_token(Some(30))));
        let wire = serde_json::to_value(&creds).unwrap();
        assert_eq!(wire["type"], "CUSTOM");
        assert_eq!(wire["app"]["type"], "APP");
        assert_eq!(wire["app"]["access_token"], "ghs_1");
        assert_eq!(wire["user"]["type"], "OAUTH2");
        assert_eq!(wire["user"]["access_token"], "ghu_1");
        let back: Credentials = serde_json::from_value(wire).unwrap();
        assert_eq!(back, creds);
        assert_eq!(
            creds.access_token().unwrap().expose(),
            "ghs_1",
            "requests carry the installation token"
        );
        assert_eq!(
            creds.expires_at(),
            Some(OffsetDateTime::UNIX_EPOCH + Duration::minutes(30))
        );
        let app_only = combined(app_token(60), None);
        assert_eq!(
            serde_json::to_value(&app_only).unwrap()["user"],
            serde_json::Value::Null
        );
        assert_eq!(
            app_only.expires_at(),
            Some(OffsetDateTime::UNIX_EPOCH + Duration::minutes(60))
        );
    }

    #[test]
    fn the_user_token_is_refreshed_only_when_it_expires_before_the_next_installation_token() {
        let app = app_token(60);
        assert!(expires_before(&user_token(Some(30)), &app));
        assert!(
            expires_before(&user_token(Some(61)), &app),
            "within the minute's margin"
        );
        assert!(!expires_before(&user_token(Some(8 * 60)), &app));
        assert!(!expires_before(&user_token(None), &app), "a token that does not expire");
    }

    #[test]
    fn an_imported_user_token_must_be_an_oauth2_token() {
        assert!(user_of(&None).unwrap().is_none());
        assert!(user_of(&Some(Box::new(user_token(None)))).unwrap().is_some());
        let empty = Credentials::OAuth2 {
            access_token: AccessToken::new(""),
            refresh_token: None,
            expires_at: None,
            raw: Default::default(),
        };
        assert!(user_of(&Some(Box::new(empty))).is_err());
        assert!(user_of(&Some(Box::new(app_token(1)))).is_err());
    }
}
