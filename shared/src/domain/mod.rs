//! Domain values parsed once at the edge. A value of these types is already valid; secrets are
//! wrapped so that `Debug` and `Display` can never print them.

pub mod hosts;
pub mod limits;
mod secret;

pub use hosts::{AllowedHosts, HostPattern};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode};
pub use secret::{AccessToken, ClientSecret, OAuthState, PkceVerifier, RefreshToken, Secret};

/// For a field where `null` (clear) differs from absent (keep): `Some(None)` vs `None`. Use as
/// `#[serde(default, deserialize_with = "crate::domain::nullable")]` on an `Option<Option<T>>`.
pub fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What an error message may repeat of a value the caller sent: the value itself when it has the
/// shape of a key or an id (below: printable, bounded, no markup, nothing to smuggle), else
/// nothing. Text that failed its own check is never repeated.
pub fn nameable(value: &str) -> Option<&str> {
    check_identifier("", value).ok().map(|()| value)
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

impl IntegrationKey {
    /// The key a URL path names: text that cannot be a key names no integration
    /// (`unknown_provider_config`, the text not repeated).
    pub fn from_path(raw: &str) -> Result<Self, Error> {
        Self::parse(raw)
            .map_err(|_| Error::not_found(ErrorCode::UnknownProviderConfig, "No integration with that unique key."))
    }
}

impl ConnectionId {
    /// A server-chosen id, for flows where the caller does not name the connection.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

/// Lists every auth mode once: the variant and its wire name.
macro_rules! auth_modes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, )*) => {
        /// How a connection authenticates at its provider: every mode the catalog names, with the
        /// ecosystem's wire names. Which of them Latchkey can connect is `auth::scheme`'s to say.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum AuthMode {
            $( $(#[$doc])* #[serde(rename = $wire)] $variant, )*
        }

        impl AuthMode {
            pub const ALL: &'static [AuthMode] = &[$(AuthMode::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuthMode::$variant => $wire,)*
                }
            }

            /// The mode a route segment names: its wire name in lowercase with `-` for `_`
            /// (`two-step`, `aws-sigv4`), as in `POST /auth/{mode}/{integration}`.
            pub fn from_route_segment(segment: &str) -> Option<AuthMode> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|m| m.as_str().replace('_', "-").eq_ignore_ascii_case(segment))
            }
        }
    };
}

auth_modes! {
    /// OAuth 2.0 authorization code (with PKCE unless the provider refuses it).
    OAuth2 = "OAUTH2",
    /// OAuth 2.0 client credentials.
    OAuth2Cc = "OAUTH2_CC",
    ApiKey = "API_KEY",
    Basic = "BASIC",
    /// A token request with the user's credentials, then the catalog's further steps.
    TwoStep = "TWO_STEP",
    /// OAuth 2.0 against an MCP server, with discovery and dynamic client registration.
    McpOAuth2 = "MCP_OAUTH2",
    /// `MCP_OAUTH2` at a server URL the user gives.
    McpOAuth2Generic = "MCP_OAUTH2_GENERIC",
    /// A JWT signed with the user's key.
    Jwt = "JWT",
    /// OAuth 1.0a: request token, authorization, access token.
    OAuth1 = "OAUTH1",
    Bill = "BILL",
    /// A GitHub App installation.
    App = "APP",
    /// A GitHub App installation and user OAuth in one flow.
    Custom = "CUSTOM",
    /// NetSuite token-based authentication.
    Tba = "TBA",
    Signature = "SIGNATURE",
    /// AWS Signature V4 with an assumed role.
    AwsSigV4 = "AWS_SIGV4",
    InstallPlugin = "INSTALL_PLUGIN",
    /// No credentials at all.
    None = "NONE",
}

impl std::fmt::Display for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Connection config (`params[...]` of the connect URL): flat string values chosen by the end
/// user, validated before they reach any URL.
pub type ConnectionConfig = serde_json::Map<String, serde_json::Value>;

/// The connection config keys the team's backend set (a connect session's defaults, an
/// import): a host such a value fills was vouched for. Every other key's value came from the
/// end user (or from the provider's answer about the end user's account).
pub type VouchedKeys = std::collections::BTreeSet<String>;

#[cfg(test)]
mod tests {
    use super::*;

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
        for mode in AuthMode::ALL {
            let wire = serde_json::to_string(mode).unwrap();
            assert_eq!(wire, format!("\"{}\"", mode.as_str()));
            assert_eq!(serde_json::from_str::<AuthMode>(&wire).unwrap(), *mode);
        }
        assert_eq!(AuthMode::ALL.len(), 17);
    }
}
