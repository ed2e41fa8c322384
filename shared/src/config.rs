//! Deployment-level configuration (fixed for a process) and the environment's keys.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::crypto::random_token;
use crate::domain::Secret;

#[derive(Debug, Clone)]
pub struct Config {
    /// Environment name, part of every encryption context (e.g. `dev`, `prod`).
    pub environment: String,
    /// Where the API is reached from outside, without a trailing slash.
    pub public_url: Url,
    /// The redirect URI registered with providers: `<public_url>/oauth/callback` unless the
    /// operator serves it from an own domain.
    pub callback_url: Url,
    pub oauth_session_ttl: time::Duration,
    /// Upper bound on any request Latchkey makes to a provider.
    pub provider_timeout: std::time::Duration,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// How long a connect session token may start flows (30 minutes; tests shorten it).
    pub connect_session_ttl: time::Duration,
}

impl Config {
    pub fn new(environment: impl Into<String>, public_url: Url, callback_url: Option<Url>) -> Self {
        // Appended to the public URL's path, so a base path (an API Gateway stage) is kept.
        let callback_url = callback_url.unwrap_or_else(|| {
            let mut url = public_url.clone();
            let path = format!("{}/oauth/callback", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url
        });
        Self {
            environment: environment.into(),
            public_url,
            callback_url,
            oauth_session_ttl: time::Duration::minutes(10),
            provider_timeout: std::time::Duration::from_secs(10),
            body_limit: 256 * 1024,
            connect_session_ttl: time::Duration::minutes(30),
        }
    }
}

/// The environment's keys. The secret key authenticates the team's backend; the public key
/// identifies the environment to frontends; the HMAC key signs connect requests; the webhook
/// signing key signs outgoing webhooks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvironmentKeys {
    pub secret_key: Secret,
    pub public_key: String,
    pub hmac_key: Secret,
    pub webhook_signing_key: Secret,
    /// During a rotation, the previous secret key is still accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_key: Option<Secret>,
}

impl EnvironmentKeys {
    pub fn generate() -> Self {
        Self {
            secret_key: Secret::new(format!("lk_sk_{}", random_token())),
            public_key: format!("lk_pk_{}", random_token()),
            hmac_key: Secret::new(format!("lk_hk_{}", random_token())),
            webhook_signing_key: Secret::new(format!("lk_wk_{}", random_token())),
            previous_secret_key: None,
        }
    }

    /// Secret keys a backend request may be authenticated with, current first.
    pub fn accepted_secret_keys(&self) -> Vec<&str> {
        std::iter::once(self.secret_key.expose())
            .chain(self.previous_secret_key.as_ref().map(Secret::expose))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_callback_keeps_a_base_path() {
        let at = |u: &str| Config::new("dev", u.parse().unwrap(), None).callback_url.to_string();
        assert_eq!(at("https://api.example.com"), "https://api.example.com/oauth/callback");
        assert_eq!(
            at("https://api.example.com/prod"),
            "https://api.example.com/prod/oauth/callback"
        );
        assert_eq!(
            at("https://api.example.com/prod/"),
            "https://api.example.com/prod/oauth/callback"
        );
    }
}
