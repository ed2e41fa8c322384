//! Building an `AppState` from the process environment, for the Lambda binaries (and any
//! deployment that is configured by variables rather than flags).
//!
//! `LATCHKEY_BACKEND` picks the store, sealer and key source, among those the build has:
//! - `local` (feature `sqlite`): the data directory of `LATCHKEY_DATA_DIR` (SQLite, key file,
//!   keys file).
//! - `aws` (feature `aws`): DynamoDB table `LATCHKEY_TABLE`, KMS key `LATCHKEY_KMS_KEY_ID`, keys
//!   from the Secrets Manager secret `LATCHKEY_KEYS_SECRET_ID`. Region and credentials come from
//!   the usual AWS variables; `AWS_ENDPOINT_URL` points every client at an emulator.
//!   `LATCHKEY_KEYS_MAX_AGE_SECS` bounds how long a container uses its copy of the keys
//!   (default 300) before reading the secret again. With `LATCHKEY_WEBSOCKET_ENDPOINT` (the
//!   WebSocket API stage's management endpoint), flow outcomes reach the sockets of Nango's
//!   frontend client through it.
//!   The SDK clients trust Amazon Trust Services' roots only (`aws::sdk_config`);
//!   `LATCHKEY_AWS_SYSTEM_ROOTS=1` trusts the system's certificate store instead.
//!
//! Every client (the SDK's, the sealer's, the socket transport's, the outbound HTTP pair of
//! `AppState::new`) is built here, once per process — on Lambda, once per container in the init
//! phase — and shared by every request through `AppState`: no request builds a client
//! (`docs/operations.md`). The `websocket` function, which has no `AppState`, builds its clients
//! once in `lambda::websocket::serve` the same way.

use crate::config::Config;
use crate::AppState;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Deployment configuration from `LATCHKEY_ENVIRONMENT`, `LATCHKEY_PUBLIC_URL`,
/// `LATCHKEY_CALLBACK_URL`, `LATCHKEY_PROVIDER_RESPONSE_LIMIT`,
/// `LATCHKEY_ACTIVITY_RETENTION_DAYS`, `LATCHKEY_EXTRA_CA_FILE` and the refresh policy's
/// variables. A deployment never reaches private addresses for an end user's host: the
/// development switch is `latchkey serve`'s only.
pub fn config_from_env() -> Result<Config, BoxError> {
    let environment = var("LATCHKEY_ENVIRONMENT").unwrap_or_else(|| "dev".into());
    let public_url = var("LATCHKEY_PUBLIC_URL")
        .ok_or("LATCHKEY_PUBLIC_URL is required")?
        .parse()?;
    let callback_url = var("LATCHKEY_CALLBACK_URL").map(|u| u.parse()).transpose()?;
    let mut config = Config::new(environment, public_url, callback_url);
    if let Some(limit) = var("LATCHKEY_PROVIDER_RESPONSE_LIMIT") {
        config.provider_response_limit = crate::config::parse_response_limit(&limit)?;
    }
    if let Some(days) = var("LATCHKEY_ACTIVITY_RETENTION_DAYS") {
        config.activity_retention = retention_days(&days)?;
    }
    refresh_from_env(&mut config)?;
    if let Some(path) = var("LATCHKEY_EXTRA_CA_FILE") {
        config.extra_root_certificates = Some(crate::outbound::read_extra_roots(std::path::Path::new(&path))?);
    }
    Ok(config)
}

/// The refresh policy and its limits from their `LATCHKEY_REFRESH_*` variables, into `config`:
/// read the same way by a deployment (`config_from_env`) and by `latchkey serve`.
pub fn refresh_from_env(config: &mut Config) -> Result<(), BoxError> {
    config.refresh = crate::refresh_policy::RefreshPolicy::from_env(var)?;
    config.refresh_limits = crate::refresh_policy::RefreshLimits::from_env(var)?;
    Ok(())
}

