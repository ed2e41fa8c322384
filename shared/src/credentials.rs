//! The credentials of a connection, in the shape the backend reads them. Serialized, this is
//! exactly what is sealed at rest; `Debug` never shows a secret (tokens and keys are redacting
//! types, and a provider's raw response shows only its field names).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::domain::{AccessToken, AuthMode, ClientSecret, RefreshToken, Secret};

/// A provider's whole token response, extra fields included. It holds the tokens too, so its
/// `Debug` lists field names only.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawResponse(pub Map<String, Value>);

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl From<Map<String, Value>> for RawResponse {
    fn from(map: Map<String, Value>) -> Self {
        Self(map)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Credentials {
    #[serde(rename = "OAUTH2")]
    OAuth2 {
        access_token: AccessToken,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token: Option<RefreshToken>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        #[serde(default)]
        raw: RawResponse,
    },
    #[serde(rename = "API_KEY")]
    ApiKey {
        #[serde(rename = "apiKey")]
        api_key: Secret,
    },
    #[serde(rename = "BASIC")]
    Basic { username: String, password: Secret },
    /// A client-credentials token. The client id and secret are kept only when the connection
    /// brought its own (otherwise the integration's are used to re-fetch).
    #[serde(rename = "OAUTH2_CC")]
    OAuth2Cc {
        token: AccessToken,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<ClientSecret>,
        /// The TLS client certificate and key (PEM) a provider asking for mutual TLS checks
        /// (the catalog's `require_client_certificate`); the key is never returned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_certificate: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_private_key: Option<Secret>,
        #[serde(default)]
        raw: RawResponse,
    },
    /// The token of a catalog token request (and its further steps) made with the end user's
    /// credential fields. The fields are kept, sealed, to repeat the steps when the token
    /// expires; they are never returned (`write_only_fields`).
    #[serde(rename = "TWO_STEP")]
    TwoStep {
        token: AccessToken,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token: Option<RefreshToken>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        #[serde(default)]
        raw: RawResponse,
        /// Response headers the catalog keeps (`token_response_headers`: a session cookie).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        /// The end user's fields by the catalog's names, beside the others as Nango sends them.
        #[serde(flatten)]
        fields: BTreeMap<String, Secret>,
    },
    /// A token the connection signs itself with the end user's key, as the catalog's `token`
    /// block says. The fields (the key, and what the claims read) are kept, sealed, to sign it
    /// again before it expires; they are never returned (`write_only_fields`). An import may
    /// leave the token out: it is signed from the fields.
    #[serde(rename = "JWT")]
    Jwt {
        #[serde(default)]
        token: AccessToken,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        /// The end user's fields by the catalog's names, beside the others as Nango sends them.
        #[serde(flatten)]
        fields: BTreeMap<String, Secret>,
    },
    /// A GitHub App installation's access token, minted with the app's JWT (`auth::github_app`);
    /// the wire shape is Nango's (`type`, `access_token`, `expires_at`, `raw`: GitHub's answer,
    /// with `permissions` and `repository_selection`). An import may leave the token out: it
    /// is minted for the connection's `installation_id`.
    #[serde(rename = "APP")]
    App {
        #[serde(default)]
        access_token: AccessToken,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        #[serde(default)]
        raw: RawResponse,
    },
    /// A GitHub App that also authorizes the installing user (`CUSTOM`: `auth::github_app_oauth`),
    /// in Nango's shape: `app`, the installation token (an `APP` value), `user`, the user's
    /// OAuth token (an `OAUTH2` value; `null` when the callback brought no code), and `raw`, the
    /// installation token's answer. Each is minted or refreshed as its own mode does it.
    #[serde(rename = "CUSTOM")]
    Custom {
        /// An import may leave it out: it is minted for the connection's `installation_id`.
        #[serde(default = "no_installation_token")]
        app: Box<Credentials>,
        #[serde(default)]
        user: Option<Box<Credentials>>,
        #[serde(default)]
        raw: RawResponse,
    },
    /// An OAuth 1.0a access token and its secret (`auth::oauth1`), in Nango's wire shape:
    /// `raw` is the provider's whole access token answer (Twitter's `user_id`, `screen_name`).
    /// The secret is returned by the backend's credentials read, as Nango returns it.
    #[serde(rename = "OAUTH1")]
    OAuth1 {
        oauth_token: Secret,
        oauth_token_secret: Secret,
        #[serde(default)]
        raw: RawResponse,
    },
    /// A NetSuite token id and secret the end user created (`auth::tba`), in Nango's wire shape.
    #[serde(rename = "TBA")]
    Tba { token_id: Secret, token_secret: Secret },
    /// No credentials: the provider's API is called without any (`NONE`).
    #[serde(rename = "NONE")]
    Unauthenticated,
    /// A WSSE signature (`auth::signature`): the end user's username and secret, and a value
    /// signed with them, good until `expires_at`. The secret is never returned.
    #[serde(rename = "SIGNATURE")]
    Signature {
        username: String,
        password: Secret,
        #[serde(default)]
        token: AccessToken,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
    },
    /// A Bill session (`auth::bill`): the login the end user gave (its password sealed and
    /// never returned, to log in again) and the session it opened, which Bill ends when idle.
    #[serde(rename = "BILL")]
    Bill {
        username: String,
        password: Secret,
        organization_id: String,
        dev_key: Secret,
        #[serde(default)]
        session_id: AccessToken,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        #[serde(default)]
        raw: RawResponse,
    },
    /// Temporary AWS credentials of a customer's IAM role (`auth::aws_sigv4`), in Nango's wire
    /// shape: the role, its region and the integration's service, the key, secret and session
    /// token STS gave (returned to the backend, which signs with them), when they expire, and
    /// the external id the role was assumed with. An import brings the role (and its external
    /// id and region): the role is assumed then.
    #[serde(rename = "AWS_SIGV4")]
    AwsSigV4 {
        role_arn: String,
        #[serde(default)]
        region: String,
        #[serde(default)]
        service: String,
        #[serde(default)]
        access_key_id: String,
        #[serde(default)]
        secret_access_key: Secret,
        #[serde(default)]
        session_token: Secret,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
        #[serde(default)]
        raw: RawResponse,
    },
}

/// An installation token still to be minted (an import's `CUSTOM` credentials without `app`).
fn no_installation_token() -> Box<Credentials> {
    Box::new(Credentials::App {
        access_token: AccessToken::default(),
        expires_at: None,
        raw: RawResponse::default(),
    })
}

impl Credentials {
    /// Fields of the sealed form that the wire never shows: a connection's own client secret
    /// and TLS client key, a two-step connection's submitted fields.
    pub fn write_only_fields(&self) -> Vec<String> {
        let mut out = vec!["client_secret".to_owned(), "client_private_key".to_owned()];
        if let Credentials::TwoStep { fields, .. } | Credentials::Jwt { fields, .. } = self {
            out.extend(fields.keys().cloned());
        }
        if let Credentials::Signature { .. } | Credentials::Bill { .. } = self {
            out.push("password".to_owned());
        }
        out
    }

    /// Whether a connection of `mode` holds credentials of this shape: its own type, or
    /// `OAUTH2` for the MCP modes (whose tokens Nango reports as OAuth2 credentials).
    pub fn fits(&self, mode: AuthMode) -> bool {
        self.auth_mode() == mode
            || (matches!(self, Credentials::OAuth2 { .. })
                && matches!(mode, AuthMode::McpOAuth2 | AuthMode::McpOAuth2Generic))
    }

    pub fn auth_mode(&self) -> AuthMode {
        match self {
            Credentials::OAuth2 { .. } => AuthMode::OAuth2,
            Credentials::ApiKey { .. } => AuthMode::ApiKey,
            Credentials::Basic { .. } => AuthMode::Basic,
            Credentials::OAuth2Cc { .. } => AuthMode::OAuth2Cc,
            Credentials::TwoStep { .. } => AuthMode::TwoStep,
            Credentials::Jwt { .. } => AuthMode::Jwt,
            Credentials::App { .. } => AuthMode::App,
            Credentials::Custom { .. } => AuthMode::Custom,
            Credentials::OAuth1 { .. } => AuthMode::OAuth1,
            Credentials::Tba { .. } => AuthMode::Tba,
            Credentials::Unauthenticated => AuthMode::None,
            Credentials::Signature { .. } => AuthMode::Signature,
            Credentials::Bill { .. } => AuthMode::Bill,
            Credentials::AwsSigV4 { .. } => AuthMode::AwsSigV4,
        }
    }

    /// The token an OAuth2 grant issued, for the modes that have one.
    pub fn access_token(&self) -> Option<&AccessToken> {
        match self {
            Credentials::OAuth2 { access_token, .. } | Credentials::App { access_token, .. } => Some(access_token),
            Credentials::OAuth2Cc { token, .. }
            | Credentials::TwoStep { token, .. }
            | Credentials::Jwt { token, .. }
            | Credentials::Signature { token, .. } => Some(token),
            Credentials::Bill { session_id, .. } => Some(session_id),
            // The installation's token: what the app's API calls carry.
            Credentials::Custom { app, .. } => app.access_token(),
            _ => None,
        }
    }

    /// The refresh token of an OAuth2 grant, if the provider issued one.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        match self {
            Credentials::OAuth2 { refresh_token, .. } => refresh_token.as_ref(),
            _ => None,
        }
    }

    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        match self {
            Credentials::OAuth2 { expires_at, .. }
            | Credentials::OAuth2Cc { expires_at, .. }
            | Credentials::TwoStep { expires_at, .. }
            | Credentials::Jwt { expires_at, .. }
            | Credentials::App { expires_at, .. }
            | Credentials::Signature { expires_at, .. }
            | Credentials::Bill { expires_at, .. }
            | Credentials::AwsSigV4 { expires_at, .. } => *expires_at,
            // The sooner of the two: a read refreshes when either is about to expire.
            Credentials::Custom { app, user, .. } => {
                let user = user.as_ref().and_then(|u| u.expires_at());
                match (app.expires_at(), user) {
                    (Some(a), Some(u)) => Some(a.min(u)),
                    (a, u) => a.or(u),
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_output_never_shows_secrets() {
        let creds = Credentials::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
        let raw = json!({"access_token": "at-SECRET", "refresh_token": "rt-SECRET", "team": "T1"});
        let oauth = Credentials::OAuth2 {
            access_token: AccessToken::new("at-SECRET"),
            refresh_token: Some(RefreshToken::new("rt-SECRET")),
            expires_at: None,
            raw: raw.as_object().unwrap().clone().into(),
        };
        let cc = Credentials::OAuth2Cc {
            token: AccessToken::new("at-SECRET"),
            expires_at: None,
            client_id: Some("cid".into()),
            client_secret: Some(ClientSecret::new("cs-SECRET")),
            client_certificate: None,
            client_private_key: Some(Secret::new("key-SECRET")),
            raw: raw.as_object().unwrap().clone().into(),
        };
        for debug in [format!("{oauth:?}"), format!("{cc:?}")] {
            assert!(!debug.contains("SECRET"), "{debug}");
            assert!(debug.contains("\"refresh_token\""), "raw names its fields: {debug}");
        }
        assert!(format!("{cc:?}").contains("cid"), "a client id is not a secret");
        assert_eq!(
            serde_json::to_value(&Credentials::ApiKey {
                api_key: Secret::new("k")
            })
            .unwrap(),
            json!({"type":"API_KEY","apiKey":"k"})
        );
    }

    /// Blobs sealed before the secrets had their own types open unchanged.
    #[test]
    fn the_sealed_form_is_unchanged() {
        let sealed = r#"{"type":"OAUTH2_CC","token":"t","expires_at":"2030-01-01T00:00:00Z","client_id":"c","client_secret":"s","raw":{"access_token":"t","expires_in":3600}}"#;
        let creds: Credentials = serde_json::from_str(sealed).unwrap();
        assert_eq!(serde_json::to_string(&creds).unwrap(), sealed);
        let sealed = r#"{"type":"OAUTH2","access_token":"a","refresh_token":"r","raw":{"x":1}}"#;
        let creds: Credentials = serde_json::from_str(sealed).unwrap();
        assert_eq!(serde_json::to_string(&creds).unwrap(), sealed);
    }

    #[test]
    fn jwt_fields_are_write_only_and_none_is_only_its_type() {
        let sealed =
            r#"{"type":"JWT","token":"t","expires_at":"2030-01-01T00:00:00Z","issuerId":"i","privateKey":"k-SECRET"}"#;
        let creds: Credentials = serde_json::from_str(sealed).unwrap();
        assert_eq!(serde_json::to_string(&creds).unwrap(), sealed);
        assert!(!format!("{creds:?}").contains("k-SECRET"));
        assert_eq!(
            creds.write_only_fields(),
            ["client_secret", "client_private_key", "issuerId", "privateKey"]
        );
        let imported: Credentials = serde_json::from_value(json!({"type": "JWT", "privateKey": "k"})).unwrap();
        assert!(
            imported.access_token().is_some_and(AccessToken::is_empty),
            "an import may bring the fields only"
        );
        let none: Credentials = serde_json::from_value(json!({"type": "NONE"})).unwrap();
        assert_eq!(none.auth_mode(), AuthMode::None);
        assert_eq!(serde_json::to_value(&none).unwrap(), json!({"type": "NONE"}));
    }
}
