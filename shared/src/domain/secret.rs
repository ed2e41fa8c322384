//! Secret values, one type per role, as the `oauth2` crate keeps them: an access token cannot be
//! passed where a client secret is expected, and none of them can be printed by accident —
//! `Debug` shows `[redacted]`, and reading the value takes an explicit `expose()`. Each
//! serializes as its plain string, so sealed credentials keep their form.

use serde::{Deserialize, Serialize};

macro_rules! secret_type {
    ($( $(#[$doc:meta])* $name:ident; )*) => {$(
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
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

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    )*};
}

secret_type! {
    /// Any other secret string: an API key, a password, an environment key.
    Secret;
    /// What a provider issued to call its API on the user's behalf.
    AccessToken;
    /// What gets a new access token without the user.
    RefreshToken;
    /// An OAuth client's secret (the integration's, or a connection's own).
    ClientSecret;
    /// The `state` of a browser flow: finds its session once, at the callback.
    OAuthState;
    /// The PKCE code verifier (RFC 7636) of one authorization.
    PkceVerifier;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("sk_live_123");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "sk_live_123");
        for debug in [
            format!("{:?}", AccessToken::new("at-1")),
            format!("{:?}", RefreshToken::new("rt-1")),
            format!("{:?}", ClientSecret::new("cs-1")),
            format!("{:?}", OAuthState::new("st-1")),
            format!("{:?}", PkceVerifier::new("pv-1")),
            format!("{:?}", Some(AccessToken::new("at-2"))),
        ] {
            assert!(debug.contains("[redacted]") && !debug.contains('-'), "{debug}");
        }
    }

    #[test]
    fn secrets_serialize_as_their_plain_string() {
        assert_eq!(serde_json::to_string(&RefreshToken::new("rt")).unwrap(), "\"rt\"");
        let t: AccessToken = serde_json::from_str("\"at\"").unwrap();
        assert_eq!(t.expose(), "at");
    }
}
