//! Building an `AppState` from the process environment, for the Lambda binaries (and any
//! deployment that is configured by variables rather than flags).
//!
//! `LATCHKEY_BACKEND` picks the store, sealer and key source, among those the build has:
//! - `local` (feature `sqlite`): the data directory of `LATCHKEY_DATA_DIR` (SQLite, key file,
//!   keys file).
//! - `aws` (feature `aws`): DynamoDB table `LATCHKEY_TABLE`, KMS key `LATCHKEY_KMS_KEY_ID`, keys
//!   from the Secrets Manager secret `LATCHKEY_KEYS_SECRET_ID`. Region and credentials come from
//!   the usual AWS variables; `AWS_ENDPOINT_URL` points every client at an emulator. With
//!   `LATCHKEY_WEBSOCKET_ENDPOINT` (the WebSocket API stage's management endpoint), flow
//!   outcomes reach the sockets of Nango's frontend client through it.

use crate::config::Config;
use crate::AppState;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Deployment configuration from `LATCHKEY_ENVIRONMENT`, `LATCHKEY_PUBLIC_URL` and
/// `LATCHKEY_CALLBACK_URL`.
pub fn config_from_env() -> Result<Config, BoxError> {
    let environment = var("LATCHKEY_ENVIRONMENT").unwrap_or_else(|| "dev".into());
    let public_url = var("LATCHKEY_PUBLIC_URL")
        .ok_or("LATCHKEY_PUBLIC_URL is required")?
        .parse()?;
    let callback_url = var("LATCHKEY_CALLBACK_URL").map(|u| u.parse()).transpose()?;
    Ok(Config::new(environment, public_url, callback_url))
}

/// The backends this build can serve, for the error that names them.
const BACKENDS: &[&str] = &[
    #[cfg(feature = "sqlite")]
    "local",
    #[cfg(feature = "aws")]
    "aws",
];

pub async fn state_from_env() -> Result<AppState, BoxError> {
    let config = config_from_env()?;
    match var("LATCHKEY_BACKEND").as_deref().unwrap_or("local") {
        #[cfg(feature = "sqlite")]
        "local" => {
            let dir = var("LATCHKEY_DATA_DIR").unwrap_or_else(|| ".latchkey".into());
            Ok(crate::local::open(std::path::Path::new(&dir), config)?.state)
        }
        #[cfg(feature = "aws")]
        "aws" => aws_state(config).await,
        other => Err(format!(
            "LATCHKEY_BACKEND '{other}' is not one this build serves: {}",
            BACKENDS.join(", ")
        )
        .into()),
    }
}

/// The AWS backend: one SDK configuration, three clients, keys read once from Secrets Manager.
#[cfg(feature = "aws")]
pub async fn aws_state(config: Config) -> Result<AppState, BoxError> {
    use std::sync::Arc;
    let table = var("LATCHKEY_TABLE").ok_or("LATCHKEY_TABLE is required")?;
    let key_id = var("LATCHKEY_KMS_KEY_ID").ok_or("LATCHKEY_KMS_KEY_ID is required")?;
    let secret_id = var("LATCHKEY_KEYS_SECRET_ID").ok_or("LATCHKEY_KEYS_SECRET_ID is required")?;
    let sdk = crate::aws::sdk_config().await;
    let keys = crate::aws::environment_keys(&crate::aws::secrets_client(&sdk), &secret_id).await?;
    let store = crate::store::dynamo::DynamoStore::new(crate::aws::dynamodb_client(&sdk), table);
    let sealer = crate::crypto::kms::KmsSealer::new(
        crate::aws::kms_client(&sdk),
        key_id,
        crate::crypto::kms::CacheLimits::default(),
    );
    let state = AppState::new(Arc::new(store), Arc::new(sealer), keys, config);
    Ok(match var("LATCHKEY_WEBSOCKET_ENDPOINT") {
        Some(endpoint) => state.with_sockets(Arc::new(crate::sockets::api_gateway::ApiGatewaySockets::new(
            &sdk, &endpoint,
        ))),
        None => state,
    })
}

/// Structured logs for Lambda (CloudWatch): no colours, level from `RUST_LOG` (default info).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(false)
        .without_time()
        .try_init();
}
