//! The credentials of a connection, in the shape the backend reads them (API.md). Serialized,
//! this is exactly what is sealed at rest.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{AuthMode, Secret};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Credentials {
    #[serde(rename = "OAUTH2")]
    OAuth2 {
        access_token: Secret,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token: Option<Secret>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        /// The provider's whole token response, extra fields included.
        #[serde(default)]
        raw: serde_json::Map<String, serde_json::Value>,
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
        token: Secret,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "time::serde::rfc3339::option"
        )]
        expires_at: Option<OffsetDateTime>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<Secret>,
        #[serde(default)]
        raw: serde_json::Map<String, serde_json::Value>,
    },
}

impl Credentials {
    pub fn auth_mode(&self) -> AuthMode {
        match self {
            Credentials::OAuth2 { .. } => AuthMode::OAuth2,
            Credentials::ApiKey { .. } => AuthMode::ApiKey,
            Credentials::Basic { .. } => AuthMode::Basic,
            Credentials::OAuth2Cc { .. } => AuthMode::OAuth2Cc,
        }
    }

    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        match self {
            Credentials::OAuth2 { expires_at, .. } | Credentials::OAuth2Cc { expires_at, .. } => *expires_at,
            _ => None,
        }
    }

    /// The wire form for a backend read. The refresh token (also inside `raw`) is included only
    /// when asked for, so a read-only consumer can't take over the grant.
    pub fn to_wire(&self, include_refresh_token: bool) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("credentials serialize");
        if let Some(obj) = value.as_object_mut() {
            // A connection's own client secret is write-only, like an integration's.
            obj.remove("client_secret");
        }
        if !include_refresh_token {
            if let Some(obj) = value.as_object_mut() {
                obj.remove("refresh_token");
                if let Some(raw) = obj.get_mut("raw").and_then(|r| r.as_object_mut()) {
                    raw.remove("refresh_token");
                }
            }
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refresh_tokens_are_shown_only_on_request() {
        let creds = Credentials::OAuth2 {
            access_token: Secret::new("at"),
            refresh_token: Some(Secret::new("rt")),
            expires_at: None,
            raw: json!({"access_token": "at", "refresh_token": "rt", "team": "x"})
                .as_object()
                .unwrap()
                .clone(),
        };
        let hidden = creds.to_wire(false);
        assert_eq!(
            hidden,
            json!({"type": "OAUTH2", "access_token": "at", "raw": {"access_token": "at", "team": "x"}})
        );
        assert_eq!(creds.to_wire(true)["refresh_token"], "rt");
        assert_eq!(creds.to_wire(true)["raw"]["refresh_token"], "rt");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let creds = Credentials::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
        assert_eq!(
            serde_json::to_value(&Credentials::ApiKey {
                api_key: Secret::new("k")
            })
            .unwrap(),
            json!({"type":"API_KEY","apiKey":"k"})
        );
    }
}
