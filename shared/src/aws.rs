//! The AWS backend's plumbing: one SDK configuration for every client (rustls with ring, trusting
//! the roots AWS endpoints chain to, the standard retry mode with exponential backoff for throttling, `AWS_ENDPOINT_URL` honoured so
//! the same code runs on an emulator), per-service API call counters, and the environment keys
//! read from Secrets Manager.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::EnvironmentKeys;

/// The root certificates of Amazon Trust Services, which every AWS service endpoint's certificate
/// chains to. The SDK clients trust these only: loading the system's store instead (every PEM
/// file of `/etc/ssl/certs` or `/etc/pki/tls/certs`) cost each container 5-15 ms of its start
/// (`docs/benchmarks.md`, "Cold start"). `LATCHKEY_AWS_SYSTEM_ROOTS=1` trusts the system store
/// instead (an endpoint behind a TLS-inspecting proxy, an emulator with its own CA).
const AWS_ROOTS: &str = include_str!("../assets/aws/roots.pem");

fn trust_store() -> aws_smithy_http_client::tls::TrustStore {
    use aws_smithy_http_client::tls::TrustStore;
    if std::env::var_os("LATCHKEY_AWS_SYSTEM_ROOTS").is_some_and(|v| v == "1") {
        return TrustStore::default();
    }
    TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS)
}

/// SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn sdk_config() -> SdkConfig {
    let tls = aws_smithy_http_client::tls::TlsContext::builder()
        .with_trust_store(trust_store())
        .build()
        .expect("the TLS context of the AWS clients builds");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(tls)
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
    pub sqs: AtomicU64,
}

pub static CALLS: CallCounter = CallCounter {
    dynamodb: AtomicU64::new(0),
    kms: AtomicU64::new(0),
    secretsmanager: AtomicU64::new(0),
    sqs: AtomicU64::new(0),
};

/// SQS calls made by this process (kept out of `call_counts`, whose triple the request path
/// logs and the benchmarks read).
pub fn sqs_calls() -> u64 {
    CALLS.sqs.load(Ordering::Relaxed)
}

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
    Sqs,
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
            Service::Sqs => &CALLS.sqs,
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

pub fn sqs_client(config: &SdkConfig) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::config::Builder::from(config)
        .interceptor(Counting(Service::Sqs))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

pub fn secrets_client(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::config::Builder::from(config)
        .interceptor(Counting(Service::SecretsManager))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

/// Reads the environment keys: one secret whose string is the `EnvironmentKeys` JSON
/// (`secret_key`, `public_key`, `hmac_key`, `webhook_signing_key`, optional
/// `previous_secret_key` and `previous_secret_key_expires_at`) or the generated `{"seed": …}`.
/// Read when a container starts, then again as `keys::Keys` says (after its maximum age, or
/// when a caller presents a key the container does not know).
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
    EnvironmentKeys::from_secret_json(text).map_err(|e| format!("secret {secret_id}: {e}").into())
}

/// The keys secret as a `KeySource`. A rotation puts a new version of the secret with the
/// explicit keys JSON (a seed-derived secret becomes explicit on its first rotation); it takes
/// `secretsmanager:PutSecretValue`, which only the admin function's role has.
pub struct SecretsManagerKeys {
    pub client: aws_sdk_secretsmanager::Client,
    pub secret_id: String,
}

#[async_trait::async_trait]
impl crate::keys::KeySource for SecretsManagerKeys {
    async fn load(&self) -> Result<EnvironmentKeys, crate::error::Error> {
        environment_keys(&self.client, &self.secret_id).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the keys secret");
            crate::error::Error::unavailable("The key service")
        })
    }

    async fn save(&self, keys: &EnvironmentKeys) -> Result<(), crate::error::Error> {
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(serde_json::to_string(keys).expect("keys serialize"))
            .send()
            .await
            .map_err(|e| {
                tracing::error!(
                    error = %aws_sdk_secretsmanager::error::DisplayErrorContext(&e),
                    "cannot write the keys secret"
                );
                crate::error::Error::unavailable("The key service")
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    /// The embedded roots are the six certificates of Amazon Trust Services' repository, each
    /// a whole PEM block of valid base64 (the SDK parses them when it first connects).
    #[test]
    fn the_aws_roots_are_six_whole_certificates() {
        let mut blocks = 0;
        for block in super::AWS_ROOTS.split("-----BEGIN CERTIFICATE-----").skip(1) {
            let (body, _) = block.split_once("-----END CERTIFICATE-----").expect("each block ends");
            let der: String = body.split_whitespace().collect();
            let der = base64::engine::general_purpose::STANDARD.decode(der).expect("base64");
            assert_eq!(der[0], 0x30, "a DER SEQUENCE");
            blocks += 1;
        }
        assert_eq!(blocks, 6);
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(super::AWS_ROOTS.contains(&name.replace(' ', "_")), "{name}");
        }
    }
}
