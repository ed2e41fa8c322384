//! Deployment-level configuration (fixed for a process) and the environment's keys.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::crypto::random_token;
use crate::domain::Secret;

/// 64 KiB: ten times the largest token response seen from a real provider.
pub const DEFAULT_PROVIDER_RESPONSE_LIMIT: usize = 64 * 1024;
/// The most a provider answer may be configured to hold: what is kept of it must still fit a
/// stored item (`domain::limits`).
pub const MAX_PROVIDER_RESPONSE_LIMIT: usize = 1024 * 1024;

/// A provider response limit as configured (`--provider-response-limit`,
/// `LATCHKEY_PROVIDER_RESPONSE_LIMIT`): bytes, 1 KiB to 1 MiB.
pub fn parse_response_limit(text: &str) -> Result<usize, String> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of bytes"))?;
    if (1024..=MAX_PROVIDER_RESPONSE_LIMIT).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "the provider response limit must be 1024 to {MAX_PROVIDER_RESPONSE_LIMIT} bytes"
        ))
    }
}

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
    /// Largest provider answer read (a token response, a verification answer); a longer one is
    /// refused after this many bytes and nothing is stored.
    pub provider_response_limit: usize,
    /// Local development only: requests whose host an end user chose may reach loopback and
    /// private addresses, and plain http (`latchkey serve --allow-private-addresses`). Off by
    /// default, and never on in a deployment.
    pub allow_private_addresses: bool,
    /// How long a connect session token may start flows (30 minutes; tests shorten it).
    pub connect_session_ttl: time::Duration,
    /// How long activity entries are kept (30 days): DynamoDB's TTL deletes older ones, the
    /// local stack purges them.
    pub activity_retention: time::Duration,
    /// How many refusals of unauthenticated requests one process records a minute (60).
    pub refusals_recorded_per_minute: u32,
    /// How long an operator's console session lasts after sign-in (2 hours).
    pub console_session_ttl: time::Duration,
    /// When connections are renewed ahead of reads (`refresh_policy`); the stores index by it.
    pub refresh: crate::refresh_policy::RefreshPolicy,
    /// How fast those renewals go per provider (the scheduler and the worker).
    pub refresh_limits: crate::refresh_policy::RefreshLimits,
    /// How auth webhooks are delivered (`events`).
    pub webhooks: WebhookPolicy,
    /// PEM certificates trusted besides the public roots, for hosts the operator runs with a
    /// private certificate authority (an in-house identity server or webhook receiver):
    /// `LATCHKEY_EXTRA_CA_FILE`. Checked when the configuration is read.
    pub extra_root_certificates: Option<String>,
}

/// How one webhook delivery is attempted and retried: a retryable failure (no answer, 408,
/// 429, 5xx) is tried again after `first_retry`, doubling each time up to `max_retry` (plus up
/// to a tenth of jitter), or after the receiver's `Retry-After` (at most `max_retry`), until
/// `attempts` attempts were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Attempts of one delivery, the first included.
    pub attempts: u32,
    pub first_retry: time::Duration,
    pub max_retry: time::Duration,
    /// The most one attempt may take, the answer's headers included (never more than
    /// `Config::provider_timeout`, the client's own bound).
    pub timeout: std::time::Duration,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self {
            attempts: 10,
            first_retry: time::Duration::seconds(30),
            max_retry: time::Duration::hours(1),
            timeout: std::time::Duration::from_secs(10),
        }
    }
}

impl Config {
    pub fn new(environment: impl Into<String>, public_url: Url, callback_url: Option<Url>) -> Self {
        let callback_url = callback_url.unwrap_or_else(|| api_callback_url(&public_url));
        Self {
            environment: environment.into(),
            public_url,
            callback_url,
            oauth_session_ttl: time::Duration::minutes(10),
            provider_timeout: std::time::Duration::from_secs(10),
            body_limit: 256 * 1024,
            provider_response_limit: DEFAULT_PROVIDER_RESPONSE_LIMIT,
            allow_private_addresses: false,
            connect_session_ttl: time::Duration::minutes(30),
            activity_retention: time::Duration::days(30),
            refusals_recorded_per_minute: 60,
            console_session_ttl: time::Duration::hours(2),
            refresh: crate::refresh_policy::RefreshPolicy::default(),
            refresh_limits: crate::refresh_policy::RefreshLimits::default(),
            webhooks: WebhookPolicy::default(),
            extra_root_certificates: None,
        }
    }

    /// The web origin of `public_url`: the API's own pages (demo, Connect page) come from it.
    pub fn own_origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }
}