/// An activity retention in whole days, 1 to 3650.
pub fn retention_days(days: &str) -> Result<time::Duration, BoxError> {
    match days.trim().parse::<i64>() {
        Ok(d) if (1..=3650).contains(&d) => Ok(time::Duration::days(d)),
        _ => Err(format!("an activity retention must be 1 to 3650 days, not '{days}'").into()),
    }
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

/// The AWS backend: one SDK configuration, four clients, keys read once from Secrets Manager,
/// jobs to the SQS queue `LATCHKEY_QUEUE_URL` (without it, enqueuing fails: `queue::NoQueue`),
/// socket messages through the management endpoint `LATCHKEY_WEBSOCKET_ENDPOINT` (without it,
/// sockets are held in-process: `sockets::LocalSockets`).
#[cfg(feature = "aws")]
pub async fn aws_state(config: Config) -> Result<AppState, BoxError> {
    use std::sync::Arc;
    let key_id = var("LATCHKEY_KMS_KEY_ID").ok_or("LATCHKEY_KMS_KEY_ID is required")?;
    let secret_id = var("LATCHKEY_KEYS_SECRET_ID").ok_or("LATCHKEY_KEYS_SECRET_ID is required")?;
    let sdk = crate::aws::sdk_config().await;
    let secrets = crate::aws::secrets_client(&sdk);
    let started = std::time::Instant::now();
    let keys = crate::aws::environment_keys(&secrets, &secret_id).await?;
    // The one AWS call of a container's start; its round trip is most of the init phase.
    tracing::info!(
        secretsmanager_ms = started.elapsed().as_secs_f64() * 1000.0,
        "environment keys read"
    );
    let source = crate::aws::SecretsManagerKeys {
        client: secrets,
        secret_id,
    };
    let mut keys = crate::keys::Keys::new(Arc::new(source), keys, time::OffsetDateTime::now_utc());
    if let Some(secs) = var("LATCHKEY_KEYS_MAX_AGE_SECS") {
        keys = keys.with_max_age(time::Duration::seconds(secs.parse()?));
    }
    let store = aws_store(&sdk, &config)?;
    let sealer = crate::crypto::kms::KmsSealer::new(
        crate::aws::kms_client(&sdk),
        key_id,
        crate::crypto::kms::CacheLimits::default(),
    );
    let state = AppState::new(Arc::new(store), Arc::new(sealer), keys, config);
    let state = match aws_queue(&sdk) {
        Some(queue) => state.with_jobs(Arc::new(queue)),
        None => state,
    };
    Ok(match var("LATCHKEY_WEBSOCKET_ENDPOINT") {
        Some(endpoint) => state.with_sockets(Arc::new(crate::sockets::api_gateway::ApiGatewaySockets::new(
            &sdk, &endpoint,
        ))),
        None => state,
    })
}

/// The table `LATCHKEY_TABLE`, indexed with the configuration's refresh policy, its activity
/// kept for the configured retention (every function's store: `lambda::websocket`'s too).
#[cfg(feature = "aws")]
pub(crate) fn aws_store(
    sdk: &aws_config::SdkConfig,
    config: &Config,
) -> Result<crate::store::dynamo::DynamoStore, BoxError> {
    let table = var("LATCHKEY_TABLE").ok_or("LATCHKEY_TABLE is required")?;
    Ok(
        crate::store::dynamo::DynamoStore::new(crate::aws::dynamodb_client(sdk), table)
            .with_activity_retention(config.activity_retention)
            .with_refresh_policy(config.refresh.clone()),
    )
}

#[cfg(feature = "aws")]
fn aws_queue(sdk: &aws_config::SdkConfig) -> Option<crate::queue::sqs::SqsQueue> {
    var("LATCHKEY_QUEUE_URL").map(|url| crate::queue::sqs::SqsQueue::new(crate::aws::sqs_client(sdk), url))
}

/// What the refresh scheduler needs and nothing more: the table and the queue (no keys, no key
/// service: it opens no credential).
#[cfg(feature = "aws")]
pub async fn scheduler_seams_from_env() -> Result<crate::jobs::schedule::SchedulerSeams, BoxError> {
    use std::sync::Arc;
    let config = config_from_env()?;
    let sdk = crate::aws::sdk_config().await;
    let store = aws_store(&sdk, &config)?;
    let queue = aws_queue(&sdk).ok_or("LATCHKEY_QUEUE_URL is required")?;
    Ok(crate::jobs::schedule::SchedulerSeams {
        store: Arc::new(store),
        queue: Arc::new(queue),
        limits: config.refresh_limits,
    })
}
