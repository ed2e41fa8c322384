//! The AWS backend's plumbing: one SDK configuration for every client (rustls with ring, the
//! standard retry mode with exponential backoff for throttling, `AWS_ENDPOINT_URL` honoured so
//! the same code runs on an emulator), per-service API call counters, and the environment keys
//! read from Secrets Manager.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::EnvironmentKeys;

/// SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn sdk_config() -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        // Standard mode: exponential backoff with jitter, throttling errors retried.
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(50)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(5))
                .build(),
        )
        .load()
        .await
}

/// AWS API calls (attempts, retries included) made by this process, per service. The
/// benchmarks read them; they cost one atomic add per call.
#[derive(Debug, Default)]
pub struct CallCounter {
    pub dynamodb: AtomicU64,
    pub kms: AtomicU64,
    pub secretsmanager: AtomicU64,
}

pub static CALLS: CallCounter = CallCounter {
    dynamodb: AtomicU64::new(0),
    kms: AtomicU64::new(0),
    secretsmanager: AtomicU64::new(0),
};

/// A snapshot of `CALLS`: (dynamodb, kms, secretsmanager).
pub fn call_counts() -> (u64, u64, u64) {
    (
        CALLS.dynamodb.load(Ordering::Relaxed),
        CALLS.kms.load(Ordering::Relaxed),
        CALLS.secretsmanager.load(Ordering::Relaxed),
    )
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Service {
    DynamoDb,
    Kms,
    SecretsManager,
}

/// Counts every attempt sent to one service.
#[derive(Debug)]
pub(crate) struct Counting(pub Service);

impl aws_sdk_dynamodb::config::Intercept for Counting {
    fn name(&self) -> &'static str {
        "latchkey-call-counter"
    }

    fn read_before_attempt(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let counter = match self.0 {
            Service::DynamoDb => &CALLS.dynamodb,
            Service::Kms => &CALLS.kms,
            Service::SecretsManager => &CALLS.secretsmanager,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(Counting(Service::DynamoDb))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

pub fn kms_client(config: &SdkConfig) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::config::Builder::from(config)
        .interceptor(Counting(Service::Kms))
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

pub fn secrets_client(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::config::Builder::from(config)
        .interceptor(Counting(Service::SecretsManager))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

/// Reads the environment keys: one secret whose string is the `EnvironmentKeys` JSON
/// (`secret_key`, `public_key`, `hmac_key`, `webhook_signing_key`, optional
/// `previous_secret_key`). Called once per container; the result lives in `AppState`.
///
/// Rotation: put a new version of the secret with the new `secret_key` and the old one as
/// `previous_secret_key`. Containers started after that accept both; containers still warm keep
/// the old value until they are recycled (at most the Lambda idle lifetime, a few hours), so
/// keep `previous_secret_key` for a day, then remove it.
pub async fn environment_keys(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<EnvironmentKeys, Box<dyn std::error::Error + Send + Sync>> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            format!(
                "reading secret {secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| format!("secret {secret_id} has no string value"))?;
    parse_keys(text).map_err(|e| format!("secret {secret_id}: {e}").into())
}

/// The secret's JSON: either the explicit `EnvironmentKeys`, or `{"seed": "..."}` as the
/// template generates it (CloudFormation can generate one random value per secret), from which
/// the four keys are derived with HMAC-SHA256 under fixed labels.
pub fn parse_keys(text: &str) -> Result<EnvironmentKeys, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
    if value.get("secret_key").is_some() {
        return serde_json::from_value(value).map_err(|e| format!("not the keys JSON: {e}"));
    }
    let seed = value
        .get("seed")
        .and_then(|s| s.as_str())
        .filter(|s| s.len() >= 32)
        .ok_or("neither the keys JSON nor a seed of at least 32 characters")?;
    Ok(derive_keys(seed))
}

fn derive_keys(seed: &str) -> EnvironmentKeys {
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
        secret_key: crate::domain::Secret::new(derive("lk_sk_", "latchkey secret key")),
        public_key: derive("lk_pk_", "latchkey public key"),
        hmac_key: crate::domain::Secret::new(derive("lk_hk_", "latchkey hmac key")),
        webhook_signing_key: crate::domain::Secret::new(derive("lk_wk_", "latchkey webhook signing key")),
        previous_secret_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_explicit_or_derived_from_a_seed() {
        let explicit = EnvironmentKeys::generate();
        let parsed = parse_keys(&serde_json::to_string(&explicit).unwrap()).unwrap();
        assert_eq!(parsed.public_key, explicit.public_key);
        let seed = r#"{"seed": "0123456789abcdef0123456789abcdef0123456789"}"#;
        let (a, b) = (parse_keys(seed).unwrap(), parse_keys(seed).unwrap());
        assert_eq!(a.secret_key.expose(), b.secret_key.expose(), "deterministic");
        assert!(a.secret_key.expose().starts_with("lk_sk_"));
        assert!(a.public_key.starts_with("lk_pk_"));
        assert_ne!(a.secret_key.expose(), a.hmac_key.expose());
        assert!(parse_keys(r#"{"seed": "short"}"#).is_err());
        assert!(parse_keys("nope").is_err());
    }
}
