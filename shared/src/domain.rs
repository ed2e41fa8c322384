//! Domain values parsed once at the edge. A value of these types is already valid; secrets are
//! wrapped so that `Debug` and `Display` can never print them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode};

/// A secret string: `Debug` prints `[redacted]`; reading it takes an explicit `expose()`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Keys and ids share one shape: 1–255 characters of `[A-Za-z0-9._:@|+-]`, so they can be put in
/// store keys, URLs and log lines without escaping.
fn check_identifier(kind: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 255 {
        return Err(format!("{kind} must be 1 to 255 characters long."));
    }
    let ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@' | '|' | '+'));
    if !ok {
        return Err(format!("{kind} may contain only letters, digits and . _ - : @ | +"));
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $code:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                check_identifier($kind, &value).map_err(|m| Error::invalid(ErrorCode::$code, m))?;
                Ok(Self(value))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                check_identifier($kind, &value)?;
                Ok(Self(value))
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// The operator-chosen unique key of an integration (`provider_config_key` on the wire).
    IntegrationKey, "An integration's unique key", InvalidIntegrationKey
);
identifier!(
    /// The team's id for one connected account of one integration.
    ConnectionId, "A connection id", InvalidConnectionId
);

impl ConnectionId {
    /// A server-chosen id, for flows where the caller does not name the connection.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

/// How a connection authenticates at its provider. Wire names follow the ecosystem's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMode {
    #[serde(rename = "OAUTH2")]
    OAuth2,
    #[serde(rename = "OAUTH2_CC")]
    OAuth2Cc,
    #[serde(rename = "OAUTH1")]
    OAuth1,
    ApiKey,
    Basic,
    App,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::OAuth2 => "OAUTH2",
            AuthMode::OAuth2Cc => "OAUTH2_CC",
            AuthMode::OAuth1 => "OAUTH1",
            AuthMode::ApiKey => "API_KEY",
            AuthMode::Basic => "BASIC",
            AuthMode::App => "APP",
        }
    }
}

/// Connection config (`params[...]` of the connect URL): flat string values chosen by the end
/// user, validated before they reach any URL.
pub type ConnectionConfig = serde_json::Map<String, serde_json::Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk_live_123");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "sk_live_123");
    }

    #[test]
    fn identifiers_reject_what_cannot_travel_unescaped() {
        assert!(ConnectionId::parse("user-123").is_ok());
        assert!(ConnectionId::parse("org:42|user@x.com").is_ok());
        for bad in ["", "a b", "a/b", "a?b", "é", &"x".repeat(256)] {
            let err = ConnectionId::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidConnectionId, "{bad:?}");
        }
        assert_eq!(
            IntegrationKey::parse("x#").unwrap_err().code,
            ErrorCode::InvalidIntegrationKey
        );
    }

    #[test]
    fn auth_modes_use_wire_names() {
        assert_eq!(serde_json::to_string(&AuthMode::OAuth2Cc).unwrap(), "\"OAUTH2_CC\"");
        assert_eq!(serde_json::to_string(&AuthMode::ApiKey).unwrap(), "\"API_KEY\"");
        assert_eq!(AuthMode::OAuth2.as_str(), "OAUTH2");
    }
}