/// The API's own `/oauth/callback` (where a custom callback domain's redirect lands): appended
/// to the public URL's path, so a base path (an API Gateway stage) is kept.
fn api_callback_url(public_url: &Url) -> Url {
    let mut url = public_url.clone();
    let path = format!("{}/oauth/callback", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

impl Config {
    /// The API's own callback URL, on its own domain: the flow cookie's path, whatever domain
    /// providers send the browser back to first.
    pub fn api_callback_url(&self) -> Url {
        api_callback_url(&self.public_url)
    }

    /// Whether browsers reach the API over https (cookies are then `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
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
    /// During a rotation, the previous secret key is still accepted ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_key: Option<Secret>,
    /// ... until then (absent: until it is removed from the keys by hand).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub previous_secret_key_expires_at: Option<time::OffsetDateTime>,
}

pub const SECRET_KEY_PREFIX: &str = "lk_sk_";
pub const PUBLIC_KEY_PREFIX: &str = "lk_pk_";
pub const HMAC_KEY_PREFIX: &str = "lk_hk_";
pub const WEBHOOK_KEY_PREFIX: &str = "lk_wk_";

/// A new random key with its kind's prefix.
pub fn new_key(prefix: &str) -> String {
    format!("{prefix}{}", random_token())
}

impl EnvironmentKeys {
    pub fn generate() -> Self {
        Self {
            secret_key: Secret::new(new_key(SECRET_KEY_PREFIX)),
            public_key: new_key(PUBLIC_KEY_PREFIX),
            hmac_key: Secret::new(new_key(HMAC_KEY_PREFIX)),
            webhook_signing_key: Secret::new(new_key(WEBHOOK_KEY_PREFIX)),
            previous_secret_key: None,
            previous_secret_key_expires_at: None,
        }
    }

    /// The secret's JSON: either the explicit `EnvironmentKeys`, or `{"seed": "..."}` as the
    /// template generates it (CloudFormation can generate one random value per secret), from which
    /// the four keys are derived with HMAC-SHA256 under fixed labels.
    pub fn from_secret_json(text: &str) -> Result<EnvironmentKeys, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
        if value.get("secret_key").is_some() {
            return serde_json::from_value(value).map_err(|e| format!("not the keys JSON: {e}"));
        }
        let seed = value
            .get("seed")
            .and_then(|s| s.as_str())
            .filter(|s| s.len() >= 32)
            .ok_or("neither the keys JSON nor a seed of at least 32 characters")?;
        Ok(Self::derive(seed))
    }

    fn derive(seed: &str) -> EnvironmentKeys {
        use base64::Engine;
        use hmac::{Hmac, Mac};
        let derive = |prefix: &str, label: &str| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(seed.as_bytes()).expect("HMAC takes any key length");
            mac.update(label.as_bytes());
            let bytes = mac.finalize().into_bytes();
            format!(
                "{prefix}{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
            )
        };
        EnvironmentKeys {
            secret_key: Secret::new(derive(SECRET_KEY_PREFIX, "latchkey secret key")),
            public_key: derive(PUBLIC_KEY_PREFIX, "latchkey public key"),
            hmac_key: Secret::new(derive(HMAC_KEY_PREFIX, "latchkey hmac key")),
            webhook_signing_key: Secret::new(derive(WEBHOOK_KEY_PREFIX, "latchkey webhook signing key")),
            previous_secret_key: None,
            previous_secret_key_expires_at: None,
        }
    }

    /// The previous secret key, while its grace period lasts at `now`.
    pub fn previous_secret_key_at(&self, now: time::OffsetDateTime) -> Option<&Secret> {
        self.previous_secret_key
            .as_ref()
            .filter(|_| self.previous_secret_key_expires_at.is_none_or(|until| now < until))
    }

    /// Secret keys a backend request may be authenticated with at `now`, current first.
    pub fn accepted_secret_keys(&self, now: time::OffsetDateTime) -> Vec<&str> {
        std::iter::once(self.secret_key.expose())
            .chain(self.previous_secret_key_at(now).map(Secret::expose))
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

    #[test]
    fn keys_are_explicit_or_derived_from_a_seed() {
        let explicit = EnvironmentKeys::generate();
        let parsed = EnvironmentKeys::from_secret_json(&serde_json::to_string(&explicit).unwrap()).unwrap();
        assert_eq!(parsed.public_key, explicit.public_key);
        let seed = r#"{"seed": "0123456789abcdef0123456789abcdef0123456789"}"#;
        let (a, b) = (
            EnvironmentKeys::from_secret_json(seed).unwrap(),
            EnvironmentKeys::from_secret_json(seed).unwrap(),
        );
        assert_eq!(a.secret_key.expose(), b.secret_key.expose(), "deterministic");
        assert!(a.secret_key.expose().starts_with("lk_sk_"));
        assert!(a.public_key.starts_with("lk_pk_"));
        assert_ne!(a.secret_key.expose(), a.hmac_key.expose());
        assert!(EnvironmentKeys::from_secret_json(r#"{"seed": "short"}"#).is_err());
        assert!(EnvironmentKeys::from_secret_json("nope").is_err());
    }
}
